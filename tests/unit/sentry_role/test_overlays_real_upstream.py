"""The role's overlays applied to a real getsentry/self-hosted 26.8.0 tree.

Uses a local snapshot of the upstream repository when one is on this machine
(SENTRY_SELF_HOSTED_MIRROR or SELF_HOSTED_REPO; skipped with the reason when unset, e.g. from the
search tool's `fetch`); nothing of it is committed. Skipped, with the reason, when absent.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.unit.sentry_role.conftest import Env

pytestmark = pytest.mark.slow

MIRROR = Path(
    os.environ.get("SENTRY_SELF_HOSTED_MIRROR")
    or os.environ.get("SELF_HOSTED_REPO")
    or "/nonexistent-self-hosted-clone"
)
TAG = "26.8.0"


def _has_tag() -> bool:
    if not MIRROR.exists():
        return False
    out = subprocess.run(["git", "-C", str(MIRROR), "tag", "--list", TAG], capture_output=True, text=True)
    return out.stdout.strip() == TAG


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    if not _has_tag():
        pytest.skip(f"no getsentry/self-hosted snapshot with tag {TAG} at {MIRROR} (set SENTRY_SELF_HOSTED_MIRROR)")
    tmp = tmp_path_factory.mktemp("upstream")
    env = Env(tmp=tmp, repo=MIRROR, install_dir=tmp / "opt" / "sentry")
    run = env.run({"sentry_version": TAG}, skip_tags=("sentry_service", "sentry_stack"))
    assert run.rc == 0, run.failure_messages() or run.stderr[-2000:]
    return env, run


def _read(env: Env, rel: str) -> str:
    return (env.install_dir / rel).read_text()


def test_checkout_is_the_real_26_8_0_release(upstream):
    env, _ = upstream
    assert "ghcr.io/getsentry/sentry:26.8.0" in _read(env, ".env")


def test_upstream_tracked_files_stay_unmodified(upstream):
    env, _ = upstream
    status = subprocess.run(
        ["git", "-C", str(env.install_dir), "status", "--porcelain"], capture_output=True, text=True, check=True
    ).stdout
    assert status == "", "the overlays must only touch gitignored live files"


def test_config_yml_is_valid_yaml_with_the_role_keys(upstream):
    env, _ = upstream
    config = yaml.safe_load(_read(env, "sentry/config.yml"))
    assert config["system.url-prefix"] == "https://sentry.dermai.test"
    assert config["auth.allow-registration"] is False
    assert config["system.internal-url-prefix"] == "http://web:9000"
    assert "system.secret-key" not in config


def test_config_yml_keeps_upstream_comments_and_keys(upstream):
    env, _ = upstream
    example = _read(env, "sentry/config.example.yml").splitlines()
    live = _read(env, "sentry/config.yml").splitlines()
    kept = [line for line in example if not line.startswith(("system.secret-key:", "mail.host:"))]
    assert [line for line in live if line in kept] == kept


def test_sentry_conf_py_is_upstream_plus_the_managed_block(upstream):
    env, _ = upstream
    live = _read(env, "sentry/sentry.conf.py")
    assert live.startswith(_read(env, "sentry/sentry.conf.example.py"))
    tree = ast.parse(live)
    assigned = {t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets if hasattr(t, "id")}
    assert {"CSRF_TRUSTED_ORIGINS", "SENTRY_BEACON", "SECURE_PROXY_SSL_HEADER", "SESSION_COOKIE_AGE"} <= assigned


def test_switched_off_features_are_real_upstream_flags(upstream):
    env, _ = upstream
    example = _read(env, "sentry/sentry.conf.example.py")
    for flag in ("organizations:session-replay", "organizations:user-feedback-ui", "projects:data-forwarding"):
        assert f'"{flag}"' in example, flag


def test_every_env_custom_key_is_read_by_upstream(upstream):
    env, _ = upstream
    upstream_text = _read(env, ".env") + _read(env, "docker-compose.yml")
    keys = [line.split("=", 1)[0] for line in _read(env, ".env.custom").splitlines() if line and line[0] != "#"]
    assert keys
    for key in keys:
        assert re.search(rf"\b{key}\b", upstream_text), key


def test_override_targets_the_upstream_kafka_service(upstream):
    env, _ = upstream
    compose = yaml.safe_load(_read(env, "docker-compose.yml"))
    override = yaml.safe_load(_read(env, "docker-compose.override.yml"))
    assert set(override["services"]) <= set(compose["services"])
    assert "KAFKA_LOG_RETENTION_HOURS" in compose["services"]["kafka"]["environment"]


def test_install_flags_are_accepted_by_upstream_install(upstream):
    env, _ = upstream
    parse_cli = _read(env, "install/parse-cli.sh")
    defaults = yaml.safe_load((Path(__file__).resolve().parents[3] / "roles/sentry/defaults/main.yml").read_text())
    for flag in defaults["sentry_install_args"]:
        assert re.search(rf"^\s*{re.escape(flag)}\)", parse_cli, re.M), flag


def test_live_files_come_from_upstream_examples(upstream):
    env, _ = upstream
    assert (env.install_dir / "symbolicator" / "config.yml").read_text() == _read(
        env, "symbolicator/config.example.yml"
    )
