"""Install only on change, restarts for config-only changes, upgrades through the hard stops,
rollback after a failed install, check mode and token rotation (real ansible-playbook runs)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.unit.sentry_role.conftest import Env

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


def test_upgrade_walks_each_hard_stop_in_order(installed):
    run = installed.run({"sentry_version": "26.8.0"})
    assert run.rc == 0, run.failure_messages()
    assert _install_versions(installed) == ["25.5.1", "26.5.0", "26.5.1", "26.8.0"]
    assert _checked_out(installed) == "26.8.0"
    assert json.loads((installed.tmp / "state" / "install-marker.json").read_text())["version"] == "26.8.0"


def test_upgrade_runs_the_backup_hook_first(installed):
    run = installed.run({"sentry_version": "26.5.0"})
    assert run.rc == 0, run.failure_messages()
    assert (installed.tmp / "backup.log").read_text().splitlines() == ["backup"]


def test_upgrade_without_a_backup_hook_is_refused(installed):
    run = installed.run({"sentry_version": "26.5.0", "sentry_pre_upgrade_backup_command": ""})
    assert run.rc != 0
    assert "needs a backup first: set sentry_pre_upgrade_backup_command" in " ".join(run.failure_messages())
    assert _checked_out(installed) == "25.5.1"


def test_jump_over_a_hard_stop_is_refused_when_walking_is_off(installed):
    run = installed.run({"sentry_version": "26.8.0", "sentry_upgrade_walk_hard_stops": False})
    assert run.rc != 0
    assert "skips the hard stops 26.5.0, 26.5.1" in " ".join(run.failure_messages())
    assert _install_versions(installed) == ["25.5.1"]


def test_downgrade_is_refused_before_any_change(installed):
    run = installed.run({"sentry_version": "25.5.1"})
    assert run.rc == 0
    marker = installed.tmp / "state" / "install-marker.json"
    marker.write_text(json.dumps({"version": "26.8.0", "inputs_sha256": "x"}))
    run = installed.run({"sentry_version": "25.5.1"})
    assert run.rc != 0
    assert "refusing to downgrade from 26.8.0 to 25.5.1" in " ".join(run.failure_messages())


def test_failed_upgrade_brings_the_previous_release_back(installed):
    (installed.install_dir / ".fixture-install-fail").write_text("")
    run = installed.run({"sentry_version": "26.5.0"})
    assert run.rc != 0
    message = " ".join(run.failure_messages())
    assert "install.sh for 26.5.0 failed" in message
    assert "25.5.1 is checked out and its stack is running again" in message
    assert _checked_out(installed) == "25.5.1"
    assert _compose_calls(installed)[-1].endswith("up --detach --wait --wait-timeout 60")


def test_failed_rollback_says_the_stack_is_down(installed):
    (installed.install_dir / ".fixture-install-fail").write_text("")
    (installed.install_dir / ".fake-compose-fail-up").write_text("")
    run = installed.run({"sentry_version": "26.5.0"})
    assert run.rc != 0
    assert "THE SENTRY STACK IS DOWN" in " ".join(run.failure_messages())


def test_failed_first_install_says_the_stack_is_down(env):
    run = env.run({"sentry_install_args": ["--no-such-flag"]})
    assert run.rc != 0
    message = " ".join(run.failure_messages())
    assert "THE SENTRY STACK IS DOWN" in message
    assert "no previous release to bring back (first install)" in message
    assert not (env.tmp / "state" / "install-marker.json").exists()


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
