"""Metric alert rules: 201/200/202, trigger ids kept on PUT, the self-hosted dataset rule."""

from __future__ import annotations

from tests.sentry_double.samples import metric_alert

ALERTS = "/organizations/sentry/alert-rules/"


def test_metric_alert_create_is_201(api, team, project):
    response = api.post(ALERTS, json=metric_alert(team["id"]))
    assert response.status_code == 201
    assert [t["label"] for t in response.json()["triggers"]] == ["critical", "warning"]


def test_transactions_dataset_is_rejected(api, team, project):
    response = api.post(ALERTS, json=metric_alert(team["id"], dataset="transactions"))
    assert response.status_code == 400
    assert "generic_metrics" in response.json()["dataset"][0]


def test_trigger_without_action_is_400(api, team, project):
    body = metric_alert(team["id"])
    body["triggers"][0]["actions"] = []
    assert api.post(ALERTS, json=body).status_code == 400


def test_first_trigger_must_be_critical(api, team, project):
    body = metric_alert(team["id"])
    body["triggers"] = body["triggers"][1:]
    response = api.post(ALERTS, json=body)
    assert response.status_code == 400
    assert "critical" in response.json()["nonFieldErrors"][0]


def test_put_keeps_trigger_ids_sent_back(api, team, project):
    created = api.post(ALERTS, json=metric_alert(team["id"])).json()
    body = metric_alert(team["id"])
    for sent, old in zip(body["triggers"], created["triggers"], strict=True):
        sent["id"] = old["id"]
    updated = api.put(f"{ALERTS}{created['id']}/", json=body).json()
    assert [t["id"] for t in updated["triggers"]] == [t["id"] for t in created["triggers"]]


def test_put_without_trigger_ids_recreates_triggers(api, team, project):
    created = api.post(ALERTS, json=metric_alert(team["id"])).json()
    updated = api.put(f"{ALERTS}{created['id']}/", json=metric_alert(team["id"])).json()
    assert {t["id"] for t in updated["triggers"]}.isdisjoint({t["id"] for t in created["triggers"]})


def test_list_filters_by_project_id(api, team, project):
    api.post(ALERTS, json=metric_alert(team["id"]))
    assert len(api.get(ALERTS, params={"project": project["id"]}).json()) == 1
    assert api.get(ALERTS, params={"project": "1"}).json() == []


def test_delete_is_202(api, team, project):
    created = api.post(ALERTS, json=metric_alert(team["id"])).json()
    assert api.delete(f"{ALERTS}{created['id']}/").status_code == 202
    assert api.get(f"{ALERTS}{created['id']}/").status_code == 404


def test_resolve_threshold_above_critical_is_400(api, team, project):
    response = api.post(ALERTS, json=metric_alert(team["id"], resolveThreshold=500))
    assert response.json() == {"nonFieldErrors": ["critical alert threshold must be above resolution threshold"]}


def test_warning_above_critical_is_400(api, team, project):
    body = metric_alert(team["id"], resolveThreshold=None)
    body["triggers"][1]["alertThreshold"] = 200
    response = api.post(ALERTS, json=body)
    assert response.json() == {
        "nonFieldErrors": ["Critical trigger must have an alert threshold above warning trigger"]
    }
