"""Environment-scoped alerts (issue 12, item 2) against the double.

Sentry refuses an alert on an environment it has not seen; on a self-hosted install the role creates
the environment on the Sentry host with `sentry exec` (roles/sentry_config/files/ensure_environments.py,
tested against real Sentry 23.7.1 in tests/unit/real_sentry/test_configure_validation.py). Here the
double stands for Sentry: the environments are made to exist in its state the way that script makes
them exist, and the run must then scope the alert to it and converge.
"""

from __future__ import annotations

import pytest

from tests.unit.configure.runner import ORG, assert_ok

pytestmark = pytest.mark.slow

STAGING_ALERT = {
    "name": "Staging regression",
    "projects": ["dermai-api"],
    "environment": "staging",
    "conditions": [{"id": "sentry.rules.conditions.regression_event.RegressionEventCondition"}],
}
METRIC = {
    "name": "Production spike",
    "aggregate": "count()",
    "time_window": 10,
    "critical": 50,
    "kinds": ["backend"],
    "environment": "production",
}
VARS = {
    "sentry_config_environments": [{"name": "production"}, {"name": "staging"}],
    "sentry_config_issue_alerts": [STAGING_ALERT],
    "sentry_config_metric_alerts": [METRIC],
}


def test_an_alert_scoped_to_an_existing_environment_is_created_and_converges(backend_factory, configure):
    backend = backend_factory()
    double = backend.server
    assert_ok(configure(backend))  # the projects exist first, as on a real install
    with double.state.lock:  # what ensure_environments.py does on a real Sentry, after the projects
        double.state.data["environments"].setdefault(ORG, []).extend(["production", "staging"])
    scoped = configure(backend, extra_vars=VARS)
    assert_ok(scoped)
    rules = {r["name"]: r for r in backend.api("GET", f"projects/{ORG}/dermai-api/rules/").json()}
    assert rules["Staging regression"]["environment"] == "staging"
    assert rules["New issue"]["environment"] is None
    [metric] = [r for r in backend.api("GET", f"organizations/{ORG}/alert-rules/").json() if "Production" in r["name"]]
    assert metric["name"] == "DermAI API - Production spike" and metric["environment"] == "production"
    assert "issue alert: Staging regression [staging]" in scoped.stdout
    again = configure(backend, extra_vars=VARS)
    assert_ok(again)
    assert again.changed == 0, again.changed_tasks()
