"""Restore planner of the backup role: which snapshot, which release, what is overwritten.

A backup run of dermai-backup stores two or three restic snapshots that share the tag
``run=<id>``: ``part=db`` (the PostgreSQL dump), optionally ``part=export`` (sentry export), and
last ``part=files`` (the manifest, the configuration and the named volumes). A run is complete
when its files snapshot exists; the files snapshot is the one operators name.
"""

from __future__ import annotations

import re

DOCUMENTATION = r"""
name: backup_restore_plan
short_description: Choose the snapshot to restore and say what it overwrites
description:
  - Takes the output of C(restic snapshots --json) and the requested snapshot (latest or an id
    prefix) and returns the plan, or a plan whose C(error) says why nothing can be restored.
options:
  _input:
    description: restic snapshots (list of dicts).
    type: list
    required: true
  requested:
    description: latest, or 8 to 64 hex digits of a snapshot id.
    type: str
    default: latest
  host:
    description: Prefer snapshots of this restic host name (the inventory host name).
    type: str
  expect_release:
    description: When not empty, refuse a snapshot of another release.
    type: str
"""

EXAMPLES = r"""
plan: "{{ snapshots | backup_restore_plan('latest', inventory_hostname) }}"
"""

RETURN = r"""
_value:
  description: >-
    id, short_id, time, release, reason, run, hostname, db_id, volumes (names), files (paths),
    overwrites (human-readable list), error ('' when the plan is usable).
  type: dict
"""

_VOLUME_PATH = re.compile(r"^/var/lib/docker/volumes/([^/]+)/_data$")
MANIFEST_SUFFIX = "/manifest.json"


def _tag(snapshot: dict, key: str) -> str:
    for tag in snapshot.get("tags") or []:
        if tag.startswith(key + "="):
            return tag.split("=", 1)[1]
    return ""


def _fail(message: str) -> dict:
    return {"error": message}


def backup_restore_plan(snapshots, requested="latest", host=None, expect_release=""):
    snapshots = list(snapshots or [])
    files = [s for s in snapshots if _tag(s, "part") == "files"]
    if host and any(s.get("hostname") == host for s in files):
        files = [s for s in files if s.get("hostname") == host]
    if not files:
        return _fail("the repository of backup_repository holds no complete dermai-backup run (no part=files snapshot)")
    requested = str(requested or "latest").strip().lower()
    if requested == "latest":
        chosen = max(files, key=lambda s: s.get("time", ""))
    else:
        if not re.fullmatch(r"[0-9a-f]{8,64}", requested):
            return _fail(f"backup_restore_snapshot={requested}: use latest or 8 to 64 hex digits of a snapshot id")
        matches = [s for s in files if s.get("id", "").startswith(requested)]
        if not matches:
            others = [s for s in snapshots if s.get("id", "").startswith(requested)]
            if others:
                return _fail(
                    f"backup_restore_snapshot={requested} is a part={_tag(others[0], 'part') or '?'} snapshot: "
                    "name the part=files snapshot of the run (dermai-backup snapshots lists them)"
                )
            return _fail(f"backup_restore_snapshot={requested} matches no complete backup in backup_repository")
        if len(matches) > 1:
            return _fail(
                f"backup_restore_snapshot={requested} is ambiguous ({len(matches)} snapshots): give more digits"
            )
        chosen = matches[0]
    run = _tag(chosen, "run")
    dbs = [s for s in snapshots if _tag(s, "part") == "db" and _tag(s, "run") == run]
    if not dbs:
        return _fail(
            f"snapshot {chosen.get('short_id', chosen.get('id', '')[:8])} (run {run}) has no PostgreSQL dump snapshot"
        )
    release = _tag(chosen, "release")
    if not re.fullmatch(r"[0-9]{1,2}\.[0-9]{1,2}\.[0-9]+", release):
        return _fail(
            f"snapshot {chosen.get('id', '')[:8]} is tagged release={release or '(none)'}: no release to install"
        )
    if expect_release and release != expect_release:
        return _fail(
            f"snapshot {chosen.get('id', '')[:8]} was taken at release {release}, not {expect_release} "
            "(backup_restore_expect_release): restoring it would start that release on data of another"
        )
    volumes, paths = [], []
    for path in chosen.get("paths") or []:
        match = _VOLUME_PATH.match(path)
        if match:
            volumes.append(match.group(1))
        elif not path.endswith(MANIFEST_SUFFIX):
            paths.append(path)
    return {
        "error": "",
        "id": chosen["id"],
        "short_id": chosen.get("short_id", chosen["id"][:8]),
        "time": chosen.get("time", ""),
        "release": release,
        "reason": _tag(chosen, "reason"),
        "run": run,
        "hostname": chosen.get("hostname", ""),
        "db_id": dbs[0]["id"],
        "volumes": sorted(volumes),
        "files": sorted(paths),
        "overwrites": [f"docker volume {v} (emptied, then restored)" for v in sorted(volumes)]
        + [f"file/directory {p}" for p in sorted(paths)]
        + ["the PostgreSQL database (the dump drops and recreates every object)"],
    }


class FilterModule:
    def filters(self):
        return {"backup_restore_plan": backup_restore_plan}
