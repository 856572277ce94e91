"""deploy/configure.yml against the Sentry double: first run, rerun, further environments, check mode."""

from __future__ import annotations

import re
import stat
from urllib.parse import urlsplit

import pytest

from tests.unit.configure.runner import ORG, assert_ok, double_session

pytestmark = pytest.mark.slow

PROJECTS = {"backend": "dermai-api", "frontend": "dermai-web"}


@pytest.fixture(scope="module")
def converged(tmp_path_factory):
    """One double configured twice, then checked: (backend, first run, second run, its requests, check run)."""
    with double_session(tmp_path_factory.mktemp("converged")) as (backend, _, configure):
        first = configure()
        assert_ok(first)
        before = len(backend.requests_log())
        second = configure()
        assert_ok(second)
        log = backend.requests_log()[before:]
        check = configure("--check", "--diff")
        yield backend, first, second, log, check


def _dsn_pattern(url_prefix: str) -> re.Pattern:
    parts = urlsplit(url_prefix)
    return re.compile(
        rf"^{parts.scheme}://(?P<key>[0-9a-f]{{32}})@{re.escape(parts.netloc)}{re.escape(parts.path.rstrip('/'))}/(?P<id>\d+)$"
    )


def test_first_run_writes_env_production_with_the_variables_the_app_reads(converged):
    _, first, _, _, _ = converged
    values = first.env_values()
    assert set(values) == {
        "SENTRY_DSN",
        "SENTRY_ENVIRONMENT",
        "SENTRY_TRACES_SAMPLE_RATE",
        "SENTRY_ERROR_RATE_LIMIT",
        "VITE_SENTRY_DSN",
        "VITE_ENVIRONMENT",
    }
    assert values["SENTRY_ENVIRONMENT"] == "production"
    assert values["VITE_ENVIRONMENT"] == "production"
    assert values["SENTRY_TRACES_SAMPLE_RATE"] == "0.1"
    assert values["SENTRY_ERROR_RATE_LIMIT"] == "200"


@pytest.mark.parametrize(("variable", "kind"), [("SENTRY_DSN", "backend"), ("VITE_SENTRY_DSN", "frontend")])
def test_env_production_dsn_is_the_projects_public_dsn_on_the_url_prefix(converged, variable, kind):
    backend, first, _, _, _ = converged
    dsn = first.env_values()[variable]
    match = _dsn_pattern(backend.url_prefix).match(dsn)
    assert match, f"{variable}={dsn!r} does not look like <scheme>://<32 hex>@<url-prefix host>/<project id>"
    project = backend.api("GET", f"projects/{ORG}/{PROJECTS[kind]}/").json()
    assert match["id"] == str(project["id"])
    keys = backend.api("GET", f"projects/{ORG}/{PROJECTS[kind]}/keys/").json()
    assert dsn in [k["dsn"]["public"] for k in keys if k["name"] == f"{PROJECTS[kind]}-production"]


def test_env_production_is_readable_by_its_owner_only(converged):
    _, first, _, _, _ = converged
    assert stat.S_IMODE(first.env_file().stat().st_mode) == 0o600


def test_env_production_holds_no_api_token(converged):
    backend, first, _, _, _ = converged
    assert backend.token not in first.env_file().read_text()


def test_the_token_never_appears_in_the_output(converged):
    backend, first, second, _, _ = converged
    for run in (first, second):
        assert backend.token not in run.stdout + run.stderr


def test_keys_are_rate_limited_to_the_error_rate_limit_per_minute(converged):
    backend, _, _, _, _ = converged
    for slug in PROJECTS.values():
        keys = backend.api("GET", f"projects/{ORG}/{slug}/keys/").json()
        ours = [k for k in keys if k["name"] == f"{slug}-production"]
        assert len(ours) == 1
        assert ours[0]["rateLimit"] == {"window": 60, "count": 200}


def test_the_auto_created_default_key_is_adopted_not_left_live(converged):
    backend, _, _, _, _ = converged
    for slug in PROJECTS.values():
        keys = backend.api("GET", f"projects/{ORG}/{slug}/keys/").json()
        assert [k["name"] for k in keys] == [f"{slug}-production"]


def test_organization_privacy_settings_are_locked_down(converged):
    backend, _, _, _, _ = converged
    org = backend.api("GET", f"organizations/{ORG}/").json()
    assert org["dataScrubber"] is True
    assert org["dataScrubberDefaults"] is True
    assert org["scrubIPAddresses"] is True
    assert org["storeCrashReports"] == 0
    assert org["enhancedPrivacy"] is True
    assert org["allowSharedIssues"] is False
    assert org["openMembership"] is False
    assert org["attachmentsRole"] == "admin"
    assert org["require2FA"] is False
    assert {"mrn", "date_of_birth"} <= set(org["sensitiveFields"])
    assert '"dermai_phi_text"' in org["relayPiiConfig"]


def test_projects_belong_to_the_team_with_their_platforms(converged):
    backend, _, _, _, _ = converged
    for slug, platform in (("dermai-api", "python-fastapi"), ("dermai-web", "javascript-react")):
        project = backend.api("GET", f"projects/{ORG}/{slug}/").json()
        assert project["platform"] == platform
        assert "dermai" in [t["slug"] for t in project["teams"]]


def test_new_issue_alert_emails_the_team(converged):
    backend, _, _, _, _ = converged
    team = next(t for t in backend.api("GET", f"organizations/{ORG}/teams/").json() if t["slug"] == "dermai")
    for slug in PROJECTS.values():
        rules = {r["name"]: r for r in backend.api("GET", f"projects/{ORG}/{slug}/rules/").json()}
        assert set(rules) == {"New issue", "High-frequency issue", "Regression"}
        new_issue = rules["New issue"]
        assert [c["id"] for c in new_issue["conditions"]] == [
            "sentry.rules.conditions.first_seen_event.FirstSeenEventCondition"
        ]
        [action] = new_issue["actions"]
        assert action["id"] == "sentry.mail.actions.NotifyEmailAction"
        assert action["targetType"] == "Team"
        assert str(action["targetIdentifier"]) == str(team["id"])


def test_error_spike_is_a_ten_minute_metric_alert_per_project(converged):
    backend, _, _, _, _ = converged
    rules = backend.api("GET", f"organizations/{ORG}/alert-rules/").json()
    spikes = {r["name"]: r for r in rules if "Error spike" in r["name"]}
    assert set(spikes) == {
        "DermAI API - Error spike (100+ errors in 10 minutes)",
        "DermAI Web - Error spike (100+ errors in 10 minutes)",
    }
    for rule in spikes.values():
        assert rule["timeWindow"] == 10
        assert rule["aggregate"] == "count()"
        assert [t["alertThreshold"] for t in rule["triggers"] if t["label"] == "critical"] == [100]


def test_slow_endpoint_alert_is_absent_without_performance_monitoring(converged):
    backend, _, _, _, _ = converged
    rules = backend.api("GET", f"organizations/{ORG}/alert-rules/").json()
    assert not [r for r in rules if "p95" in r["aggregate"]]


def test_second_run_reports_no_change(converged):
    _, first, second, _, _ = converged
    assert first.changed > 0
    assert second.changed == 0, second.changed_tasks()


def test_second_run_keeps_the_same_dsns(converged):
    _, first, second, _, _ = converged
    assert second.env_values() == first.env_values()


def test_second_run_sends_get_requests_only(converged):
    _, _, _, log, _ = converged
    assert log, "the double logged no request of the second run"
    assert {method for method, _, _ in log} == {"GET"}


def test_second_run_sends_at_most_one_get_per_managed_object_plus_pagination(converged):
    _, _, _, log, _ = converged
    # The preflight probe reads before any write: the token (/api/0/), the organization, whether
    # metric alerts can be held. The CI credential block (sentry-apps) manages objects of its own and
    # the alert modules read the workflow engine back (/workflows/, /detectors/): counted apart.
    probe = [
        ("GET", "/api/0/"),
        ("GET", f"/api/0/organizations/{ORG}/"),
        ("GET", f"/api/0/organizations/{ORG}/alert-rules/"),
    ]
    assert [(m, p.split("?")[0]) for m, p, _ in log[:3]] == probe
    rest = [r for r in log[3:] if not any(part in r[1] for part in ("/sentry-apps/", "/workflows/", "/detectors/"))]
    # organization + team + 2 projects + 2 keys + 2x3 issue alerts + 2 metric alerts
    managed_objects = 1 + 1 + 2 + 2 + 6 + 2
    follow_up_pages = sum(1 for _, path, _ in rest if "cursor=" in path)
    assert len(rest) <= managed_objects + follow_up_pages, rest


@pytest.fixture(scope="module")
def variant(tmp_path_factory):
    """A second inventory variant: production + staging, performance monitoring on."""
    environments = [
        {"name": "production", "traces_sample_rate": 0.1, "error_rate_limit": 200},
        {"name": "staging", "traces_sample_rate": 0.5, "error_rate_limit": 50},
    ]
    extra_vars = {"sentry_config_environments": environments, "sentry_config_performance_monitoring": True}
    with double_session(tmp_path_factory.mktemp("variant")) as (backend, _, configure):
        run = configure(extra_vars=extra_vars)
        assert_ok(run)
        yield backend, run


def test_a_further_environment_gets_its_own_env_file(variant):
    _, run = variant
    staging, production = run.env_values("staging"), run.env_values("production")
    assert staging["SENTRY_ENVIRONMENT"] == staging["VITE_ENVIRONMENT"] == "staging"
    assert staging["SENTRY_TRACES_SAMPLE_RATE"] == "0.5"
    assert staging["SENTRY_ERROR_RATE_LIMIT"] == "50"
    assert staging["SENTRY_DSN"] != production["SENTRY_DSN"]
    assert stat.S_IMODE(run.env_file("staging").stat().st_mode) == 0o600


def test_a_further_environment_gets_its_own_rate_limited_keys(variant):
    backend, run = variant
    staging = run.env_values("staging")
    for slug, variable in (("dermai-api", "SENTRY_DSN"), ("dermai-web", "VITE_SENTRY_DSN")):
        keys = {k["name"]: k for k in backend.api("GET", f"projects/{ORG}/{slug}/keys/").json()}
        assert set(keys) == {f"{slug}-production", f"{slug}-staging"}
        assert keys[f"{slug}-staging"]["rateLimit"] == {"window": 60, "count": 50}
        assert keys[f"{slug}-staging"]["dsn"]["public"] == staging[variable]


def test_performance_monitoring_adds_the_p95_latency_alert_on_the_backend(variant):
    backend, _ = variant
    rules = backend.api("GET", f"organizations/{ORG}/alert-rules/").json()
    slow = [r for r in rules if r["aggregate"] == "p95(transaction.duration)"]
    assert [r["name"] for r in slow] == ["DermAI API - Slow endpoints (p95 over 1.5 s)"]
    assert slow[0]["dataset"] == "generic_metrics"


def test_https_url_prefix_gives_https_dsns(backend_factory, configure):
    backend = backend_factory(url_prefix="https://sentry.dermai.test")
    run = configure(backend, "--tags", "sentry_config_env_files")
    assert_ok(run)
    dsn = run.env_values()["SENTRY_DSN"]
    assert re.fullmatch(r"https://[0-9a-f]{32}@sentry\.dermai\.test/\d+", dsn), dsn


def test_check_mode_on_a_fresh_sentry_writes_nothing(backend_factory, configure):
    backend = backend_factory()
    run = configure(backend, "--check", "--diff")
    assert_ok(run)
    assert run.changed > 0
    assert not list(run.env_dir.iterdir())
    assert {method for method, _, _ in backend.requests_log()} == {"GET"}


def test_check_mode_after_a_converge_reports_no_change(converged):
    _, _, _, _, check = converged
    assert_ok(check)
    assert check.changed == 0, check.changed_tasks()


def test_metric_alerts_can_be_switched_off_for_a_sentry_without_snuba(backend_factory, configure):
    backend = backend_factory()
    backend.metric_alerts = False
    run = configure(backend, "--tags", "sentry_config_alerts")
    assert_ok(run)
    assert [p for _, p, _ in backend.requests_log() if "/rules/" in p]
    assert not [p for _, p, _ in backend.requests_log() if "alert-rules" in p]
