"""Bad input stops deploy/configure.yml with a message naming the variable, before any request or file."""

from __future__ import annotations

import pytest

from tests.unit.configure.runner import ORG, assert_ok

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("extra_vars", "named"),
    [
        ({"sentry_config_env_files_mode": "0644"}, "sentry_config_env_files_mode"),
        ({"sentry_config_environments": []}, "sentry_config_environments"),
        ({"sentry_config_environments": [{"name": "../prod"}]}, "sentry_config_environments"),
        (
            {"sentry_config_environments": [{"name": "production"}, {"name": "production"}]},
            "sentry_config_environments",
        ),
        ({"sentry_config_environments": [{"name": "production", "error_rate_limit": 0}]}, "error_rate_limit"),
        ({"sentry_config_environments": [{"name": "production", "traces_sample_rate": 2}]}, "traces_sample_rate"),
        ({"sentry_config_url": "sentry.example.com"}, "sentry_config_url"),
        ({"sentry_config_url": "https://sentry.example.com/api/0/"}, "sentry_config_url"),
        ({"sentry_config_projects": [{"slug": "a", "name": "A", "platform": "python", "kind": "frontend"}]}, "backend"),
        (
            {"sentry_config_metric_alerts": [{"name": "x", "aggregate": "count()", "time_window": 7, "critical": 1}]},
            "time_window",
        ),
        ({"sentry_config_env_files_controller_dir": "/nonexistent/dir"}, "sentry_config_env_files_controller_dir"),
        ({"sentry_config_org_attachments_role": "everyone"}, "sentry_config_org_attachments_role"),
    ],
    ids=[
        "mode-0644",
        "no-environment",
        "environment-not-a-file-suffix",
        "duplicate-environment",
        "zero-rate-limit",
        "sample-rate-above-1",
        "url-without-scheme",
        "url-with-api-path",
        "no-backend-project",
        "metric-window-7",
        "missing-controller-dir",
        "attachments-role",
    ],
)
def test_bad_input_fails_naming_the_variable_before_any_request(backend_factory, configure, extra_vars, named):
    backend = backend_factory()
    run = configure(backend, extra_vars=extra_vars)
    assert run.rc != 0
    assert named in run.stdout + run.stderr
    assert backend.requests_log() == []
    assert not list(run.env_dir.iterdir())


def test_token_from_the_environment_takes_precedence_over_the_token_file(backend_factory, configure):
    backend = backend_factory()
    run = configure(backend, env={"SENTRY_AUTH_TOKEN": "sntryu_" + "0" * 64})
    assert run.rc != 0
    assert [status for _, _, status in backend.requests_log()] == [401]
    assert not list(run.env_dir.iterdir())


def test_an_empty_token_file_fails_with_a_clear_message(backend_factory, configure, tmp_path):
    backend = backend_factory()
    empty = tmp_path / "empty-token"
    empty.write_text("\n")
    run = configure(backend, env={"SENTRY_TOKEN_FILE": str(empty)}, extra_vars={"sentry_config_no_log": False})
    assert run.rc != 0
    assert "The API token is empty" in run.stdout
    assert backend.requests_log() == []


def test_token_from_the_environment_alone_is_enough(backend_factory, configure):
    backend = backend_factory()
    run = configure(
        backend,
        "--tags",
        "sentry_config_organization",
        env={"SENTRY_AUTH_TOKEN": backend.token, "SENTRY_TOKEN_FILE": ""},
    )
    assert_ok(run)
    assert ("GET", f"/api/0/organizations/{ORG}/", 200) in backend.requests_log()
