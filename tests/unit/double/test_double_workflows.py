"""The double's release switch: 23.7.1 (legacy alerts only) and 26.8.0 (the workflow engine behind them),
and its fault injection (5xx with Retry-After, delays, dropped and applied-then-lost answers)."""

from __future__ import annotations

import time

import pytest
import requests

from tests.sentry_double import workflows
from tests.sentry_double.samples import issue_rule, metric_alert

RULES = "/projects/sentry/dermai-api/rules/"
ALERTS = "/organizations/sentry/alert-rules/"


def test_before_26_7_the_workflow_routes_do_not_exist(api, project):
    for path in ("/organizations/sentry/workflows/", "/organizations/sentry/detectors/"):
        assert api.get(path).status_code == 404
    rule = api.post(RULES, json=issue_rule()).json()
    assert api.get(f"/organizations/sentry/alert-rule-workflow/?rule_id={rule['id']}").status_code == 404


def test_on_26_8_an_issue_rule_is_dual_written_to_a_workflow_on_the_error_detector(double, api, project):
    double.set_release("26.8.0")
    rule = api.post(RULES, json=issue_rule()).json()
    mapping = api.get(f"/organizations/sentry/alert-rule-workflow/?rule_id={rule['id']}").json()
    assert mapping["ruleId"] == rule["id"] and mapping["alertRuleId"] is None
    workflow = api.get(f"/organizations/sentry/workflows/{mapping['workflowId']}/").json()
    assert workflow["name"] == rule["name"]
    assert workflow["config"] == {"frequency": 30}
    detector = api.get(f"/organizations/sentry/detectors/{workflow['detectorIds'][0]}/").json()
    assert (detector["type"], detector["projectId"]) == ("error", project["id"])
    assert detector["workflowIds"] == [workflow["id"]]
    api.put(f"{RULES}{rule['id']}/", json=issue_rule(frequency=60))
    assert api.get(f"/organizations/sentry/workflows/{mapping['workflowId']}/").json()["config"] == {"frequency": 60}
    api.delete(f"{RULES}{rule['id']}/")
    assert api.get(f"/organizations/sentry/alert-rule-workflow/?rule_id={rule['id']}").status_code == 404
    assert api.get(f"/organizations/sentry/detectors/{detector['id']}/").status_code == 200  # shared, kept


def test_rules_from_before_the_upgrade_get_a_workflow_only_when_written_again(double, api, team, project):
    rule = api.post(RULES, json=issue_rule()).json()
    alert = api.post(ALERTS, json=metric_alert(team["id"], resolveThreshold=None)).json()
    double.set_release("26.8.0")
    assert api.get(f"/organizations/sentry/alert-rule-workflow/?rule_id={rule['id']}").status_code == 404
    assert api.get(f"/organizations/sentry/alert-rule-detector/?alert_rule_id={alert['id']}").status_code == 404
    assert api.get(f"{ALERTS}{alert['id']}/").json()["resolveThreshold"] is None  # no detector to read it from
    api.put(f"{RULES}{rule['id']}/", json=issue_rule())
    api.put(f"{ALERTS}{alert['id']}/", json=metric_alert(team["id"], resolveThreshold=None))
    assert api.get(f"/organizations/sentry/alert-rule-workflow/?rule_id={rule['id']}").status_code == 200
    detector = api.get(f"/organizations/sentry/alert-rule-detector/?alert_rule_id={alert['id']}").json()
    assert api.get(f"/organizations/sentry/detectors/{detector['detectorId']}/").json()["type"] == "metric_issue"


def test_on_26_8_a_null_resolve_threshold_reads_back_as_the_warning_or_critical_threshold(double, api, team, project):
    double.set_release("26.8.0")
    body = metric_alert(team["id"], resolveThreshold=None)
    thresholds = {t["label"]: t["alertThreshold"] for t in body["triggers"]}
    alert = api.post(ALERTS, json=body).json()
    assert alert["resolveThreshold"] == thresholds.get("warning", thresholds["critical"])
    assert {t["resolveThreshold"] for t in alert["triggers"]} == {alert["resolveThreshold"]}


def test_a_ui_made_workflow_is_listed_with_a_manufactured_id_and_errors(double, api, project):
    double.set_release("26.8.0")
    org = double.state.find_org("sentry")
    with double.state.lock:
        stored = double.state.find_project("sentry", "dermai-api")
    ui = workflows.add_ui_workflow(double.state, org, stored, "Clicked together")
    listed = api.get(RULES).json()
    assert [r["id"] for r in listed] == [str(int(ui["id"]) + workflows.FAKE_ID_OFFSET)]
    assert listed[0]["errors"]
    assert api.get(f"/organizations/sentry/alert-rule-workflow/?workflow_id={ui['id']}").status_code == 404


def test_mapping_ids_must_be_integers(double, api, project):
    double.set_release("26.8.0")
    response = api.get("/organizations/sentry/alert-rule-workflow/?rule_id=abc")
    assert response.status_code == 400
    assert "rule_id" in response.json()


def test_the_release_survives_a_restart_through_the_state_file(tmp_path):
    from tests.sentry_double.server import start_double

    state = str(tmp_path / "state.json")
    first = start_double(state_file=state, release="26.8.0")
    first.stop()
    second = start_double(state_file=state)
    try:
        assert workflows.engine_on(second.state)
    finally:
        second.stop()


# ----------------------------------------------------------------------------- fault injection
def test_a_fault_answers_the_armed_status_and_headers_then_the_call_succeeds(double, api):
    double.inject_fault(status=429, count=1, method="GET", path="/teams/$", headers={"Retry-After": "3"})
    first = api.get("/organizations/sentry/teams/")
    assert (first.status_code, first.headers["Retry-After"]) == (429, "3")
    assert api.get("/organizations/sentry/teams/").status_code == 200


def test_a_delayed_answer_makes_a_client_time_out(double, api):
    double.inject_fault(status=200, method="GET", path="/teams/$", delay=1.0)
    with pytest.raises(requests.Timeout):
        api.session.get(api.base + "/organizations/sentry/teams/", timeout=0.3)


def test_a_dropped_answer_closes_the_connection_and_is_logged(double, api):
    double.inject_fault(method="GET", path="/teams/$", drop=True)
    with pytest.raises(requests.ConnectionError):
        api.get("/organizations/sentry/teams/")
    assert double.requests[-1] == ("GET", "/api/0/organizations/sentry/teams/", None)


def test_an_applied_fault_does_the_work_and_loses_the_answer(double, api):
    double.inject_fault(status=504, method="POST", path="/teams/$", apply=True)
    lost = api.post("/organizations/sentry/teams/", json={"slug": "lost", "name": "Lost"})
    assert lost.status_code == 504
    assert any(t["slug"] == "lost" for t in api.get("/organizations/sentry/teams/").json())
    assert double.bodies[-1] == ("POST", "/api/0/organizations/sentry/teams/", {"slug": "lost", "name": "Lost"})


def test_faults_are_armed_and_cleared_over_http(double, api):
    base = double.url + "/__double__/faults"
    armed = requests.post(base, json={"status": 503, "count": 5, "path": "/teams/$"}, timeout=5)
    assert armed.status_code == 201
    assert api.get("/organizations/sentry/teams/").status_code == 503
    assert requests.delete(base, timeout=5).status_code == 204
    assert api.get("/organizations/sentry/teams/").status_code == 200


def test_a_stopped_double_refuses_connections(double):
    url = double.url
    double.stop()
    start = time.monotonic()
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/_health/", timeout=5)
    assert time.monotonic() - start < 2
