"""The CI credential (dermai.sentry.sentry_internal_integration) against the Sentry double."""

from __future__ import annotations

import json

from tests.unit.releases.conftest import ORG, credential, run_module


def writes(double, since=0):
    return [(m, p) for m, p, _s in double.requests[since:] if m in ("POST", "PUT", "DELETE")]


def app_tokens(double):
    return [t["token"] for t in double.state.data["app_tokens"].values()]


def test_first_run_creates_an_internal_integration_with_release_scopes_and_one_token(double, api):
    result = credential(double.url, double.token)
    assert not result["failed"], result
    assert result["changed"] and result["token_changed"]
    assert result["integration"]["status"] == "internal"
    assert sorted(result["integration"]["scopes"]) == ["org:read", "project:releases"]
    assert app_tokens(double) == [result["new_token"]]
    who = api.call("GET", "", token=result["new_token"]).json()
    assert sorted(who["auth"]["scopes"]) == ["org:read", "project:releases"]


def test_ci_token_cannot_change_organization_settings(double, api):
    token = credential(double.url, double.token)["new_token"]
    assert api.call("GET", f"organizations/{ORG}/", token=token).status_code == 200
    denied = api.call("PUT", f"organizations/{ORG}/", {"openMembership": True}, token=token)
    assert denied.status_code == 403
    assert denied.json() == {"detail": "You do not have permission to perform this action."}
    assert api.call("DELETE", f"projects/{ORG}/dermai-web/", token=token).status_code == 403
    assert (
        api.call(
            "POST", f"organizations/{ORG}/releases/", {"version": "web@1", "projects": ["dermai-web"]}, token=token
        ).status_code
        == 201
    )


def test_ci_token_is_refused_in_another_organization(double, api):
    with double.state.lock:
        double.state.create_org("other", "Other")
    token = credential(double.url, double.token)["new_token"]
    assert api.call("GET", "organizations/other/", token=token).status_code == 403


def test_rerun_with_the_stored_token_changes_nothing_and_creates_no_second_credential(double):
    token = credential(double.url, double.token)["new_token"]
    mark = len(double.requests)
    again = credential(double.url, double.token, current_token=token)
    assert not again["failed"], again
    assert again["changed"] is False and again["token_changed"] is False
    assert "new_token" not in again
    assert writes(double, mark) == []
    assert len(double.state.data["sentry_apps"]) == 1
    assert app_tokens(double) == [token]


def test_rotation_issues_a_new_token_and_the_old_one_stops_working(double, api):
    old = credential(double.url, double.token)["new_token"]
    rotated = credential(double.url, double.token, current_token=old, rotate=True)
    assert rotated["changed"] and rotated["token_changed"]
    new = rotated["new_token"]
    assert new != old
    assert app_tokens(double) == [new]
    gone = api.call("GET", f"organizations/{ORG}/", token=old)
    assert gone.status_code == 401 and gone.json() == {"detail": "Invalid token"}
    assert api.call("GET", f"organizations/{ORG}/", token=new).status_code == 200


def test_a_lost_or_wrong_stored_token_is_replaced_not_added(double):
    credential(double.url, double.token)
    result = credential(double.url, double.token, current_token="0" * 64)
    assert result["token_changed"]
    assert app_tokens(double) == [result["new_token"]]


def test_changed_scopes_are_applied_to_the_integration_and_its_token(double, api):
    token = credential(double.url, double.token)["new_token"]
    result = credential(double.url, double.token, current_token=token, scopes=["project:releases"])
    assert result["changed"] and not result["token_changed"]
    assert result["diff"]["before"]["scopes"] == ["org:read", "project:releases"]
    assert result["diff"]["after"]["scopes"] == ["project:releases"]
    assert api.call("GET", f"organizations/{ORG}/", token=token).status_code == 403


def test_check_mode_predicts_creation_without_writing(double):
    mark = len(double.requests)
    result = run_module(
        dict(url=double.url, token=double.token, organization=ORG, name="DermAI CI releases"), check=True
    )
    assert result["changed"] and result["token_changed"] and "new_token" not in result
    assert writes(double, mark) == []


def test_unknown_scope_is_refused_before_any_request(double):
    mark = len(double.requests)
    result = credential(double.url, double.token, scopes=["project:releases", "project:release"])
    assert result["failed"]
    assert "project:release" in result["msg"] and "allowed:" in result["msg"]
    assert double.requests[mark:] == []


def test_results_never_carry_a_token_except_the_new_one(double):
    first = credential(double.url, double.token)
    token = first["new_token"]
    for result in (first, credential(double.url, double.token, current_token=token)):
        text = json.dumps({k: v for k, v in result.items() if k != "new_token"})
        assert token not in text and double.token not in text


def test_sentry_refusing_token_auth_on_the_token_endpoints_gives_a_clear_error(double):
    credential(double.url, double.token)
    # Releases after 23.7.1 accept only a signed-in session there (SessionNoAuthTokenAuthentication).
    double.inject_fault(status=401, method="GET", path=r"/api-tokens/$", body={"detail": "Invalid token"})
    result = credential(double.url, double.token, current_token="")
    assert result["failed"]
    assert "accepts only a signed-in session" in result["msg"]
    assert "Sentry's own code" in result["msg"]
    assert double.token not in result["msg"]


def test_without_token_api_the_module_still_ensures_the_integration_and_says_so(double):
    double.inject_fault(status=401, method="GET", path=r"/api-tokens/$", body={"detail": "Invalid token"})
    result = credential(double.url, double.token, require_token_api=False)
    assert not result["failed"], result
    assert result["changed"] and result["token_api"] is False and not result["token_changed"]
    assert "new_token" not in result
    assert [a["name"] for a in double.state.data["sentry_apps"].values()] == ["DermAI CI releases"]


def test_absent_deletes_the_integration_and_its_tokens(double, api):
    token = credential(double.url, double.token)["new_token"]
    result = credential(double.url, double.token, state="absent")
    assert result["changed"]
    assert double.state.data["sentry_apps"] == {}
    assert api.call("GET", f"organizations/{ORG}/", token=token).status_code == 401
