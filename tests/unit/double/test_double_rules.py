"""Issue alert rules: Sentry's status codes, validation messages and duplicate detection."""

from __future__ import annotations

from tests.sentry_double.samples import issue_rule

RULES = "/projects/sentry/dermai-api/rules/"
FREQ = "sentry.rules.conditions.event_frequency.EventFrequencyCondition"
LEVEL = {"id": "sentry.rules.filters.level.LevelFilter", "match": "gte", "level": "40"}


def test_issue_rule_create_answers_200_not_201(api, project):
    response = api.post(RULES, json=issue_rule())
    assert response.status_code == 200
    assert response.json()["name"] == "DermAI API: new issue"


def test_ten_minute_interval_is_rejected(api, project):
    body = issue_rule(conditions=[{"id": FREQ, "value": 100, "interval": "10m"}])
    response = api.post(RULES, json=body)
    assert response.status_code == 400
    assert response.json() == {"conditions": {"0": ["Select a valid choice. 10m is not one of the available choices."]}}


def test_fifteen_minute_interval_is_accepted(api, project):
    body = issue_rule(conditions=[{"id": FREQ, "value": "150", "interval": "15m"}])
    rule = api.post(RULES, json=body).json()
    assert rule["conditions"][0]["value"] == 150


def test_missing_actions_is_400(api, project):
    response = api.post(RULES, json=issue_rule(actions=[]))
    assert response.json() == {"actions": ["You must add an action for this alert to fire."]}


def test_filters_without_filter_match_are_400(api, project):
    body = issue_rule(filters=[LEVEL])
    del body["filterMatch"]
    response = api.post(RULES, json=body)
    assert response.status_code == 400
    assert list(response.json()) == ["filterMatch"]


def test_unknown_node_id_is_400(api, project):
    response = api.post(RULES, json=issue_rule(conditions=[{"id": "sentry.rules.conditions.Nope"}]))
    assert response.json() == {"conditions": {"0": ["Invalid node. Could not find 'sentry.rules.conditions.Nope'"]}}


def test_frequency_below_five_minutes_is_400(api, project):
    response = api.post(RULES, json=issue_rule(frequency=1))
    assert response.json() == {"frequency": ["Ensure this value is greater than or equal to 5."]}


def test_exact_duplicate_is_400_with_rule_id(api, project):
    first = api.post(RULES, json=issue_rule()).json()
    response = api.post(RULES, json=issue_rule(name="another name"))
    assert response.status_code == 400
    assert response.json()["ruleId"] == [int(first["id"])]
    assert "exact duplicate of 'DermAI API: new issue'" in response.json()["name"][0]


def test_rule_differing_in_frequency_is_not_a_duplicate(api, project):
    api.post(RULES, json=issue_rule())
    assert api.post(RULES, json=issue_rule(name="b", frequency=60)).status_code == 200


def test_put_with_the_same_body_is_200(api, project):
    rule = api.post(RULES, json=issue_rule()).json()
    response = api.put(f"{RULES}{rule['id']}/", json=issue_rule())
    assert response.status_code == 200


def test_put_that_duplicates_another_rule_is_400(api, project):
    api.post(RULES, json=issue_rule())
    other = api.post(RULES, json=issue_rule(name="b", frequency=60)).json()
    response = api.put(f"{RULES}{other['id']}/", json=issue_rule(name="b"))
    assert response.status_code == 400


def test_environment_must_exist(api, project):
    response = api.post(RULES, json=issue_rule(environment="production"))
    assert response.json() == {"environment": ["This environment has not been created."]}


def test_email_to_a_team_not_on_the_project_is_400(api, project):
    other = api.post("/organizations/sentry/teams/", json={"slug": "other"}).json()
    action = {"id": "sentry.mail.actions.NotifyEmailAction", "targetType": "Team", "targetIdentifier": other["id"]}
    response = api.post(RULES, json=issue_rule(actions=[action]))
    assert response.json() == {"actions": {"0": ["This team is not part of the project."]}}


def test_email_to_the_project_team_is_accepted(api, team, project):
    action = {"id": "sentry.mail.actions.NotifyEmailAction", "targetType": "Team", "targetIdentifier": team["id"]}
    assert api.post(RULES, json=issue_rule(actions=[action])).status_code == 200


def test_rule_delete_is_202_then_404(api, project):
    rule = api.post(RULES, json=issue_rule()).json()
    assert api.delete(f"{RULES}{rule['id']}/").status_code == 202
    assert api.get(f"{RULES}{rule['id']}/").status_code == 404


def test_rules_need_project_write_or_alerts_write(limited, project):
    assert limited.post(RULES, json=issue_rule()).status_code == 403
    assert limited.get(RULES).status_code == 200
