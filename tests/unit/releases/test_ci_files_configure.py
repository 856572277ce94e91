"""deploy/configure.yml writes the CI credential's files (tag sentry_config_ci) against the double."""

from __future__ import annotations

import stat

import pytest
import requests

from tests.unit.configure.runner import assert_ok, run_configure, start_double_backend
from tests.unit.releases.conftest import ci_file_values as values

CI_TASKS = (
    "sentry_config : Ensure the CI integration and its one token",
    "sentry_config : Store the CI token (root only)",
    "sentry_config : Write .sentryclirc and .env.ci on the controller",
)


@pytest.mark.slow
def test_configure_writes_private_ci_files_reuses_the_credential_and_rotates_on_request(tmp_path):
    backend = start_double_backend()
    try:
        env_dir = tmp_path / "env"
        env_dir.mkdir()
        token_file = tmp_path / "api-token"
        extra = {"sentry_config_metric_alerts_enabled": False}

        # The env files phase (team, projects, keys, .env.production) runs the CI step too.
        first = run_configure(
            backend, env_dir, token_file, "--tags", "sentry_config_env_files", "--diff", "-v", extra_vars=extra
        )
        assert_ok(first)
        stored = tmp_path / "ci-token"
        token = stored.read_text().strip()
        for name in (".sentryclirc", ".env.ci", "ci-token"):
            path = env_dir / name if name != "ci-token" else stored
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, name
        env_ci = values(env_dir / ".env.ci")
        assert env_ci["SENTRY_URL"] == backend.url
        assert env_ci["SENTRY_ORG"] == "sentry"
        assert env_ci["SENTRY_PROJECT"] == env_ci["SENTRY_PROJECT_FRONTEND"] == "dermai-web"
        assert env_ci["SENTRY_PROJECT_BACKEND"] == env_ci["SENTRY_PROJECT_DERMAI_API"] == "dermai-api"
        assert env_ci["SENTRY_AUTH_TOKEN"] == token
        assert "SSL_CERT_FILE" not in env_ci  # no internal CA here
        rc = (env_dir / ".sentryclirc").read_text()
        assert f"[auth]\ntoken={token}\n" in rc and f"url={backend.url}\norg=sentry\nproject=dermai-web\n" in rc
        assert token not in (env_dir / ".env.production").read_text()
        assert token not in first.stdout + first.stderr
        state = backend.server.state.data
        assert [t["token"] for t in state["app_tokens"].values()] == [token]

        again = run_configure(backend, env_dir, token_file, "--tags", "sentry_config_ci", "-vvv", extra_vars=extra)
        assert_ok(again)
        assert not set(again.changed_tasks()) & set(CI_TASKS), again.changed_tasks()
        assert len(state["sentry_apps"]) == 1 and [t["token"] for t in state["app_tokens"].values()] == [token]
        assert token not in again.stdout + again.stderr

        rotated = run_configure(
            backend,
            env_dir,
            token_file,
            "--tags",
            "sentry_config_ci",
            "--diff",
            extra_vars=dict(extra, sentry_config_ci_credential_rotate=True),
        )
        assert_ok(rotated)
        new = stored.read_text().strip()
        assert new != token and values(env_dir / ".env.ci")["SENTRY_AUTH_TOKEN"] == new
        assert backend.api("GET", "organizations/sentry/").status_code == 200
        old_use = requests.get(
            f"{backend.url}/api/0/organizations/sentry/", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        assert old_use.status_code == 401
        assert new not in rotated.stdout + rotated.stderr and token not in rotated.stdout
    finally:
        backend.server.stop()


def test_a_misspelt_scope_is_refused_before_anything_is_written(tmp_path):
    backend = start_double_backend()
    try:
        env_dir = tmp_path / "env"
        env_dir.mkdir()
        bad = {"sentry_config_ci_credential_scopes": ["project:releases", "project:release"]}
        run = run_configure(backend, env_dir, tmp_path / "api-token", extra_vars=bad)
        assert run.rc != 0
        assert "sentry_config_ci_credential_scopes" in run.stdout and "project:release" in run.stdout
        writes = [r for r in backend.requests_log() if r[0] in ("POST", "PUT", "DELETE")]
        assert writes == [] and list(env_dir.iterdir()) == []
    finally:
        backend.server.stop()
