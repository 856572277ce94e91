"""Backups of the Sentry host (role backup): secrets root-only, timers on, and the last backup
and the last restic check good enough (`make verify` fails when the last good backup is older
than twice the backup interval, or when the last check failed).

Runs against any inventory whose host has the backup role applied (its timer installed, or
backup_enabled true in the inventory); skipped on a host without it.
"""

from __future__ import annotations

import json
import time

import pytest

CONFIG_DIR = "/etc/dermai-backup"
STATE_DIR = "/var/lib/dermai-backup"


@pytest.fixture
def backup_host(host, inventory_var):
    try:
        enabled = bool(inventory_var(host, "backup_enabled"))
    except Exception:
        enabled = False
    installed = host.file("/etc/systemd/system/dermai-backup.timer").exists
    if not (enabled or installed):
        pytest.skip("the backup role is not enabled on this host (backup_enabled false, no timer)")
    return host


def _json(host, path: str) -> dict:
    with host.sudo():
        assert host.file(path).exists, f"{path} is missing"
        return json.loads(host.file(path).content_string)


def test_backup_secret_files_are_root_only(backup_host):
    with backup_host.sudo():
        directory = backup_host.file(CONFIG_DIR)
        assert directory.is_directory and directory.user == "root" and directory.mode == 0o700
        for name in ("password", "repository"):
            secret = backup_host.file(f"{CONFIG_DIR}/{name}")
            assert secret.user == "root" and secret.group == "root", name
            assert secret.mode & 0o077 == 0, f"{name} is readable by others (mode {oct(secret.mode)})"


def test_backup_and_check_timers_are_enabled(backup_host):
    for timer in ("dermai-backup.timer", "dermai-backup-check.timer"):
        unit = backup_host.service(timer)
        assert unit.is_enabled, timer
        assert unit.is_running, timer


def test_last_good_backup_is_younger_than_twice_the_interval(backup_host):
    monitor = _json(backup_host, f"{STATE_DIR}/monitor.json")
    last = _json(backup_host, f"{STATE_DIR}/last-success.json")
    max_age = int(monitor["max_age_hours"]) * 3600
    age = time.time() - int(last["epoch"])
    assert age < max_age, (
        f"the last good backup (snapshot {last.get('short_id')}, {last.get('time')}) is {age / 3600:.1f} h old, "
        f"more than twice the interval ({max_age // 3600} h): see journalctl -u dermai-backup.service"
    )
    assert last.get("release"), "the last snapshot records no release"


def test_last_restic_check_did_not_fail(backup_host):
    with backup_host.sudo():
        if not backup_host.file(f"{STATE_DIR}/last-check.json").exists:
            pytest.skip("no restic check has run yet (weekly timer)")
    check = _json(backup_host, f"{STATE_DIR}/last-check.json")
    assert check["ok"] is True, f"the last restic check ({check.get('time')}) failed: {check.get('message')}"


def test_backup_state_is_not_world_readable(backup_host):
    with backup_host.sudo():
        found = backup_host.check_output(f"find {CONFIG_DIR} {STATE_DIR} -perm /o=rwx")
    assert found == "", f"readable by others: {found}"
