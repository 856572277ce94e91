#!/usr/bin/env python3
"""Export Sentry organization audit logs, incrementally, to storage outside the Sentry host.

    sentry-audit-export --config /etc/sentry-audit-export/config.json

For each organization of the configuration:
1. a batch left over by an earlier run (fetched, not yet confirmed shipped) is shipped first;
2. ``GET /api/0/organizations/{org}/audit-logs/`` is walked newest first along the ``Link``
   header's cursors down to the high-water mark (minus an overlap window, which catches entries
   committed late with an older timestamp); entries already exported are recognised by id;
3. the new entries, oldest first, are written as JSON lines to a pending batch (fsync, rename);
4. the batch is shipped to the destination (a restic repository of its own; the snapshot is
   tagged with the batch name, so shipping twice stores it once), retention applied there;
5. only then the high-water mark moves (state file written atomically) and the batch is removed.

A crash at any step repeats no entry and loses none: before step 3 nothing was recorded, after it
the pending batch is shipped by the next run before anything new is fetched, and a batch already
in the repository is recognised by its tag. An unreachable destination or Sentry fails the run
(exit 1, reason on stderr, systemd marks the unit failed) and leaves the high-water mark where it
was. Python standard library only; the token is read from a file and never printed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

USER_AGENT = "dermai-sentry-audit-export/1"
RETRY_STATUSES = {429, 500, 502, 503, 504}
LINK_RE = re.compile(
    r'<(?P<url>[^>]*)>;\s*rel="(?P<rel>[^"]+)";\s*results="(?P<results>true|false)";\s*cursor="(?P<cursor>[^"]*)"'
)
STATE_VERSION = 1


class ExportError(Exception):
    """A failure that ends the run for one organization (message safe to print)."""


# ---------------------------------------------------------------------------- helpers
def parse_time(stamp: str) -> dt.datetime:
    when = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def atomic_write(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write `data` to `path` so that a crash leaves either the old or the new file."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
        dirfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dirfd)
        finally:
            os.close(dirfd)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _safe_name(org: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", org):
        raise ExportError(f"organization slug {org!r} is not a Sentry slug")
    return org


# ---------------------------------------------------------------------------- Sentry
class Sentry:
    """GET with a bearer token, bounded retries on 429/5xx/network errors."""

    def __init__(self, url: str, token: str, timeout: float, retries: int, backoff: float):
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff

    def get(self, url: str) -> tuple[Any, str]:
        attempt = 0
        while True:
            attempt += 1
            headers = {"Authorization": f"Bearer {self.token}", "User-Agent": USER_AGENT}
            request = urllib.request.Request(url, headers=headers)  # noqa: S310 (http(s) only, load_config)
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 (http(s) only, load_config)
                    return json.load(response), response.headers.get("Link", "")
            except urllib.error.HTTPError as exc:
                status = exc.code
                if status in (401, 403):
                    raise ExportError(
                        f"Sentry answered {status} for {_strip_query(url)}: the export token must carry "
                        "the org:write scope (Sentry's audit-log permission) and belong to a member of the organization"
                    ) from None
                if status not in RETRY_STATUSES or attempt > self.retries:
                    raise ExportError(f"Sentry answered {status} for {_strip_query(url)}") from None
                wait = _retry_after(exc.headers.get("Retry-After"), self.backoff * attempt)
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
                if attempt > self.retries:
                    reason = getattr(exc, "reason", exc)
                    raise ExportError(f"Sentry unreachable at {self.url}: {reason}") from None
                wait = self.backoff * attempt
            time.sleep(wait)

    def audit_logs(self, org: str, per_page: int):
        """Yield pages (lists of rows) newest first, following the `next` cursor."""
        base = f"{self.url}/api/0/organizations/{org}/audit-logs/?per_page={per_page}"
        seen_cursors: set[str] = set()
        url: str | None = base
        while url:
            body, link = self.get(url)
            if not isinstance(body, dict) or not isinstance(body.get("rows"), list):
                raise ExportError(f"unexpected audit-logs answer for {org}: no 'rows' list")
            yield body["rows"]
            # Sentry's Link URLs carry its public url-prefix; the cursor is reused on the address
            # this exporter was given (loopback on the Sentry host).
            cursor = next_cursor(link)
            if cursor in seen_cursors:
                raise ExportError(f"the audit-logs cursor of {org} repeats itself ({cursor})")
            url = f"{base}&cursor={urllib.parse.quote(cursor)}" if cursor else None
            if cursor:
                seen_cursors.add(cursor)


def _strip_query(url: str) -> str:
    return url.split("?", 1)[0]


def _retry_after(value: str | None, default: float) -> float:
    try:
        return min(max(float(value), 0.0), 60.0) if value else default
    except ValueError:
        return default


def next_url(link: str) -> str | None:
    """The `next` URL of a Sentry Link header when it says results="true"."""
    for match in LINK_RE.finditer(link or ""):
        if match["rel"] == "next" and match["results"] == "true":
            return match["url"]
    return None


def next_cursor(link: str) -> str | None:
    """The `next` cursor of a Sentry Link header when it says results="true"."""
    for match in LINK_RE.finditer(link or ""):
        if match["rel"] == "next" and match["results"] == "true":
            return match["cursor"]
    return None


# ---------------------------------------------------------------------------- destinations
class Restic:
    """A restic repository of its own: one snapshot per batch, tagged, retention by `forget`."""

    def __init__(self, config: dict[str, Any], timeout: float):
        self.repository = config["repository"]
        self.password_file = config["password_file"]
        self.env_file = config.get("environment_file") or None
        self.keep_within = config.get("keep_within") or None
        self.prune = bool(config.get("prune", False))
        self.tag = config.get("tag", "sentry-audit-log")
        self.binary = config.get("binary", "restic")
        self.host = config.get("host") or socket.gethostname()
        self.timeout = timeout

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RESTIC_")}
        if self.env_file:
            for line in Path(self.env_file).read_text().splitlines():
                line = line.strip()
                if line and not line.startswith("#") and "=" in line:
                    key, _, value = line.partition("=")
                    env[key.strip()] = value.strip().strip("'\"")
        env["RESTIC_REPOSITORY"] = self.repository
        env["RESTIC_PASSWORD_FILE"] = self.password_file
        return env

    def _run(self, args: list[str], data: bytes | None = None) -> subprocess.CompletedProcess:
        try:
            return subprocess.run(  # noqa: S603 (an argv list from the root-owned configuration, no shell)
                [self.binary, "--no-cache", *args],
                input=data,
                capture_output=True,
                env=self._env(),
                timeout=self.timeout,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ExportError(f"restic ({self.repository}) did not run: {exc}") from None

    def _fail(self, what: str, result: subprocess.CompletedProcess) -> ExportError:
        detail = result.stderr.decode(errors="replace").strip().splitlines()[-3:]
        return ExportError(f"restic {what} failed ({self.repository}, exit {result.returncode}): {' | '.join(detail)}")

    def has_batch(self, org: str, batch: str) -> bool:
        """Whether the batch is stored already; creates the repository when it does not exist yet."""
        args = ["snapshots", "--json", "--tag", f"batch:{org}/{batch}"]
        result = self._run(args)
        if result.returncode != 0:
            text = result.stderr.decode(errors="replace")
            # Only a repository that is not there yet is created; a server that does not answer is a failure.
            if not any(sign in text for sign in ("no such file or directory", "does not exist", "404 Not Found")):
                raise self._fail("snapshots", result)
            init = self._run(["init"])
            if init.returncode != 0:
                raise self._fail("init", init)
            result = self._run(args)
            if result.returncode != 0:
                raise self._fail("snapshots", result)
        return bool(json.loads(result.stdout or b"[]"))

    def put(self, org: str, batch: str, data: bytes) -> None:
        if self.has_batch(org, batch):
            return  # shipped by an earlier run that stopped before recording it
        args = ["backup", "--stdin", "--stdin-filename", f"{org}/{batch}.jsonl", "--host", self.host]
        for tag in (self.tag, f"org:{org}", f"batch:{org}/{batch}"):
            args += ["--tag", tag]
        result = self._run(args, data)
        if result.returncode != 0:
            raise self._fail("backup", result)
        if self.keep_within:
            forget = ["forget", "--tag", self.tag, "--group-by", "host", "--keep-within", self.keep_within]
            result = self._run([*forget, "--prune"] if self.prune else forget)
            if result.returncode != 0:
                # The batch is stored; retention is retried with the next batch (an append-only
                # server refuses deletions: set keep_within empty there and prune on the server).
                print(f"sentry-audit-export: warning: {self._fail('forget', result)}", file=sys.stderr)


def destination(config: dict[str, Any], timeout: float):
    kind = config.get("type")
    if kind == "restic":
        return Restic(config, timeout)
    raise ExportError(f"destination type {kind!r} is not supported (allowed: restic)")


# ---------------------------------------------------------------------------- state
class OrgState:
    """High-water mark of one organization: the newest exported datetime and the ids near it."""

    def __init__(self, state_dir: Path, org: str):
        self.path = state_dir / f"{org}.state.json"
        self.pending_path = state_dir / f"{org}.pending.jsonl"
        self.pending_meta = state_dir / f"{org}.pending.json"
        data = json.loads(self.path.read_text()) if self.path.exists() else {}
        self.hwm: str | None = data.get("high_water_mark")
        self.recent: dict[str, str] = dict(data.get("recent_ids", {}))
        self.batches: int = int(data.get("batches", 0))
        self.exported: int = int(data.get("exported", 0))

    def save(self, overlap: float) -> None:
        if self.hwm:
            floor = parse_time(self.hwm) - dt.timedelta(seconds=overlap)
            self.recent = {i: t for i, t in self.recent.items() if parse_time(t) >= floor}
        payload = {
            "version": STATE_VERSION,
            "high_water_mark": self.hwm,
            "recent_ids": self.recent,
            "batches": self.batches,
            "exported": self.exported,
            "updated": dt.datetime.now(dt.UTC).isoformat(),
        }
        atomic_write(self.path, json.dumps(payload, indent=1, sort_keys=True).encode())


def fetch_new(sentry: Sentry, org: str, state: OrgState, per_page: int, overlap: float) -> list[dict[str, Any]]:
    """Entries newer than the high-water mark (minus the overlap), not exported yet, oldest first."""
    floor = parse_time(state.hwm) - dt.timedelta(seconds=overlap) if state.hwm else None
    new: dict[str, dict[str, Any]] = {}
    for rows in sentry.audit_logs(org, per_page):
        reached_floor = False
        for row in rows:
            when = parse_time(row["dateCreated"])
            if floor is not None and when < floor:
                reached_floor = True
                break
            entry_id = str(row["id"])
            if entry_id not in state.recent:
                new[entry_id] = row
        if reached_floor:
            break
    return sorted(new.values(), key=lambda r: (parse_time(r["dateCreated"]), int(r["id"])))


def ship_pending(dest, org: str, state: OrgState, overlap: float) -> int:
    """Ship the pending batch (if any), then move the high-water mark past it."""
    if not state.pending_path.exists():
        return 0
    if not state.pending_meta.exists():
        state.pending_path.unlink()  # crashed before naming it: never shipped, fetched again
        return 0
    meta = json.loads(state.pending_meta.read_text())
    if int(meta["sequence"]) <= state.batches:
        # Recorded already (the run stopped before removing the batch).
        state.pending_path.unlink()
        state.pending_meta.unlink()
        return 0
    data = state.pending_path.read_bytes()
    rows = [json.loads(line) for line in data.splitlines() if line.strip()]
    dest.put(org, meta["batch"], data)
    for row in rows:
        state.recent[str(row["id"])] = row["dateCreated"]
        if state.hwm is None or parse_time(row["dateCreated"]) > parse_time(state.hwm):
            state.hwm = row["dateCreated"]
    state.batches = max(state.batches, int(meta["sequence"]))
    state.exported += len(rows)
    state.save(overlap)
    state.pending_path.unlink()
    state.pending_meta.unlink()
    return len(rows)


def export_org(sentry: Sentry, dest, org: str, config: dict[str, Any]) -> int:
    state_dir = Path(config["state_dir"])
    overlap = float(config.get("overlap_seconds", 900))
    state = OrgState(state_dir, _safe_name(org))
    shipped = ship_pending(dest, org, state, overlap)
    rows = fetch_new(sentry, org, state, int(config.get("per_page", 100)), overlap)
    if not rows:
        if state.hwm is None or not state.path.exists():
            state.save(overlap)
        return shipped
    sequence = state.batches + 1
    batch = f"{sequence:08d}-{rows[0]['id']}-{rows[-1]['id']}"
    lines = b"".join(json.dumps(row, sort_keys=True, separators=(",", ":")).encode() + b"\n" for row in rows)
    # The batch first, then its name: a pending file without its name is never shipped.
    atomic_write(state.pending_path, lines)
    atomic_write(state.pending_meta, json.dumps({"batch": batch, "sequence": sequence}).encode())
    return shipped + ship_pending(dest, org, state, overlap)


def load_config(path: str) -> dict[str, Any]:
    try:
        config = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ExportError(f"cannot read the configuration {path}: {exc}") from None
    missing = [k for k in ("sentry_url", "organizations", "token_file", "state_dir", "destination") if k not in config]
    if missing:
        raise ExportError(f"configuration {path} lacks {', '.join(missing)}")
    if not re.match(r"^https?://", str(config["sentry_url"])):
        raise ExportError(f"sentry_url must be an http(s) URL, got {config['sentry_url']!r}")
    return config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Export Sentry audit logs to a separate restic repository.")
    parser.add_argument("--config", default="/etc/sentry-audit-export/config.json")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
        token = Path(config["token_file"]).read_text().strip()
        if not token:
            raise ExportError(f"the token file {config['token_file']} is empty")
    except (ExportError, OSError) as exc:
        print(f"sentry-audit-export: {exc}", file=sys.stderr)
        return 2
    timeout = float(config.get("timeout", 30))
    sentry = Sentry(
        config["sentry_url"], token, timeout, int(config.get("retries", 3)), float(config.get("backoff", 2))
    )
    failed = 0
    for org in config["organizations"]:
        try:
            dest = destination(config["destination"], float(config.get("destination_timeout", 600)))
            count = export_org(sentry, dest, org, config)
            print(f"sentry-audit-export: {org}: {count} new entries exported")
        except ExportError as exc:
            failed += 1
            print(
                f"sentry-audit-export: {org}: {exc} (high-water mark unchanged; the next run retries)", file=sys.stderr
            )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
