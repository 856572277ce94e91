"""Audit trail of the Sentry host (164.312(b)): Sentry's audit log exported off the host, host logs kept.

Runs against any inventory. The exporter check starts the export unit once and reads the
restic repository back with the unit's own configuration, so it proves the whole path: token,
Sentry API (the double on the local VM), high-water mark, destination.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import pytest

from tests.verify._roles_settings import role_setting

REPO = Path(__file__).resolve().parents[2]
UNIT = "sentry-audit-export"
CONFIG = "/etc/sentry-audit-export/config.json"
STATE_DIR = "/var/lib/sentry-audit-export"
SIX_YEARS_DAYS = 6 * 365

pytestmark = pytest.mark.hipaa("164.312(b)")


@pytest.fixture
def setting(inventory_var):
    """setting(host, role, name): the inventory's value for the host, else the role's default."""
    return functools.partial(role_setting, inventory_var)


def _config(host) -> dict:
    return json.loads(host.file(CONFIG).content_string)


def _restic(host, config: dict, *args: str):
    dest = config["destination"]
    env = f"RESTIC_REPOSITORY={dest['repository']} RESTIC_PASSWORD_FILE={dest['password_file']}"
    envfile = dest.get("environment_file")
    prefix = f"set -a; . {envfile}; set +a; " if envfile else ""
    return host.run(f"{prefix}{env} restic --no-cache {' '.join(args)}")


def _days(duration: str) -> float:
    units = {"y": 365, "m": 30, "d": 1, "h": 1 / 24}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([ymdh])", duration))


# ------------------------------------------------------------------ Sentry's audit log
@pytest.mark.parametrize(
    "path", [CONFIG, "/etc/sentry-audit-export/restic-password", "/etc/sentry-audit-export/restic.env"]
)
def test_exporter_secrets_are_readable_by_root_only(host, path):
    f = host.file(path)
    assert f.exists
    assert (f.user, f.group, f.mode) == ("root", "root", 0o600)


def test_export_token_file_is_readable_by_root_only(host):
    f = host.file(_config(host)["token_file"])
    assert f.exists, "the export token is missing (minted with the stack, or audit_log_token)"
    assert f.mode & 0o077 == 0 and f.user == "root"


def test_export_timer_is_enabled_and_scheduled(host, setting):
    timer = host.service(f"{UNIT}.timer")
    assert timer.is_enabled and timer.is_running
    unit = host.file(f"/etc/systemd/system/{UNIT}.timer").content_string
    assert f"OnCalendar={setting(host, 'audit_log', 'audit_log_schedule')}" in unit
    assert "Persistent=true" in unit


def test_exporter_destination_is_a_separate_repository_with_six_years_retention(host, setting):
    config = _config(host)
    dest = config["destination"]
    assert dest["type"] == "restic"
    assert dest["repository"] == setting(host, "audit_log", "audit_log_restic_repository")
    sentry_dir = setting(host, "sentry", "sentry_install_dir")
    assert not dest["repository"].startswith(sentry_dir), "the archive must not live inside the Sentry checkout"
    retention = dest["keep_within"]
    assert retention == setting(host, "audit_log", "audit_log_retention")
    assert retention == "" or _days(retention) >= SIX_YEARS_DAYS, f"keep_within {retention} is shorter than 6 years"


def test_export_run_ships_the_audit_log_and_records_the_high_water_mark(host):
    config = _config(host)
    run = host.run(f"systemctl start {UNIT}.service")
    status = host.run(f"systemctl show -p Result --value {UNIT}.service").stdout.strip()
    journal = host.run(f"journalctl -u {UNIT}.service -n 20 --no-pager -o cat").stdout
    assert run.rc == 0 and status == "success", journal
    for org in config["organizations"]:
        state = json.loads(host.file(f"{STATE_DIR}/{org}.state.json").content_string)
        assert not host.file(f"{STATE_DIR}/{org}.pending.jsonl").exists, "a batch is still waiting to ship"
        if not state["exported"]:
            assert state["batches"] == 0 and state["high_water_mark"] is None
            pytest.skip(f"Sentry's audit log of {org} is empty so far: nothing to ship yet")
        snapshots = _restic(host, config, "snapshots", "--json", "--tag", f"org:{org}")
        assert snapshots.rc == 0, snapshots.stderr
        stored = json.loads(snapshots.stdout or "[]")
        if state["exported"]:
            assert stored, f"{org}: {state['exported']} entries exported but no snapshot in the repository"
            assert state["high_water_mark"]
        assert len(stored) == state["batches"], "one snapshot per batch, none repeated"


def test_rerun_exports_no_entry_twice(host):
    config = _config(host)
    assert host.run(f"systemctl start {UNIT}.service").rc == 0
    for org in config["organizations"]:
        state = json.loads(host.file(f"{STATE_DIR}/{org}.state.json").content_string)
        if not state["exported"]:
            continue  # nothing exported: no repository to read yet
        snapshots = json.loads(_restic(host, config, "snapshots", "--json", "--tag", f"org:{org}").stdout or "[]")
        ids = []
        for snap in snapshots:
            name = next(t for t in snap["tags"] if t.startswith("batch:"))[len("batch:") :]
            dump = _restic(host, config, "dump", snap["short_id"], f"/{name}.jsonl")
            assert dump.rc == 0, dump.stderr
            ids += [json.loads(line)["id"] for line in dump.stdout.splitlines() if line.strip()]
        assert len(ids) == len(set(ids)) == state["exported"], f"{org}: {len(ids)} stored, {state['exported']} counted"


def test_export_unit_is_sandboxed(host):
    unit = host.file(f"/etc/systemd/system/{UNIT}.service").content_string
    for line in ("ProtectSystem=strict", "NoNewPrivileges=true", "PrivateTmp=true", "UMask=0077"):
        assert line in unit


# ------------------------------------------------------------------ host audit trail
def test_sudo_use_is_logged_in_the_journal(host):
    # this suite itself runs every command through sudo
    out = host.run("journalctl -q --no-pager -n 5 _COMM=sudo -o cat")
    assert out.rc == 0 and "COMMAND=" in out.stdout


def test_ssh_logins_are_logged_with_the_key_used(host):
    out = host.run("journalctl -q --no-pager -n 200 -o cat _COMM=sshd-session + _COMM=sshd")
    assert re.search(r"Accepted publickey for \S+ from \S+ port \d+ ssh2: \S+ SHA256:", out.stdout), out.stdout[-500:]


def test_journald_forwarding_is_configured_when_asked(host, setting):
    target = setting(host, "base", "base_journald_upload_url")
    if not target:
        pytest.skip("no remote journal receiver set (base_journald_upload_url): host logs stay local, short-lived")
    assert host.service("systemd-journal-upload").is_running
    assert f"URL={target}" in host.file("/etc/systemd/journal-upload.conf.d/60-dermai-base.conf").content_string
