"""Bearer authentication and scope checks behave like Sentry's permission classes."""

from __future__ import annotations


def test_missing_authorization_is_401_with_sentry_detail(double):
    from tests.sentry_double.samples import Client

    response = Client(double.url, None).get("/organizations/sentry/")
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}


def test_unknown_token_is_401_invalid_token(double):
    from tests.sentry_double.samples import Client

    response = Client(double.url, "sntryu_" + "f" * 64).get("/organizations/sentry/")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token"}


def test_token_without_write_scope_gets_403_on_team_create(limited):
    response = limited.post("/organizations/sentry/teams/", json={"slug": "dermai"})
    assert response.status_code == 403
    assert response.json() == {"detail": "You do not have permission to perform this action."}


def test_read_scope_is_enough_to_read_the_organization(limited):
    assert limited.get("/organizations/sentry/").status_code == 200


def test_unknown_organization_is_404(api):
    response = api.get("/organizations/nope/")
    assert response.status_code == 404
    assert response.json() == {"detail": "The requested resource does not exist"}


def test_admin_scope_implies_read_through_hierarchy(double):
    from tests.sentry_double.samples import Client

    token = "sntryu_" + "2" * 64
    double.add_token(token, ["org:admin"])
    client = Client(double.url, token)
    assert client.get("/organizations/sentry/").status_code == 200
    assert client.get("/projects/sentry/internal/").status_code == 403


def test_api_index_reports_token_scopes(api):
    body = api.get("/").json()
    assert "project:write" in body["auth"]["scopes"]
    assert body["user"]["id"] == "1"


def test_request_log_records_method_path_and_status(double, api):
    double.clear_requests()
    api.get("/organizations/sentry/")
    api.get("/organizations/nope/")
    assert double.requests == [
        ("GET", "/api/0/organizations/sentry/", 200),
        ("GET", "/api/0/organizations/nope/", 404),
    ]


def test_request_log_is_served_over_http(double, api):
    import requests

    double.clear_requests()
    api.put("/organizations/sentry/", json={"dataScrubber": True})
    log = requests.get(double.url + "/__double__/requests", timeout=5).json()
    assert log == [["PUT", "/api/0/organizations/sentry/", 200]]


def test_health_endpoint_answers_ok(double):
    import requests

    response = requests.get(double.url + "/_health/", timeout=5)
    assert (response.status_code, response.text) == (200, "ok")


def test_injected_fault_answers_then_clears(double, api):
    double.inject_fault(status=503, count=2, method="PUT", path=r"/organizations/sentry/$")
    statuses = [api.put("/organizations/sentry/", json={}).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    assert api.get("/organizations/sentry/").status_code == 200


def test_fault_can_be_injected_over_http_with_headers(double, api):
    import requests

    spec = {"status": 429, "count": 1, "headers": {"Retry-After": "1"}, "path": "/teams/"}
    assert requests.post(double.url + "/__double__/faults", json=spec, timeout=5).status_code == 201
    response = api.get("/organizations/sentry/teams/")
    assert (response.status_code, response.headers["Retry-After"]) == (429, "1")
    assert api.get("/organizations/sentry/teams/").status_code == 200
