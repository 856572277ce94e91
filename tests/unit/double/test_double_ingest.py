"""Ingest endpoints: key authentication, key rate limits, PII scrubbing before storage."""

from __future__ import annotations

import gzip
import json
import uuid

import requests

from tests.sentry_double.samples import Client
from tests.sentry_double.server import start_double


def first_key(api, slug="dermai-api"):
    return api.get(f"/projects/sentry/{slug}/keys/").json()[0]


def store(double, project_id, key, event, **kwargs):
    headers = {"X-Sentry-Auth": f"Sentry sentry_version=7, sentry_key={key}, sentry_client=test/1"}
    return requests.post(f"{double.url}/api/{project_id}/store/", json=event, headers=headers, timeout=5, **kwargs)


def envelope(event_id, dsn, event):
    lines = [
        json.dumps({"event_id": event_id, "dsn": dsn}),
        json.dumps({"type": "event"}),
        json.dumps(event),
    ]
    return ("\n".join(lines) + "\n").encode()


def test_store_with_auth_header_stores_the_event(double, api, project):
    key = first_key(api)["public"]
    event_id = uuid.uuid4().hex
    response = store(double, project["id"], key, {"event_id": event_id, "message": "hello"})
    assert response.json() == {"id": event_id}
    stored = api.get(f"/projects/sentry/dermai-api/events/{event_id}/").json()
    assert stored["message"] == "hello"


def test_store_accepts_key_in_query_string(double, api, project):
    key = first_key(api)["public"]
    response = requests.post(
        f"{double.url}/api/{project['id']}/store/?sentry_key={key}&sentry_version=7", json={"message": "q"}, timeout=5
    )
    assert response.status_code == 200


def test_envelope_authenticated_by_its_dsn_header(double, api, project):
    key = first_key(api)
    event_id = uuid.uuid4().hex
    body = gzip.compress(envelope(event_id, key["dsn"]["public"], {"message": "from envelope"}))
    response = requests.post(
        f"{double.url}/api/{project['id']}/envelope/",
        data=body,
        headers={"Content-Encoding": "gzip", "Content-Type": "application/x-sentry-envelope"},
        timeout=5,
    )
    assert response.json() == {"id": event_id}
    assert api.get(f"/projects/sentry/dermai-api/events/{event_id}/").status_code == 200


def test_missing_key_is_401(double, project):
    response = requests.post(f"{double.url}/api/{project['id']}/store/", json={"message": "x"}, timeout=5)
    assert response.status_code == 401


def test_key_of_another_project_is_403(double, api, project):
    other_key = first_key(api, "internal")["public"]
    assert store(double, project["id"], other_key, {"message": "x"}).status_code == 403


def test_disabled_key_is_403(double, api, project):
    key = first_key(api)
    api.put(f"/projects/sentry/dermai-api/keys/{key['id']}/", json={"isActive": False})
    assert store(double, project["id"], key["public"], {"message": "x"}).status_code == 403


def test_rate_limited_key_answers_429_with_sentry_headers(double, api, project):
    key = first_key(api)
    api.put(f"/projects/sentry/dermai-api/keys/{key['id']}/", json={"rateLimit": {"window": 3600, "count": 2}})
    statuses = [store(double, project["id"], key["public"], {"message": str(i)}).status_code for i in range(3)]
    limited = store(double, project["id"], key["public"], {"message": "over"})
    assert statuses == [200, 200, 429]
    assert 0 < int(limited.headers["Retry-After"]) <= 3600
    retry, categories, scope, reason = limited.headers["X-Sentry-Rate-Limits"].split(":")
    assert (categories, scope, reason) == ("default;error;security", "key", "key_quota")
    assert retry == limited.headers["Retry-After"]


def test_events_are_scrubbed_with_org_and_project_settings(double, api, project):
    api.put(
        "/organizations/sentry/",
        json={"dataScrubber": True, "scrubIPAddresses": True, "sensitiveFields": ["mrn"]},
    )
    api.put(
        "/projects/sentry/dermai-api/",
        json={"relayPiiConfig": json.dumps({"applications": {"$string": ["@email:replace"]}})},
    )
    key = first_key(api)["public"]
    event_id = uuid.uuid4().hex
    event = {
        "event_id": event_id,
        "message": "contact jane.doe@example.com",
        "user": {"ip_address": "203.0.113.7", "email": "jane.doe@example.com"},
        "extra": {"mrn": "DM-12345678", "card": "4111 1111 1111 1111", "note": "kept"},
    }
    store(double, project["id"], key, event)
    stored = api.get(f"/projects/sentry/dermai-api/events/{event_id}/").json()
    text = json.dumps(stored)
    assert "jane.doe@example.com" not in text
    assert "203.0.113.7" not in text
    assert "DM-12345678" not in text
    assert "4111 1111 1111 1111" not in text
    assert stored["context"]["note"] == "kept"


def test_project_defaults_scrub_passwords_even_without_org_settings(double, api, project):
    key = first_key(api)["public"]
    event_id = uuid.uuid4().hex
    store(double, project["id"], key, {"event_id": event_id, "extra": {"password": "hunter2"}})
    stored = api.get(f"/projects/sentry/dermai-api/events/{event_id}/").json()
    assert stored["context"]["password"] == "[Filtered]"


def test_unknown_event_is_404(api, project):
    assert api.get(f"/projects/sentry/dermai-api/events/{uuid.uuid4().hex}/").status_code == 404


def test_event_environment_makes_rule_environment_valid(double, api, project):
    from tests.sentry_double.samples import issue_rule

    store(double, project["id"], first_key(api)["public"], {"message": "x", "environment": "production"})
    assert api.post("/projects/sentry/dermai-api/rules/", json=issue_rule(environment="production")).status_code == 200


def test_state_file_keeps_events_and_config_across_restart(tmp_path):
    state = tmp_path / "state.json"
    with start_double(state_file=str(state)) as first:
        api = Client(first.url, first.token)
        api.post("/organizations/sentry/teams/", json={"slug": "dermai"})
    assert oct(state.stat().st_mode & 0o777) == "0o600"
    with start_double(state_file=str(state)) as second:
        api = Client(second.url, second.token)
        assert [t["slug"] for t in api.get("/organizations/sentry/teams/").json()] == ["dermai", "sentry"]


def test_state_file_does_not_contain_tokens(tmp_path):
    state = tmp_path / "state.json"
    with start_double(state_file=str(state)) as double:
        token = double.token
    assert token not in state.read_text()


def test_event_store_is_bounded_and_drops_the_oldest_first(double, api, project, monkeypatch):
    from tests.sentry_double import ingest

    monkeypatch.setattr(ingest, "MAX_STORED_EVENTS", 3)
    key = first_key(api)["public"]
    ids = [uuid.uuid4().hex for _ in range(5)]
    for event_id in ids:
        assert store(double, project["id"], key, {"event_id": event_id, "message": event_id}).status_code == 200
    found = [api.get(f"/projects/sentry/dermai-api/events/{event_id}/").status_code for event_id in ids]
    assert found == [404, 404, 200, 200, 200]
