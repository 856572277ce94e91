"""deploy/configure.yml against the real Sentry 23.7.1 server: converges, and a rerun changes nothing.

The real server has no Snuba (metric alerts answer 404) and no Relay (no ingestion), so metric alerts
are switched off (SENTRY_METRIC_ALERTS=false) and the SDK round trip stays with the double. The server's
database is cached between runs and it refuses new organizations (single-organization mode), so each
session configures its own team and projects (slugs with a random suffix) in the organization `sentry`.
"""

from __future__ import annotations

import os
import re
import secrets

import pytest

from tests.unit.configure.runner import Backend, assert_ok, run_configure

pytestmark = [pytest.mark.real_sentry, pytest.mark.slow]


@pytest.fixture(scope="module")
def real_converged(tmp_path_factory):
    from tests.real_sentry.backend import RealSentrySkipped, RealSentryUnavailable, start_real_sentry

    try:
        server = start_real_sentry()
    except RealSentrySkipped as exc:
        pytest.skip(str(exc))
    except RealSentryUnavailable as exc:
        pytest.fail(f"real Sentry unavailable: {exc}\n(set REAL_SENTRY=0 to skip locally)", pytrace=False)
    backend = Backend(url=server.url.rstrip("/"), token=server.token, url_prefix=server.url, metric_alerts=False)
    org, suffix = "sentry", secrets.token_hex(3)
    extra_vars = {
        "sentry_config_team": {"slug": f"dermai-{suffix}", "name": f"DermAI {suffix}"},
        "sentry_config_projects": [
            {
                "slug": f"dermai-api-{suffix}",
                "name": f"DermAI API {suffix}",
                "platform": "python-fastapi",
                "kind": "backend",
                "subject_prefix": "[DermAI-API]",
            },
            {
                "slug": f"dermai-web-{suffix}",
                "name": f"DermAI Web {suffix}",
                "platform": "javascript-react",
                "kind": "frontend",
                "subject_prefix": "[DermAI-Web]",
            },
        ],
    }
    base = tmp_path_factory.mktemp("real")
    env_dir = base / "env"
    env_dir.mkdir()
    try:
        first = run_configure(backend, env_dir, base / "token", extra_vars=extra_vars)
        assert_ok(first)
        second = run_configure(backend, env_dir, base / "token", extra_vars=extra_vars)
        yield backend, org, suffix, first, second
    finally:
        if server.started_here and os.environ.get("REAL_SENTRY_KEEP") != "1":
            server.stop()


def test_real_sentry_second_run_reports_no_change(real_converged):
    _, _, _, _, second = real_converged
    assert_ok(second)
    assert second.changed == 0, second.changed_tasks()


def test_real_sentry_env_production_has_the_backend_projects_dsn(real_converged):
    backend, org, suffix, first, _ = real_converged
    dsn = first.env_values()["SENTRY_DSN"]
    match = re.fullmatch(r"https?://([0-9a-f]{32})@[^/]+/(\d+)", dsn)
    assert match, dsn
    project = backend.api("GET", f"projects/{org}/dermai-api-{suffix}/").json()
    assert match[2] == str(project["id"])
    keys = backend.api("GET", f"projects/{org}/dermai-api-{suffix}/keys/").json()
    assert [(k["name"], k["rateLimit"], k["dsn"]["public"]) for k in keys] == [
        (f"dermai-api-{suffix}-production", {"window": 60, "count": 200}, dsn)
    ]


def test_real_sentry_accepts_the_privacy_settings(real_converged):
    backend, org, _, _, _ = real_converged
    settings = backend.api("GET", f"organizations/{org}/").json()
    assert (settings["dataScrubber"], settings["scrubIPAddresses"], settings["storeCrashReports"]) == (True, True, 0)
    assert (settings["enhancedPrivacy"], settings["allowSharedIssues"], settings["openMembership"]) == (
        True,
        False,
        False,
    )
    assert "dermai_patient_id" in settings["relayPiiConfig"]


def test_real_sentry_has_the_issue_alerts(real_converged):
    backend, org, suffix, _, _ = real_converged
    for slug in (f"dermai-api-{suffix}", f"dermai-web-{suffix}"):
        resp = backend.api("GET", f"projects/{org}/{slug}/rules/")
        assert resp.status_code == 200
        assert sorted(r["name"] for r in resp.json()) == ["High-frequency issue", "New issue", "Regression"]
