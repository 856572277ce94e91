"""Role backup refuses bad input before it changes anything (run in --check against localhost)."""

from __future__ import annotations

import pytest

from tests.unit.roles.test_base_preflight import assert_refused_in_preflight

from .conftest import VALID

pytestmark = pytest.mark.slow


def _vars(**changes):
    return {**VALID, **changes}


@pytest.mark.parametrize(
    "repository",
    [
        "rest:https://dermai:secret-in-url@backup.example.test:8443/sentry/",
        "rest:http://127.0.0.1:21000/vm/",
        "sftp:restic@backup.example.test:/srv/restic/sentry",
        "s3:https://s3.example.test/dermai-backups/sentry",
    ],
)
def test_valid_input_passes_preflight(run_role, repository):
    extra = {}
    if repository.startswith("s3:"):
        extra = {"backup_s3_access_key_id": "AKIAEXAMPLE", "backup_s3_secret_access_key": "s3cr3t-key-value"}
    if repository.startswith("sftp:"):
        extra = {
            "backup_sftp_private_key": "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----",
            "backup_sftp_known_hosts": "backup.example.test ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA",
        }
    run = run_role("backup", _vars(backup_repository=repository, **extra), tags="backup_preflight")
    assert run.rc == 0, run.output[-3000:]
    assert run.failed_task is None


@pytest.mark.parametrize("repository", ["ftp://backup.example.test/x", "/srv/restic", "b2:bucket:path"])
def test_unsupported_repository_scheme_is_refused(run_role, repository):
    run = run_role("backup", _vars(backup_repository=repository))
    assert_refused_in_preflight(run, "backup_repository", "sftp", "rest", "s3")


def test_repository_credentials_are_not_echoed_when_refused(run_role):
    run = run_role("backup", _vars(backup_repository="rest:https://user:TOPSECRETURLPW@"))
    assert_refused_in_preflight(run, "backup_repository")
    assert "TOPSECRETURLPW" not in run.output


def test_plain_http_rest_to_a_remote_host_is_refused(run_role):
    run = run_role("backup", _vars(backup_repository="rest:http://backup.example.test:8000/sentry/"))
    assert_refused_in_preflight(run, "backup_repository", "https", "loopback")


@pytest.mark.parametrize("password", ["", "changeme", "Sh0rtPassw0rd"])
def test_missing_or_weak_password_is_refused_without_showing_it(run_role, password):
    run = run_role("backup", _vars(backup_password=password))
    assert_refused_in_preflight(run, "backup_password", "vault_backup_password")
    if password == "Sh0rtPassw0rd":  # the others appear in the assert's own expression
        assert password not in run.output


def test_s3_without_credentials_is_refused(run_role):
    run = run_role("backup", _vars(backup_repository="s3:https://s3.example.test/dermai-backups/sentry"))
    assert_refused_in_preflight(run, "backup_s3_access_key_id", "backup_s3_secret_access_key")


def test_sftp_without_key_or_host_key_is_refused(run_role):
    run = run_role("backup", _vars(backup_repository="sftp:restic@backup.example.test:/srv/restic"))
    assert_refused_in_preflight(run, "backup_sftp_private_key", "backup_sftp_known_hosts")


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("backup_keep_daily", -1, "backup_keep_daily"),
        ("backup_keep_weekly", "four", "backup_keep_weekly"),
        ("backup_keep_monthly", 1000, "backup_keep_monthly"),
        ("backup_interval_hours", 0, "backup_interval_hours"),
    ],
)
def test_bad_retention_numbers_are_refused(run_role, name, value, expected):
    run = run_role("backup", _vars(**{name: value}))
    assert_refused_in_preflight(run, expected)


def test_keeping_nothing_is_refused(run_role):
    run = run_role("backup", _vars(backup_keep_daily=0, backup_keep_weekly=0, backup_keep_monthly=0))
    assert_refused_in_preflight(run, "backup_keep_daily", "at least one")


def test_retention_much_longer_than_the_event_retention_is_refused(run_role):
    # 12 monthly snapshots keep events for ~372 days; Sentry deletes them after 30.
    run = run_role("backup", _vars(backup_keep_monthly=12))
    assert_refused_in_preflight(run, "372 days", "sentry_event_retention_days=30", "backup_retention_override")


def test_retention_cross_check_follows_the_event_retention(run_role):
    # 7 daily + 8 weekly = 56 days: too long for 14-day events, fine for 30-day events (2 x 30).
    refused = run_role("backup", _vars(backup_keep_weekly=8, sentry_event_retention_days=14))
    assert_refused_in_preflight(refused, "56 days", "sentry_event_retention_days=14")
    allowed = run_role("backup", _vars(backup_keep_weekly=8), tags="backup_preflight")
    assert allowed.rc == 0, allowed.output[-3000:]


def test_override_without_a_reason_is_still_refused(run_role):
    run = run_role("backup", _vars(backup_keep_monthly=12, backup_retention_override=True))
    assert_refused_in_preflight(run, "backup_retention_override_reason")


def test_override_with_a_reason_allows_a_longer_retention(run_role):
    run = run_role(
        "backup",
        _vars(
            backup_keep_monthly=12,
            backup_retention_override=True,
            backup_retention_override_reason="legal hold 2026-11 (ticket SEC-42)",
        ),
        tags="backup_preflight",
    )
    assert run.rc == 0, run.output[-3000:]


@pytest.mark.parametrize("subset", ["150%", "1/0"])
def test_bad_check_subset_is_refused(run_role, subset):
    run = run_role("backup", _vars(backup_check_read_data_subset=subset))
    assert_refused_in_preflight(run, "backup_check_read_data_subset")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("backup_restore_snapshot", "abc"),
        ("backup_run_reason", "pre upgrade; rm -rf /"),
        ("backup_restore_expect_release", "master"),
    ],
)
def test_malformed_reason_snapshot_or_release_is_refused(run_role, name, value):
    run = run_role("backup", _vars(**{name: value}))
    assert_refused_in_preflight(run, name)


def test_misspelt_variable_type_is_refused_by_the_argument_spec(run_role):
    run = run_role("backup", _vars(backup_volumes="sentry-data"))
    assert_refused_in_preflight(run, "backup_volumes")


def test_misspelt_variable_name_is_refused_naming_it_and_the_allowed_ones(run_role):
    run = run_role("backup", _vars(backup_keep_dayly=3))
    assert_refused_in_preflight(run, "backup_keep_dayly", "Allowed:", "backup_keep_daily")
