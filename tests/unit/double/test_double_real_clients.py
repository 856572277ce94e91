"""Real clients against the double: sentry-sdk sends an exception, sentry-cli manages releases."""

from __future__ import annotations

import json

import pytest

from tests.sentry_double.clients import PHI, sdk_capture, sentry_cli
from tests.sentry_double.samples import Client
from tests.sentry_double.server import start_double

PII_CONFIG = {"applications": {"$string": ["@email:replace", "@creditcard:mask"]}}


@pytest.fixture
def own_prefix_double():
    """DSNs point at the double itself so the SDK really delivers to it."""
    handle = start_double()
    yield handle
    handle.stop()


@pytest.fixture
def configured(own_prefix_double):
    api = Client(own_prefix_double.url, own_prefix_double.token)
    api.post("/organizations/sentry/teams/", json={"slug": "dermai"})
    body = {"name": "dermai-api", "slug": "dermai-api", "platform": "python-fastapi", "default_rules": False}
    assert api.post("/teams/sentry/dermai/projects/", json=body).status_code == 201
    privacy = {
        "dataScrubber": True,
        "dataScrubberDefaults": True,
        "scrubIPAddresses": True,
        "sensitiveFields": ["mrn"],
        "relayPiiConfig": json.dumps(PII_CONFIG),
    }
    assert api.put("/organizations/sentry/", json=privacy).status_code == 200
    return own_prefix_double, api


def test_sdk_exception_is_stored_without_phi(configured):
    _double, api = configured
    dsn = api.get("/projects/sentry/dermai-api/keys/").json()[0]["dsn"]["public"]
    event_id = sdk_capture(dsn)
    response = api.get(f"/projects/sentry/dermai-api/events/{event_id}/")
    assert response.status_code == 200
    event = response.json()
    assert event["title"].startswith("ValueError: classification failed")
    text = json.dumps(event)
    leaked = [name for name, value in PHI.items() if value in text]
    assert leaked == []


def test_sdk_delivers_through_the_envelope_endpoint(configured):
    double, api = configured
    dsn = api.get("/projects/sentry/dermai-api/keys/").json()[0]["dsn"]["public"]
    double.clear_requests()
    sdk_capture(dsn)
    project_id = dsn.rsplit("/", 1)[1]
    assert ("POST", f"/api/{project_id}/envelope/", 200) in double.requests


def test_sdk_event_environment_is_recorded(configured):
    _double, api = configured
    dsn = api.get("/projects/sentry/dermai-api/keys/").json()[0]["dsn"]["public"]
    sdk_capture(dsn, environment="staging")
    names = [e["name"] for e in api.get("/projects/sentry/dermai-api/environments/").json()]
    assert names == ["staging"]


def test_sentry_cli_creates_finalizes_and_deploys_a_release(configured):
    double, api = configured
    version = "dermai-api@1.4.2"
    for args in (
        ("releases", "new", version),
        ("releases", "finalize", version),
        ("deploys", "new", "--release", version, "-e", "production", "-n", "deploy-1"),
    ):
        result = sentry_cli(double.url, double.token, "sentry", "dermai-api", *args)
        assert result.returncode == 0, result.stderr[-2000:]
    release = api.get(f"/organizations/sentry/releases/{version}/").json()
    assert [p["slug"] for p in release["projects"]] == ["dermai-api"]
    assert release["dateReleased"] is not None
    assert release["userAgent"].startswith("sentry-cli/")
    deploys = api.get(f"/organizations/sentry/releases/{version}/deploys/").json()
    assert [(d["environment"], d["name"]) for d in deploys] == [("production", "deploy-1")]


def test_sentry_cli_release_new_twice_is_idempotent(configured):
    double, _api = configured
    for _ in range(2):
        result = sentry_cli(double.url, double.token, "sentry", "dermai-api", "releases", "new", "dermai-api@2.0.0")
        assert result.returncode == 0, result.stderr[-2000:]
    statuses = [s for m, p, s in double.requests if m == "POST" and p.endswith("/releases/")]
    assert statuses == [201, 208]


def test_sentry_cli_with_a_bad_token_fails(configured):
    double, _api = configured
    result = sentry_cli(double.url, "sntryu_" + "0" * 64, "sentry", "dermai-api", "releases", "new", "x@1")
    assert result.returncode != 0


def test_sdk_event_keeps_phi_when_scrubbing_is_off(own_prefix_double):
    api = Client(own_prefix_double.url, own_prefix_double.token)
    api.put("/projects/sentry/internal/", json={"dataScrubber": False, "dataScrubberDefaults": False})
    event_id = sdk_capture(own_prefix_double.dsn("internal"))
    text = json.dumps(api.get(f"/projects/sentry/internal/events/{event_id}/").json())
    assert PHI["email"] in text
    assert PHI["card"] in text
