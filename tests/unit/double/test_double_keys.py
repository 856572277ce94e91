"""Client keys: DSNs built from the url-prefix, rate limits, CRUD status codes."""

from __future__ import annotations

import re

from tests.sentry_double.server import start_double


def test_dsn_is_built_from_url_prefix_public_key_and_project_id(api, project):
    key = api.get("/projects/sentry/dermai-api/keys/").json()[0]
    assert key["dsn"]["public"] == f"https://{key['public']}@sentry.dermai.test/{project['id']}"
    assert key["dsn"]["secret"] == f"https://{key['public']}:{key['secret']}@sentry.dermai.test/{project['id']}"
    assert key["dsn"]["csp"] == f"https://sentry.dermai.test/api/{project['id']}/csp-report/?sentry_key={key['public']}"


def test_dsn_keeps_a_path_in_the_url_prefix():
    with start_double(url_prefix="https://example.test/sentry") as double:
        dsn = double.dsn("internal")
    assert re.fullmatch(r"https://[0-9a-f]{32}@example\.test/sentry/1", dsn)


def test_dsn_is_empty_without_a_scheme_and_host():
    with start_double(url_prefix="not-a-url") as double:
        assert double.dsn("internal") == ""


def test_key_create_is_201_with_rate_limit(api, project):
    body = {"name": "dermai-api-prod", "rateLimit": {"window": 60, "count": 1000}}
    response = api.post("/projects/sentry/dermai-api/keys/", json=body)
    assert response.status_code == 201
    assert response.json()["rateLimit"] == {"window": 60, "count": 1000}
    assert response.json()["name"] == "dermai-api-prod"


def test_rate_limit_needs_both_count_and_window(api, project):
    body = {"name": "half", "rateLimit": {"window": 60, "count": 0}}
    assert api.post("/projects/sentry/dermai-api/keys/", json=body).json()["rateLimit"] is None


def test_rate_limit_window_above_one_day_is_400(api, project):
    body = {"name": "x", "rateLimit": {"window": 86401, "count": 10}}
    response = api.post("/projects/sentry/dermai-api/keys/", json=body)
    assert response.status_code == 400
    assert response.json()["rateLimit"]["window"] == ["Ensure this value is less than or equal to 86400."]


def test_key_put_sets_and_null_removes_rate_limit(api, project):
    key_id = api.get("/projects/sentry/dermai-api/keys/").json()[0]["id"]
    path = f"/projects/sentry/dermai-api/keys/{key_id}/"
    limited = api.put(path, json={"rateLimit": {"window": 60, "count": 5}})
    assert limited.json()["rateLimit"] == {"window": 60, "count": 5}
    assert api.put(path, json={"rateLimit": None}).json()["rateLimit"] is None
    assert api.get(path).json()["rateLimit"] is None


def test_pinned_public_and_secret_are_used(api, project):
    body = {"name": "pinned", "public": "a" * 32, "secret": "b" * 32}
    key = api.post("/projects/sentry/dermai-api/keys/", json=body).json()
    assert (key["id"], key["secret"]) == ("a" * 32, "b" * 32)


def test_bad_pinned_public_key_is_400(api, project):
    response = api.post("/projects/sentry/dermai-api/keys/", json={"name": "x", "public": "XYZ"})
    assert response.status_code == 400


def test_unknown_key_is_404(api, project):
    assert api.get("/projects/sentry/dermai-api/keys/" + "0" * 32 + "/").status_code == 404


def test_key_delete_is_204(api, project):
    key_id = api.get("/projects/sentry/dermai-api/keys/").json()[0]["id"]
    assert api.delete(f"/projects/sentry/dermai-api/keys/{key_id}/").status_code == 204
    assert api.get("/projects/sentry/dermai-api/keys/").json() == []


def test_status_filter_lists_only_active_keys(api, project):
    key_id = api.get("/projects/sentry/dermai-api/keys/").json()[0]["id"]
    api.put(f"/projects/sentry/dermai-api/keys/{key_id}/", json={"isActive": False})
    assert api.get("/projects/sentry/dermai-api/keys/", params={"status": "active"}).json() == []
