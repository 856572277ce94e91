"""Install only on change, restarts for config-only changes, upgrades through the hard stops,
restore after a failed step, adoption of an unmarked install, check mode and token rotation
(real ansible-playbook runs)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from tests.unit.sentry_role.conftest import ROOT, Env

pytestmark = pytest.mark.slow


def _install_versions(env: Env) -> list[str]:
    log = env.install_dir / "sentry_install_log-fixture.txt"
    return [line.split("=", 1)[1] for line in log.read_text().splitlines() if line.startswith("version=")]


def _checked_out(env: Env) -> str:
    return (env.install_dir / "VERSION").read_text().strip()


def _compose_calls(env: Env) -> list[str]:
    return (env.install_dir / ".fake-compose.log").read_text().splitlines()


@pytest.fixture(scope="module")
def at_25_5_1(tmp_path_factory, request):
    """A tree installed at 25.5.1 (copied per test, so each test starts from the same state)."""
    from tests.fixtures.self_hosted.build_repo import build

    tmp = tmp_path_factory.mktemp("at_25_5_1")
    env = Env(tmp=tmp, repo=build(tmp / "fixture.git"), install_dir=tmp / "opt" / "sentry")
    run = env.run({"sentry_version": "25.5.1"})
    assert run.rc == 0, run.failure_messages()
    return env


@pytest.fixture
def installed(at_25_5_1, tmp_path) -> Env:
    copy = tmp_path / "copy"
    shutil.copytree(at_25_5_1.tmp, copy, symlinks=True)
    # The copy's checkout still points at the original fixture repository (its origin URL).
    env = Env(tmp=copy, repo=at_25_5_1.repo, install_dir=copy / "opt" / "sentry")
    return env


def _install_log(env: Env, key: str) -> list[str]:
    log = env.install_dir / "sentry_install_log-fixture.txt"
    return [line.split("=", 1)[1] for line in log.read_text().splitlines() if line.startswith(key + "=")]


def _backup_log(env: Env) -> list[str]:
    path = env.install_dir.parent / "backup-role.log"
    return path.read_text().splitlines() if path.exists() else []


def test_config_only_change_restarts_the_services_that_read_it_without_install(installed):
    run = installed.run({"sentry_version": "25.5.1", "sentry_session_cookie_age": 3600})
    assert run.rc == 0, run.failure_messages()
    assert run.status("Install the release") == "skipped"
    assert _install_versions(installed) == ["25.5.1"]
    assert "--env-file .env --env-file .env.custom restart taskworker web" in _compose_calls(installed)


def test_env_only_change_recreates_containers_without_install(installed):
    run = installed.run({"sentry_version": "25.5.1", "sentry_bind": "127.0.0.1:9001"})
    assert run.rc == 0, run.failure_messages()
    assert _install_versions(installed) == ["25.5.1"]
    assert run.status("Recreate changed Sentry containers") == "changed"


def test_retention_change_runs_install_again(installed):
    run = installed.run({"sentry_version": "25.5.1", "sentry_event_retention_days": 45})
    assert run.rc == 0, run.failure_messages()
    assert _install_versions(installed) == ["25.5.1", "25.5.1"]
    # install.sh restarted everything: the env handler does not recreate containers again.
    assert run.status("Recreate changed Sentry containers") == "skipped"


def test_env_extra_change_runs_install_again(installed):
    run = installed.run({"sentry_version": "25.5.1", "sentry_env_extra": {"HEALTHCHECK_RETRIES": 60}})
    assert run.rc == 0, run.failure_messages()
    assert _install_versions(installed) == ["25.5.1", "25.5.1"]


def test_upgrade_walks_each_hard_stop_with_that_release_s_flags_and_backups(installed):
    run = installed.run({"sentry_version": "26.8.0"})
    assert run.rc == 0, run.failure_messages()
    assert _install_versions(installed) == ["25.5.1", "26.5.0", "26.5.1", "26.8.0"]
    # Each step ran install.sh with exactly the plan's argv (deploy/bin/upgrade-plan prints it).
    plan = subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "bin" / "upgrade-plan"), "--from", "25.5.1", "--to", "26.8.0", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    steps = json.loads(plan.stdout)
    assert _install_log(installed, "args")[1:] == [" ".join(step["install_args"]) for step in steps]
    assert _checked_out(installed) == "26.8.0"
    assert json.loads((installed.tmp / "state" / "install-marker.json").read_text())["version"] == "26.8.0"
    # A backup through the backup role before every step, each of the release then installed.
    runs = [line for line in _backup_log(installed) if line.startswith("run ")]
    assert [line.split()[1:3] for line in runs] == [
        ["reason=pre-upgrade-25.5.1-to-26.5.0", "release=25.5.1"],
        ["reason=pre-upgrade-26.5.0-to-26.5.1", "release=26.5.0"],
        ["reason=pre-upgrade-26.5.1-to-26.8.0", "release=26.5.1"],
    ]
    # The free-form hook still runs as an extension.
    assert (installed.tmp / "backup.log").read_text().splitlines() == ["backup"] * 3
    # Crossing 26.7.0 leaves the alerts re-save for the API step (fact and marker file).
    marker = (installed.tmp / "state" / "alerts-resave-pending").read_text()
    assert "across 26.7.0" in marker
    facts = run.task("Set the alerts re-save facts")[-1]["result"]["ansible_facts"]
    assert facts["sentry_alerts_resave_pending"] is True


def test_upgrade_without_any_backup_is_refused(installed):
    run = installed.run(
        {"sentry_version": "26.5.0", "sentry_pre_upgrade_backup_command": "", "sentry_upgrade_backup_role": ""}
    )
    assert run.rc != 0
    assert "needs a backup first: set sentry_upgrade_backup_role" in " ".join(run.failure_messages())
    assert _checked_out(installed) == "25.5.1"


def test_jump_over_a_hard_stop_is_refused_when_walking_is_off(installed):
    run = installed.run({"sentry_version": "26.8.0", "sentry_upgrade_walk_hard_stops": False})
    assert run.rc != 0
    assert "skips the hard stops 26.5.0, 26.5.1" in " ".join(run.failure_messages())
    assert _install_versions(installed) == ["25.5.1"]


def test_downgrade_is_refused_before_any_change(installed):
    marker = installed.tmp / "state" / "install-marker.json"
    marker.write_text(json.dumps({"version": "26.8.0", "inputs_sha256": "x"}))
    run = installed.run({"sentry_version": "25.5.1"})
    assert run.rc != 0
    assert "refusing to downgrade from 26.8.0 to 25.5.1" in " ".join(run.failure_messages())


def test_installed_release_below_the_oldest_supported_is_refused_with_the_way_by_hand(installed):
    marker = installed.tmp / "state" / "install-marker.json"
    marker.write_text(json.dumps({"version": "20.6.0", "inputs_sha256": "x"}))
    run = installed.run({"sentry_version": "26.8.0"})
    assert run.rc != 0
    message = " ".join(run.failure_messages())
    assert "the installed release 20.6.0 is older than 21.6.3" in message
    assert "Upgrade by hand to 21.6.3 first" in message
    assert _install_versions(installed) == ["25.5.1"]
    assert _checked_out(installed) == "25.5.1"


def test_failed_step_restores_its_backup_onto_the_previous_release_before_starting_it(installed):
    (installed.install_dir / ".fixture-install-fail").write_text("")
    run = installed.run({"sentry_version": "26.5.0"})
    assert run.rc != 0
    message = " ".join(run.failure_messages())
    assert "install.sh for 26.5.0 failed" in message
    assert "restored the backup" in message and "onto 25.5.1" in message
    assert _checked_out(installed) == "25.5.1"
    # install.sh had migrated the data to 26.5.0; the restore put 25.5.1's back.
    assert (installed.install_dir / ".fixture-data").read_text().strip() == "25.5.1"
    backup_id = [line for line in _backup_log(installed) if line.startswith("run ")][-1].split("id=")[1]
    restore = [line for line in _backup_log(installed) if line.startswith("restore ")]
    # Restored with the stack stopped, after checking out the previous release.
    assert restore == [f"restore id={backup_id} expect=25.5.1 checkout=25.5.1 running=False"]
    calls = _compose_calls(installed)
    assert calls[-1].endswith("up --detach --wait --wait-timeout 60")
    assert any(call.endswith(" stop") for call in calls[-3:])
    assert json.loads((installed.tmp / "state" / "install-marker.json").read_text())["version"] == "25.5.1"


def test_failed_step_without_a_backup_snapshot_stops_with_the_stack_down(installed):
    (installed.install_dir / ".fixture-install-fail").write_text("")
    run = installed.run({"sentry_version": "26.5.0", "sentry_upgrade_backup_role": ""})
    assert run.rc != 0
    message = " ".join(run.failure_messages())
    assert "THE SENTRY STACK IS DOWN" in message
    assert "was NOT started on it" in message
    assert "backup_restore_expect_release=25.5.1" in message
    assert _checked_out(installed) == "25.5.1"
    # Never started the old release on the data 26.5.0's install.sh migrated.
    assert not _compose_calls(installed)[-1].startswith("--env-file .env --env-file .env.custom up")
    assert json.loads((installed.install_dir / ".fake-compose-state.json").read_text())["running"] is False


def test_install_flag_no_release_of_the_plan_accepts_is_refused_before_any_change(env):
    run = env.run({"sentry_install_args": ["--no-such-flag"]})
    assert run.rc != 0
    message = " ".join(run.failure_messages())
    assert "sentry_install_args=['--no-such-flag']: install.sh of 26.8.0 refuses --no-such-flag" in message
    assert not (env.tmp / "state" / "install-marker.json").exists()
    assert not env.install_dir.exists()


def test_check_mode_on_a_fresh_host_changes_nothing(env):
    run = env.run(check=True, diff=True)
    assert run.rc == 0, run.failure_messages()
    assert not env.install_dir.exists()


def test_check_mode_on_a_converged_host_reports_no_change(installed):
    run = installed.run({"sentry_version": "25.5.1"}, check=True, diff=True)
    assert run.rc == 0, run.failure_messages()
    assert run.changed == 0, [r["task"] for r in run.results if r["result"].get("changed")]


def test_token_rotation_writes_a_new_token(installed):
    token_file = installed.tmp / "etc" / "api-token"
    before = token_file.read_text()
    run = installed.run({"sentry_version": "25.5.1", "sentry_api_token_rotate": True})
    assert run.rc == 0, run.failure_messages()
    after = token_file.read_text()
    assert after != before
    assert after.strip() not in run.stdout + run.stderr


def test_stack_tag_skipped_leaves_install_and_admin_alone(env):
    run = env.run(skip_tags=("sentry_service", "sentry_stack"))
    assert run.rc == 0, run.failure_messages()
    assert (env.install_dir / ".env.custom").exists()
    assert not (env.install_dir / "sentry_install_log-fixture.txt").exists()
    assert not (env.tmp / "etc" / "api-token").exists()
    head = subprocess.run(
        ["git", "-C", str(env.install_dir), "describe", "--tags"], capture_output=True, text=True, check=True
    )
    assert head.stdout.strip() == "26.8.0"
