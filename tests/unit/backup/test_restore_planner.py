"""The restore planner: which snapshot, which release, what the restore overwrites."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_SPEC = importlib.util.spec_from_file_location(
    "backup_plan", Path(__file__).resolve().parents[3] / "roles" / "backup" / "filter_plugins" / "backup_plan.py"
)
backup_plan = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(backup_plan)
plan = backup_plan.backup_restore_plan

VOL = "/var/lib/docker/volumes/{}/_data"


def snap(sid: str, time: str, run: str, part: str, release: str = "26.8.0", host: str = "dermai-vm", paths=None):
    return {
        "id": sid * 8,
        "short_id": sid,
        "time": time,
        "hostname": host,
        "tags": [f"release={release}", "reason=scheduled", f"run={run}", f"part={part}"],
        "paths": paths or ["/postgres.sql"],
    }


FILES_PATHS = [
    "/var/lib/dermai-backup/manifest.json",
    "/opt/sentry/.env.custom",
    "/etc/sentry-bundle",
    VOL.format("sentry-data"),
    VOL.format("sentry-clickhouse"),
]


def complete_run(sid_db, sid_files, time, run, **kw):
    return [snap(sid_db, time, run, "db", **kw), snap(sid_files, time, run, "files", paths=FILES_PATHS, **kw)]


SNAPSHOTS = (
    complete_run("aaaa0001", "aaaa0002", "2026-11-29T02:30:00Z", "r1", release="26.7.0")
    + complete_run("bbbb0001", "bbbb0002", "2026-11-30T02:30:00Z", "r2")
    # A failed run: its dump was stored, its files snapshot never was.
    + [snap("cccc0001", "2026-12-01T02:30:00Z", "r3", "db")]
)


def test_latest_is_the_newest_complete_run_not_a_failed_one():
    result = plan(SNAPSHOTS, "latest", "dermai-vm")
    assert result["error"] == ""
    assert result["short_id"] == "bbbb0002"
    assert result["db_id"] == "bbbb0001" * 8
    assert result["release"] == "26.8.0"


def test_a_named_snapshot_gives_its_own_release_to_install():
    result = plan(SNAPSHOTS, "aaaa0002", "dermai-vm")
    assert result["error"] == ""
    assert result["release"] == "26.7.0"
    assert result["db_id"].startswith("aaaa0001")


def test_the_plan_lists_volumes_files_and_the_database_it_overwrites():
    result = plan(SNAPSHOTS, "latest", "dermai-vm")
    assert result["volumes"] == ["sentry-clickhouse", "sentry-data"]
    assert result["files"] == ["/etc/sentry-bundle", "/opt/sentry/.env.custom"]
    assert "/var/lib/dermai-backup/manifest.json" not in result["files"]
    text = " ".join(result["overwrites"])
    assert "docker volume sentry-data" in text and "/opt/sentry/.env.custom" in text and "PostgreSQL" in text


def test_a_database_snapshot_id_is_refused_with_the_right_one_to_name():
    result = plan(SNAPSHOTS, "bbbb0001", "dermai-vm")
    assert "part=db" in result["error"] and "part=files" in result["error"]


def test_an_unknown_or_ambiguous_id_is_refused_naming_the_variable():
    assert "backup_restore_snapshot=deadbeef" in plan(SNAPSHOTS, "deadbeef", "dermai-vm")["error"]
    assert (
        "ambiguous"
        in plan(SNAPSHOTS + complete_run("dddd0001", "aaaa0002", "2026-11-28T00:00:00Z", "r0"), "aaaa0002")["error"]
    )


def test_a_run_without_its_dump_cannot_be_restored():
    orphan_files = [snap("eeee0002", "2026-12-02T00:00:00Z", "r9", "files", paths=FILES_PATHS)]
    assert "no PostgreSQL dump" in plan(orphan_files, "latest", "dermai-vm")["error"]


def test_an_empty_repository_is_refused():
    assert "no complete dermai-backup run" in plan([], "latest", "dermai-vm")["error"]
    assert "no complete dermai-backup run" in plan(SNAPSHOTS[-1:], "latest")["error"]


def test_the_expected_release_guards_a_rollback():
    assert plan(SNAPSHOTS, "aaaa0002", "dermai-vm", "26.7.0")["error"] == ""
    error = plan(SNAPSHOTS, "latest", "dermai-vm", "26.7.0")["error"]
    assert "26.8.0" in error and "backup_restore_expect_release" in error


def test_snapshots_of_this_host_win_but_a_new_host_name_still_finds_them():
    other = complete_run("ffff0001", "ffff0002", "2026-12-03T00:00:00Z", "r5", host="old-host")
    assert plan(SNAPSHOTS + other, "latest", "dermai-vm")["short_id"] == "bbbb0002"
    assert plan(SNAPSHOTS + other, "latest", "brand-new-host")["short_id"] == "ffff0002"


@pytest.mark.parametrize("release", ["", "nightly", "latest"])
def test_a_snapshot_without_a_release_tag_is_refused(release):
    run = complete_run("abab0001", "abab0002", "2026-12-05T00:00:00Z", "rx", release=release)
    assert "no release to install" in plan(run, "latest")["error"]
