"""Retention proven on the host: what each store keeps, as the running configuration says.

- Events: SENTRY_EVENT_RETENTION_DAYS as `docker compose config` resolves it for the
  sentry-cleanup cron and the snuba services; Kafka retention/roll/segment settings there too.
- SeaweedFS: the nodestore bucket's lifecycle rule (running stack only).
- Host logs: journald MaxRetentionSec as systemd reads it; the proxy access log's logrotate policy.
- Audit archive: the exporter's keep-within (6 years); backups: the backup role's forget policy.

Checks that need the image-based stack skip, with the reason, where it does not run (the local
VM serves the Sentry API double and its checkout is a fixture without the stack's services).
"""

from __future__ import annotations

import fnmatch
import functools
import json
import re
from pathlib import Path

import pytest
import yaml

from tests.verify._roles_settings import role_setting

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def setting(inventory_var):
    """setting(host, role, name): the inventory's value for the host, else the role's default."""
    return functools.partial(role_setting, inventory_var)


@pytest.fixture
def compose(host, setting):
    """`docker compose config` of the Sentry checkout as JSON, or a skip saying why it cannot be read."""
    install_dir = setting(host, "sentry", "sentry_install_dir")
    double = host.run("systemctl is-active sentry-double").stdout.strip() == "active"
    virt = host.run("systemd-detect-virt --container").stdout.strip()
    where = f"this host ({'container ' + virt if virt not in ('', 'none') else 'VM'}"
    where += ", the Sentry API double serves instead of the stack)" if double else ")"
    if host.run("docker compose version").rc != 0:
        pytest.skip(f"needs the image-based stack: Docker Compose v2 is not installed on {where}")
    cmd = f"cd {install_dir} && docker compose --env-file .env --env-file .env.custom config --format json"
    out = host.run(cmd)
    if out.rc != 0:
        pytest.skip(f"needs the image-based stack: `docker compose config` fails on {where}: {out.stderr[-200:]}")
    config = json.loads(out.stdout)
    if "sentry-cleanup" not in config.get("services", {}):
        pytest.skip(f"needs the image-based stack: the checkout on {where} has no sentry-cleanup service (fixture)")
    return config


# ------------------------------------------------------------------ events (running compose config)
@pytest.mark.hipaa("164.308(a)(7)", "164.312(c)(1)")
def test_cleanup_cron_deletes_events_after_the_retention_days(compose, host, setting):
    days = int(setting(host, "sentry", "sentry_event_retention_days"))
    service = compose["services"]["sentry-cleanup"]
    command = " ".join(service["command"]) if isinstance(service["command"], list) else service["command"]
    assert re.search(rf"sentry cleanup --days {days}\b", command), command
    assert str(service.get("environment", {}).get("SENTRY_EVENT_RETENTION_DAYS")) == str(days)


@pytest.mark.hipaa("164.308(a)(7)")
def test_snuba_services_see_the_same_retention_days(compose, host, setting):
    days = str(setting(host, "sentry", "sentry_event_retention_days"))
    snuba = {n: s for n, s in compose["services"].items() if n.startswith("snuba")}
    assert snuba, "no snuba service in the compose configuration"
    wrong = {n: s.get("environment", {}).get("SENTRY_EVENT_RETENTION_DAYS") for n, s in snuba.items()}
    assert {n: v for n, v in wrong.items() if str(v) != days} == {}


@pytest.mark.hipaa("164.308(a)(7)")
def test_kafka_retention_roll_and_segment_settings_are_in_the_running_config(compose, host, setting):
    env = compose["services"]["kafka"]["environment"]
    assert env["KAFKA_LOG_RETENTION_HOURS"] == str(setting(host, "sentry", "sentry_kafka_log_retention_hours"))
    assert env["KAFKA_LOG_ROLL_HOURS"] == str(setting(host, "sentry", "sentry_kafka_log_roll_hours"))
    assert env["KAFKA_LOG_SEGMENT_BYTES"] == str(setting(host, "sentry", "sentry_kafka_log_segment_bytes"))


@pytest.mark.hipaa("164.308(a)(7)")
def test_kafka_settings_in_the_override_match_the_inventory(host, setting):
    """Without the stack: the file compose merges carries the same values (the local VM checks this)."""
    install_dir = setting(host, "sentry", "sentry_install_dir")
    override = yaml.safe_load(host.file(f"{install_dir}/docker-compose.override.yml").content_string)
    env = override["services"]["kafka"]["environment"]
    assert int(env["KAFKA_LOG_RETENTION_HOURS"]) == int(setting(host, "sentry", "sentry_kafka_log_retention_hours"))
    assert int(env["KAFKA_LOG_ROLL_HOURS"]) <= int(env["KAFKA_LOG_RETENTION_HOURS"]), (
        "segments must roll within the retention"
    )
    assert int(env["KAFKA_LOG_SEGMENT_BYTES"]) == int(setting(host, "sentry", "sentry_kafka_log_segment_bytes"))


@pytest.mark.hipaa("164.308(a)(7)")
def test_seaweedfs_nodestore_lifecycle_expires_after_the_retention_days(compose, host, setting):
    days = int(setting(host, "sentry", "sentry_event_retention_days"))
    install_dir = setting(host, "sentry", "sentry_install_dir")
    if "seaweedfs" not in compose["services"]:
        pytest.skip("this release stores the nodestore without SeaweedFS")
    s3 = (
        "s3cmd --access_key=sentry --secret_key=sentry --no-ssl --region=us-east-1 --host=localhost:8333 "
        "--host-bucket='localhost:8333/%(bucket)' getlifecycle s3://nodestore"
    )
    out = host.run(f"cd {install_dir} && docker compose --env-file .env --env-file .env.custom exec -T seaweedfs {s3}")
    if out.rc != 0 and "is not running" in out.stderr:
        pytest.skip("the seaweedfs service is not running")
    assert out.rc == 0, out.stderr
    assert f"<Days>{days}</Days>" in out.stdout.replace(" ", "")


# ------------------------------------------------------------------ host logs
@pytest.mark.hipaa("164.312(b)", "164.308(a)(7)")
def test_journald_retention_is_the_stated_one_as_systemd_reads_it(host, setting):
    stated = setting(host, "base", "base_journald_max_retention_sec")
    merged = host.run("systemd-analyze cat-config systemd/journald.conf").stdout
    values = re.findall(r"^MaxRetentionSec=(\S+)$", merged, re.M)
    assert values and values[-1] == stated, f"effective MaxRetentionSec {values[-1:] or 'unset'} != {stated}"
    storage = re.findall(r"^Storage=(\S+)$", merged, re.M)
    assert storage and storage[-1] == "persistent"


def _logrotate_policy(text: str, path: str) -> dict | None:
    """The logrotate block that covers `path` (glob patterns allowed): its directives."""
    for match in re.finditer(r"^([^\s#{][^{\n]*)\{(.*?)^\}", text, re.M | re.S):
        patterns = match.group(1).split()
        if any(fnmatch.fnmatch(path, p) for p in patterns):
            body = match.group(2)
            return {
                "period": next(
                    (w for w in ("daily", "weekly", "monthly", "yearly") if re.search(rf"^\s*{w}\s*$", body, re.M)),
                    "weekly",
                ),
                "rotate": int((re.search(r"^\s*rotate\s+(\d+)", body, re.M) or [None, "0"])[1]),
                "maxage": (re.search(r"^\s*maxage\s+(\d+)", body, re.M) or [None, None])[1],
            }
    return None


@pytest.mark.hipaa("164.312(b)", "164.308(a)(7)")
def test_proxy_access_log_has_a_stated_rotation_and_retention(host, setting):
    path = setting(host, "tls_proxy", "tls_proxy_access_log")
    confs = host.run("cat /etc/logrotate.conf /etc/logrotate.d/* 2>/dev/null").stdout
    policy = _logrotate_policy(confs, path)
    assert policy, f"no logrotate policy covers {path}: the access log would grow and be kept forever"
    days = {"daily": 1, "weekly": 7, "monthly": 30, "yearly": 365}[policy["period"]] * policy["rotate"]
    assert 1 <= days <= 400, f"{path}: kept {days} days ({policy})"
    assert host.run(f"logrotate --debug /etc/logrotate.conf 2>&1 | grep -F -- '{path}'").rc == 0


# ------------------------------------------------------------------ archives
@pytest.mark.hipaa("164.312(b)", "164.308(a)(7)")
def test_audit_archive_keeps_batches_six_years(host):
    config = json.loads(host.file("/etc/sentry-audit-export/config.json").content_string)
    keep = config["destination"]["keep_within"]
    units = {"y": 365, "m": 30, "d": 1, "h": 1 / 24}
    days = sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([ymdh])", keep))
    assert keep == "" or days >= 6 * 365, f"keep_within {keep}"


@pytest.mark.hipaa("164.308(a)(7)")
def test_backup_retention_is_the_stated_one_and_bounded_by_the_event_retention(host, setting):
    """Backups hold events too: restic keeps them no longer than about the event retention (roles/backup)."""
    if not (REPO / "roles" / "backup").is_dir():
        pytest.skip("no backup role in this bundle (roles/backup): backup retention cannot be checked")
    try:
        script = setting(host, "backup", "backup_script")
    except KeyError:
        pytest.skip("roles/backup declares no backup_script: where its keep policy lives is unknown")
    if not host.file(script).exists:
        pytest.skip(f"the backup role is not applied on this host ({script} is absent)")
    text = host.file(script).content_string
    match = re.search(r"--keep-daily (\d+) --keep-weekly (\d+) --keep-monthly (\d+)", text)
    assert match, f"{script} states no keep policy"
    daily, weekly, monthly = (int(v) for v in match.groups())
    assert (daily, weekly, monthly) == tuple(
        int(setting(host, "backup", f"backup_keep_{k}")) for k in ("daily", "weekly", "monthly")
    )
    kept_days = max(daily, 7 * weekly, 30 * monthly)
    events = int(setting(host, "sentry", "sentry_event_retention_days"))
    factor = float(setting(host, "backup", "backup_retention_max_factor"))
    if not setting(host, "backup", "backup_retention_override"):
        assert kept_days <= factor * events, f"backups kept {kept_days} d > {factor} x {events} d of events"
