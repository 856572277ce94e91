"""Every walk the planner makes, run step by step against the fixture's install.sh of each
release (which accepts only that release line's flags and reads .env.custom as that line
does), without Ansible: seconds, not minutes. The role's own walks are in test_role_*.py."""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

import pytest

ROLE = Path(__file__).resolve().parents[3] / "roles" / "sentry"
_spec = importlib.util.spec_from_file_location("sentry_upgrade", ROLE / "filter_plugins" / "sentry_upgrade.py")
planner = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(planner)
TABLE = planner.load_table()
OVERRIDES = {
    "COMPOSE_PROFILES": "errors-only",
    "SENTRY_EVENT_RETENTION_DAYS": "30",
    "SENTRY_BIND": "127.0.0.1:9000",
    "SENTRY_SYSTEM_SECRET_KEY": "k" * 40,
}


@pytest.fixture(scope="module")
def checkout(fixture_repo, tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("walks") / "sentry"
    subprocess.run(["git", "clone", "--quiet", f"file://{fixture_repo}", str(work)], check=True)
    return work


def _install(work: Path, release: str, args: list[str], env_custom: str) -> subprocess.CompletedProcess:
    subprocess.run(["git", "-C", str(work), "checkout", "--quiet", "--force", release], check=True)
    if env_custom == "full":
        text = planner.render_env_custom_full((work / ".env").read_text(), OVERRIDES)
    else:
        text = "".join(f"{key}='{value}'\n" for key, value in OVERRIDES.items())
    (work / ".env.custom").write_text(text)
    return subprocess.run(["./install.sh", *args], cwd=work, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("installed", ["23.11.0", "24.8.0", "25.5.1", "25.9.0", "26.5.1"])
def test_every_step_of_the_walk_to_26_8_0_is_accepted_by_that_release_s_install_sh(checkout, installed):
    plan = planner.build_plan(installed, "26.8.0", TABLE)
    assert plan["releases"][-1] == "26.8.0"
    for step in plan["steps"]:
        result = _install(checkout, step["release"], step["install_args"], step["env_custom"])
        assert result.returncode == 0, (step["release"], result.stdout, result.stderr)
        assert f"fixture install.sh finished for {step['release']}" in result.stdout


@pytest.mark.parametrize("release", ["23.11.0", "24.8.0", "25.5.1"])
def test_a_release_before_25_9_refuses_the_automatic_config_updates_flag(checkout, release):
    args = planner.current_facts(TABLE, "26.8.0")["install_args"]
    result = _install(checkout, release, args, planner.release_facts(release, TABLE)["env_custom"])
    assert result.returncode == 1
    assert "Unexpected argument: --apply-automatic-config-updates" in result.stderr


def test_a_partial_env_custom_before_25_2_leaves_install_without_upstream_s_values(checkout):
    result = _install(checkout, "24.8.0", planner.current_facts(TABLE, "24.8.0")["install_args"], "partial")
    assert result.returncode == 1
    assert "COMPOSE_PROJECT_NAME is not set" in result.stderr
