"""An install the bundle did not make (no marker, a checkout, running containers) is adopted at
the release it runs and upgraded from it (real ansible run). One step (23.11.0 -> 24.8.0) keeps
the run short; it is the step whose install.sh reads only .env.custom and whose containers read
the secret key from config.yml. Longer walks: test_role_lifecycle.py and test_release_walks.py."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.unit.sentry_role.conftest import ROOT, Env

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def adopted(tmp_path_factory, fixture_repo):
    """An unmarked 23.11.0 install (clone, running containers of 23.11.0), then one run to 24.8.0."""
    tmp = tmp_path_factory.mktemp("adopted")
    env = Env(tmp=tmp, repo=fixture_repo, install_dir=tmp / "opt" / "sentry")
    subprocess.run(
        ["git", "clone", "--quiet", "--branch", "23.11.0", f"file://{fixture_repo}", str(env.install_dir)],
        check=True,
        capture_output=True,
    )
    images = {
        "web": "sentry-self-hosted-local",
        "relay": "getsentry/relay:23.11.0",
        "snuba-api": "getsentry/snuba:23.11.0",
    }
    (env.install_dir / ".fake-compose-state.json").write_text(json.dumps({"running": True, "images": images}))
    (env.install_dir / ".fixture-data").write_text("23.11.0\n")
    run = env.run({"sentry_version": "24.8.0"})
    return env, run


def _log(env: Env, key: str) -> list[str]:
    text = (env.install_dir / "sentry_install_log-fixture.txt").read_text()
    return [line.split("=", 1)[1] for line in text.splitlines() if line.startswith(key + "=")]


def test_unmarked_install_is_adopted_saying_what_was_detected(adopted):
    _, run = adopted
    assert run.rc == 0, run.failure_messages() or run.stderr[-2000:]
    message = run.task("Report the adopted install")[-1]["result"]["msg"]
    assert "runs 23.11.0 (from the containers: running containers use images of 23.11.0" in message
    assert "checkout at tag 23.11.0" in message


def test_adopted_install_is_upgraded_with_the_flags_of_the_release_it_installs(adopted):
    env, _ = adopted
    assert _log(env, "version") == ["24.8.0"]
    plan = subprocess.run(
        [
            sys.executable,
            str(ROOT / "deploy" / "bin" / "upgrade-plan"),
            "--from",
            "23.11.0",
            "--to",
            "24.8.0",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert _log(env, "args") == [" ".join(step["install_args"]) for step in json.loads(plan.stdout)]
    assert "--apply-automatic-config-updates" not in _log(env, "args")[0]


def test_release_reading_only_env_custom_got_a_full_copy_and_the_key_in_config_yml(adopted):
    env, _ = adopted
    # 24.8.0's install reads only .env.custom: the full copy carried its SENTRY_IMAGE.
    assert _log(env, "image") == ["getsentry/sentry:24.8.0"]
    env_custom = (env.install_dir / ".env.custom").read_text()
    assert "COMPOSE_PROJECT_NAME='sentry-self-hosted'" in env_custom
    assert "SENTRY_BIND='127.0.0.1:9000'" in env_custom
    # Before 25.12.0 compose does not pass SENTRY_SYSTEM_SECRET_KEY: config.yml holds it.
    assert _log(env, "secret") == ["config_yml"]
    key = env.base_vars()["sentry_system_secret_key"]
    assert f'system.secret-key: "{key}"' in (env.install_dir / "sentry" / "config.yml").read_text()
    # 24.8.0 keeps its nginx conf in nginx/; the bundle's copy is made from that one.
    assert "$dermai_forwarded_proto" in (env.install_dir / "dermai-nginx.conf").read_text()


def test_adopted_install_was_backed_up_at_its_own_release_first(adopted):
    env, _ = adopted
    runs = [line for line in (env.tmp / "opt" / "backup-role.log").read_text().splitlines() if line.startswith("run ")]
    assert [line.split()[1:3] for line in runs] == [["reason=pre-upgrade-23.11.0-to-24.8.0", "release=23.11.0"]]
    marker = json.loads((env.tmp / "state" / "install-marker.json").read_text())
    assert marker["version"] == "24.8.0"
