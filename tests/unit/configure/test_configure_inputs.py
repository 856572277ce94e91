"""Bad input stops deploy/configure.yml before the first write, naming the variable (issue 12, item 3).

Ansible's own role argument validation (meta/argument_specs.yml) runs first and refuses what it can
(choices, unconvertible types, unknown sub-keys); the role's sentry_config_inputs step then refuses
what it lets through (a string given for a list, undeclared variables, Sentry's limits, platforms,
rule node ids, references) and the probe what only the server knows.

One double serves every case of the table (a case that wrote anything would show in its request log).
Each case asserts: rc != 0, no write (no request but GET) sent during the run, no env file, and the
variable (and where it helps, the remedy) named in the output. Cases checked on the controller also
assert that no request at all was sent; the server-side ones (organization, metric alerts, scopes)
only read.
"""

from __future__ import annotations

import pytest

from tests.unit.configure.runner import ORG, assert_ok, run_configure, start_double_backend

pytestmark = pytest.mark.slow

API = {"slug": "dermai-api", "name": "DermAI API", "platform": "python-fastapi", "kind": "backend"}
WEB = {"slug": "dermai-web", "name": "DermAI Web", "platform": "javascript-react", "kind": "frontend"}
NEW_ISSUE = {
    "name": "New issue",
    "conditions": [{"id": "sentry.rules.conditions.first_seen_event.FirstSeenEventCondition"}],
}
SPIKE = {"name": "Spike", "aggregate": "count()", "time_window": 10, "critical": 100}

# (id, extra_vars, environment, strings the output must contain, local: no request at all)
CASES = [
    # The seven inputs issue 12 found written before they failed.
    (
        "misspelt-platform-in-second-project",
        {"sentry_config_projects": [API, dict(WEB, platform="javascript-raect")]},
        {},
        ["sentry_config_projects[1] (dermai-web).platform", 'did you mean "javascript-react"'],
        True,
    ),
    (
        "unknown-condition-id",
        {"sentry_config_issue_alerts": [{"name": "x", "conditions": [{"id": "sentry.rules.conditions.FirstSeen"}]}]},
        {},
        ["sentry_config_issue_alerts[0] (x).conditions[0].id", "is not a condition Sentry knows"],
        True,
    ),
    ("empty-organization", {}, {"SENTRY_ORG": ""}, ["sentry_config_organization_slug", "SENTRY_ORG"], True),
    (
        "project-name-over-50",
        {"sentry_config_projects": [dict(API, name="A" * 51), WEB]},
        {},
        ["sentry_config_projects[0] (dermai-api).name", "Sentry allows 1 to 50"],
        True,
    ),
    (
        "misspelt-top-level-variable",
        {"sentry_config_enviroments": [{"name": "staging"}]},
        {},
        ["sentry_config_enviroments", 'did you mean "sentry_config_environments"'],
        True,
    ),
    (
        "sensitive-fields-as-a-string",
        {"sentry_config_org_sensitive_fields": "patient,mrn"},
        {},
        ["sentry_config_org_sensitive_fields", "must be a YAML list", "a string is not split"],
        True,
    ),
    (
        "metric-alerts-on-a-sentry-without-them",
        {},
        {"FAULT_ALERT_RULES_404": "1"},
        ["cannot hold metric alerts", "sentry_config_metric_alerts_enabled", "SENTRY_METRIC_ALERTS=false"],
        False,
    ),
    # The rest of the validation.
    (
        "wrong-organization",
        {},
        {"SENTRY_ORG": "no-such-org"},
        ["sentry_config_organization_slug", "SENTRY_ORG", ORG],
        False,
    ),
    ("env-files-mode-0644", {"sentry_config_env_files_mode": "0644"}, {}, ["sentry_config_env_files_mode"], True),
    ("env-files-mode-unquoted", {"sentry_config_env_files_mode": 384}, {}, ["sentry_config_env_files_mode"], True),
    ("no-environment", {"sentry_config_environments": []}, {}, ["sentry_config_environments"], True),
    (
        "environment-not-a-file-suffix",
        {"sentry_config_environments": [{"name": "../prod"}]},
        {},
        ["sentry_config_environments[0] (../prod).name"],
        True,
    ),
    (
        "duplicate-environment",
        {"sentry_config_environments": [{"name": "production"}, {"name": "production"}]},
        {},
        ["sentry_config_environments[1] (production).name", "listed twice"],
        True,
    ),
    (
        "misspelt-environment-key",
        {"sentry_config_environments": [{"name": "production", "error_rate_limt": 5}]},
        {},
        ["error_rate_limt", "sentry_config_environments"],
        True,
    ),
    (
        "zero-rate-limit",
        {"sentry_config_environments": [{"name": "production", "error_rate_limit": 0}]},
        {},
        ["error_rate_limit"],
        True,
    ),
    (
        "rate-limit-not-a-number",
        {"sentry_config_environments": [{"name": "production", "error_rate_limit": "many"}]},
        {},
        ["error_rate_limit", "many"],
        True,
    ),
    (
        "sample-rate-above-1",
        {"sentry_config_environments": [{"name": "production", "traces_sample_rate": 2}]},
        {},
        ["traces_sample_rate"],
        True,
    ),
    ("url-without-scheme", {"sentry_config_url": "sentry.example.com"}, {}, ["sentry_config_url"], True),
    ("url-with-api-path", {"sentry_config_url": "https://sentry.example.com/api/0/"}, {}, ["sentry_config_url"], True),
    ("no-backend-project", {"sentry_config_projects": [dict(WEB)]}, {}, ["sentry_config_projects", "backend"], True),
    (
        "duplicate-project",
        {"sentry_config_projects": [API, dict(API, kind="none")]},
        {},
        ["sentry_config_projects[1] (dermai-api).slug", "listed twice"],
        True,
    ),
    (
        "metric-window-7",
        {"sentry_config_metric_alerts": [dict(SPIKE, time_window=7)]},
        {},
        ["sentry_config_metric_alerts", "time_window"],
        True,
    ),
    (
        "metric-name-too-long-with-the-project-name",
        {"sentry_config_metric_alerts": [dict(SPIKE, name="S" * 60)]},
        {},
        ["sentry_config_metric_alerts[0]", "Sentry allows 64"],
        True,
    ),
    (
        "resolve-threshold-above-critical",
        {"sentry_config_metric_alerts": [dict(SPIKE, resolve_threshold=200)]},
        {},
        ["sentry_config_metric_alerts[0] (Spike).resolve_threshold"],
        True,
    ),
    (
        "issue-alert-name-over-64",
        {"sentry_config_issue_alerts": [dict(NEW_ISSUE, name="N" * 65)]},
        {},
        ["sentry_config_issue_alerts[0]", "Sentry allows 1 to 64"],
        True,
    ),
    (
        "unknown-action-id",
        {"sentry_config_issue_alerts": [dict(NEW_ISSUE, actions=[{"id": "sentry.mail.actions.NotifyEmail"}])]},
        {},
        ["sentry_config_issue_alerts[0] (New issue).actions[0].id"],
        True,
    ),
    (
        "alert-in-an-unmanaged-project",
        {"sentry_config_issue_alerts": [dict(NEW_ISSUE, projects=["dermai-ap"])]},
        {},
        ["sentry_config_issue_alerts[0] (New issue).projects", 'did you mean "dermai-api"'],
        True,
    ),
    (
        "alert-in-an-unmanaged-environment",
        {"sentry_config_issue_alerts": [dict(NEW_ISSUE, environment="staging")]},
        {},
        ["sentry_config_issue_alerts[0] (New issue).environment", "sentry_config_environments"],
        True,
    ),
    (
        "alert-environment-sentry-has-not-got",
        {
            "sentry_config_environments": [{"name": "production"}, {"name": "staging"}],
            "sentry_config_issue_alerts": [dict(NEW_ISSUE, environment="staging")],
        },
        {},
        ["staging", "has not", "Nothing was changed"],
        False,
    ),
    (
        "frequency-below-5",
        {"sentry_config_issue_alerts": [dict(NEW_ISSUE, frequency=1)]},
        {},
        ["sentry_config_issue_alerts[0] (New issue).frequency"],
        True,
    ),
    ("team-not-a-dict", {"sentry_config_team": "dermai"}, {}, ["sentry_config_team"], True),
    (
        "missing-controller-dir",
        {"sentry_config_env_files_controller_dir": "/nonexistent/dir"},
        {},
        ["sentry_config_env_files_controller_dir"],
        True,
    ),
    (
        "attachments-role",
        {"sentry_config_org_attachments_role": "everyone"},
        {},
        ["sentry_config_org_attachments_role"],
        True,
    ),
    (
        "token-lacks-a-scope",
        {},
        {"LIMITED_TOKEN": "1"},
        ["lacks scopes", "organization privacy settings", "org:write", "alerts:write"],
        False,
    ),
]


@pytest.fixture(scope="module")
def shared_backend():
    backend = start_double_backend()
    yield backend
    backend.server.stop()


@pytest.mark.parametrize(("extra_vars", "env", "named", "local"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_fails_naming_the_variable_before_any_write(shared_backend, tmp_path, extra_vars, env, named, local):
    backend = shared_backend
    env = dict(env)
    double = backend.server
    if env.pop("FAULT_ALERT_RULES_404", None):
        # What Sentry 23.7.1 without Snuba/the incidents feature answers (tests/unit/real_sentry proves it).
        double.inject_fault(status=404, count=5, method="GET", path=r"/alert-rules/$", body={"detail": "Not found"})
    token = backend.token
    if env.pop("LIMITED_TOKEN", None):
        token = "sntryu_" + "1" * 64
        double.add_token(token, ["org:read", "team:read", "project:read"])
    before = len(backend.requests_log())
    env_dir = tmp_path / "env"
    env_dir.mkdir()
    limited = type(backend)(url=backend.url, token=token, url_prefix=backend.url_prefix, server=double)
    try:
        run = run_configure(limited, env_dir, tmp_path / "token", extra_vars=extra_vars, env=env)
    finally:
        double.clear_faults()
    log = backend.requests_log()[before:]
    out = run.stdout + run.stderr
    assert run.rc != 0, out[-3000:]
    for text in named:
        assert text in out, f"{text!r} not in the output:\n{out[-4000:]}"
    assert [r for r in log if r[0] != "GET"] == [], "writes were sent before the failure"
    if local:
        assert log == [], "a request was sent although the input can be checked on the controller"
    assert not list(env_dir.iterdir())
    assert token not in out


def test_every_problem_is_listed_in_one_failure(shared_backend, tmp_path):
    run = run_configure(
        shared_backend,
        tmp_path,
        tmp_path / "token",
        extra_vars={
            "sentry_config_projects": [dict(API, name="A" * 51), WEB],
            "sentry_config_org_safe_fields": "a",
            "sentry_config_tema": {},
        },
    )
    assert run.rc != 0
    assert "problem(s) in the sentry_config variables, nothing was changed" in run.stdout
    assert "sentry_config_projects[0] (dermai-api).name: has 51 characters" in run.stdout
    assert "sentry_config_org_safe_fields: must be a YAML list, got a string" in run.stdout
    assert 'did you mean "sentry_config_team"' in run.stdout


def test_token_from_the_environment_takes_precedence_over_the_token_file(shared_backend, configure):
    before = len(shared_backend.requests_log())
    run = configure(shared_backend, env={"SENTRY_AUTH_TOKEN": "sntryu_" + "0" * 64})
    assert run.rc != 0
    assert [status for _, _, status in shared_backend.requests_log()[before:]] == [401]
    assert "rejected the API token" in run.stdout
    assert not list(run.env_dir.iterdir())


def test_an_empty_token_file_fails_with_a_clear_message(shared_backend, configure, tmp_path):
    empty = tmp_path / "empty-token"
    empty.write_text("\n")
    before = len(shared_backend.requests_log())
    run = configure(shared_backend, env={"SENTRY_TOKEN_FILE": str(empty)})
    assert run.rc != 0
    assert "The API token is empty" in run.stdout
    assert shared_backend.requests_log()[before:] == []


def test_token_from_the_environment_alone_is_enough(shared_backend, configure):
    before = len(shared_backend.requests_log())
    run = configure(
        shared_backend,
        "--tags",
        "sentry_config_organization",
        env={"SENTRY_AUTH_TOKEN": shared_backend.token, "SENTRY_TOKEN_FILE": ""},
    )
    assert_ok(run)
    assert ("GET", f"/api/0/organizations/{ORG}/", 200) in shared_backend.requests_log()[before:]
