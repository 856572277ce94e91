"""dermai.sentry.sentry_issue_alert: rules matched by name, normalised comparison, validation."""

from __future__ import annotations

import pytest
from ansible_collections.dermai.sentry.tests.unit.plugins.modules.conftest import (
    API,
    Fault,
    converges,
    deletes_then_no_op,
    issue_rule,
    refused_before_any_request,
    run_module,
    run_playbook,
)

FIRST_SEEN = {"id": "sentry.rules.conditions.first_seen_event.FirstSeenEventCondition"}
REGRESSION = {"id": "sentry.rules.conditions.regression_event.RegressionEventCondition"}
FREQUENCY = {"id": "sentry.rules.conditions.event_frequency.EventFrequencyCondition", "value": 150, "interval": "15m"}
LEVEL = {"id": "sentry.rules.filters.level.LevelFilter", "match": "gte", "level": "40"}
EMAIL_OWNERS = {
    "id": "sentry.mail.actions.NotifyEmailAction",
    "targetType": "IssueOwners",
    "fallthroughType": "ActiveMembers",
}


@pytest.fixture
def project(backend, uid):
    team, slug = f"dermai-{uid}", f"api-{uid}"
    assert not run_module("sentry_team", dict(backend.conn(), organization="sentry", slug=team))["failed"]
    created = run_module("sentry_project", dict(backend.conn(), organization="sentry", team=team, slug=slug))
    assert not created["failed"], created
    return slug


def rules(backend, project):
    return API.SentryClient(backend.url, backend.token).get_all(f"projects/sentry/{project}/rules/")


def args(backend, project, **extra):
    base = dict(
        backend.conn(),
        organization="sentry",
        project=project,
        name="DermAI: new issue",
        conditions=[FIRST_SEEN],
        filters=[LEVEL],
        actions=[EMAIL_OWNERS],
        frequency=30,
    )
    base.update(extra)
    return base


def test_present_creates_the_rule(backend, project):
    result = run_module("sentry_issue_alert", args(backend, project))
    assert result["changed"] and not result["failed"], result
    (rule,) = rules(backend, project)
    assert rule["name"] == "DermAI: new issue"
    assert rule["actionMatch"] == "all" and rule["frequency"] == 30
    assert [c["id"] for c in rule["conditions"]] == [FIRST_SEEN["id"]]
    assert result["rule"]["id"] == rule["id"]


def test_second_run_ignores_what_the_server_adds_and_sends_no_write(backend, project):
    run_module("sentry_issue_alert", args(backend, project, conditions=[FIRST_SEEN, FREQUENCY], action_match="any"))
    stored = rules(backend, project)[0]
    assert any("name" in node for node in stored["conditions"])  # the server labels every node
    mark = backend.mark()
    # Same rule, nodes in another order and the level given as an int.
    again = args(
        backend, project, conditions=[FREQUENCY, FIRST_SEEN], action_match="any", filters=[dict(LEVEL, level=40)]
    )
    result = run_module("sentry_issue_alert", again)
    assert result["changed"] is False, result.get("diff")
    assert backend.writes_since(mark) in (None, [])


def test_changed_condition_updates_the_rule_in_place(backend, project):
    run_module("sentry_issue_alert", args(backend, project))
    rule_id = rules(backend, project)[0]["id"]
    result = run_module("sentry_issue_alert", args(backend, project, conditions=[REGRESSION], frequency=60))
    assert result["changed"]
    assert result["diff"]["before"]["conditions"] == [FIRST_SEEN]
    assert result["diff"]["after"]["conditions"] == [REGRESSION]
    (rule,) = rules(backend, project)
    assert rule["id"] == rule_id
    assert rule["frequency"] == 60
    assert [c["id"] for c in rule["conditions"]] == [REGRESSION["id"]]


def test_absent_deletes_and_is_then_a_no_op(backend, project):
    deletes_then_no_op(backend, "sentry_issue_alert", args(backend, project), lambda: rules(backend, project) == [])


def test_check_mode_does_not_write(backend, project):
    mark = backend.mark()
    result = run_module("sentry_issue_alert", args(backend, project), check=True)
    assert result["changed"]
    assert result["diff"]["before"] == {}
    assert result["diff"]["after"]["actions"] == [EMAIL_OWNERS]
    assert backend.writes_since(mark) in (None, [])
    assert rules(backend, project) == []


def test_rule_is_found_on_a_later_page(fake):
    project = fake.add_project("web")
    for i in range(5):
        fake.add_rule(
            project,
            {
                "name": f"r{i}",
                "actionMatch": "all",
                "filterMatch": "all",
                "frequency": 30 + i,
                "environment": None,
                "conditions": [FIRST_SEEN],
                "filters": [],
                "actions": [dict(EMAIL_OWNERS)],
            },
        )
    fake.page_size = 2
    result = run_module("sentry_issue_alert", issue_rule(fake, name="r0", frequency=30, actions=[EMAIL_OWNERS]))
    assert result["changed"] is False, result.get("diff")
    assert result["rule"]["name"] == "r0"
    assert fake.writes() == []


def test_an_identical_rule_under_another_name_is_explained(fake):
    fake.add_project("web")
    duplicate = {
        "name": ["This rule is an exact duplicate of 'old' in this project and may not be created."],
        "ruleId": [7],
    }
    fake.faults.append(Fault("POST", "/rules/$", 400, duplicate))
    result = run_module("sentry_issue_alert", issue_rule(fake, name="new"))
    assert result["failed"]
    assert "an identical rule" in result["msg"]
    assert "already exists with id 7" in result["msg"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            dict(conditions=[dict(FREQUENCY, interval="10m")]),
            "conditions[0].interval is '10m'; allowed for EventFrequencyCondition: 1m, 5m, 15m, 1h, 1d, 1w, 30d",
        ),
        (
            dict(
                conditions=[
                    {
                        "id": "sentry.rules.conditions.event_frequency.EventUniqueUserFrequencyCondition",
                        "value": 5,
                        "interval": "2h",
                    }
                ]
            ),
            "allowed for EventUniqueUserFrequencyCondition: 1m, 5m",
        ),
        (
            dict(
                conditions=[
                    {
                        "id": "sentry.rules.conditions.event_frequency.EventFrequencyPercentCondition",
                        "value": 5,
                        "interval": "15m",
                    }
                ]
            ),
            "allowed for EventFrequencyPercentCondition: 5m, 10m, 30m, 1h",
        ),
        (dict(conditions=[dict(FREQUENCY, value="many")]), "conditions[0].value must be a number"),
        (
            dict(conditions=[dict(FREQUENCY, comparisonType="percent")]),
            "comparisonInterval is None; allowed with comparisonType percent",
        ),
        (dict(filters=[dict(LEVEL, level="error")]), "filters[0].level is 'error'; allowed: 0, 10, 20, 30, 40, 50"),
        (dict(filters=[dict(LEVEL, match="gt")]), "filters[0].match is 'gt'; allowed: eq, gte, lte"),
        (dict(actions=[]), "actions must contain at least one action"),
        (
            dict(actions=[{"id": "sentry.mail.actions.NotifyEmailAction", "targetType": "team"}]),
            "targetType is 'team'; allowed: IssueOwners, Team, Member",
        ),
        (
            dict(actions=[{"id": "sentry.mail.actions.NotifyEmailAction", "targetType": "Team"}]),
            "targetIdentifier is required for targetType Team",
        ),
        (dict(actions=[{"targetType": "Team"}]), "actions[0] needs an 'id'"),
        (dict(frequency=4), "frequency is 4; allowed: 5 to 43200 minutes"),
        (dict(action_match="some"), "value of action_match must be one of: all, any, none"),
        (dict(owner="dermai"), "owner is 'dermai'; allowed: team:<id> or user:<id>"),
    ],
)
def test_invalid_input_is_rejected_before_any_request(fake, extra, message):
    refused_before_any_request(fake, "sentry_issue_alert", issue_rule(fake, **extra), message)


@pytest.mark.slow
def test_playbook_converges_then_reports_no_change(backend, project, tmp_path):
    spec = {k: v for k, v in args(backend, project).items() if k not in ("url", "token")}
    task = {"name": "Issue alert", "dermai.sentry.sentry_issue_alert": spec}
    rc, results, _stats, out = run_playbook(tmp_path, backend, [task], check=True)
    assert rc == 0 and results[0]["changed"], out
    assert rules(backend, project) == []
    converges(tmp_path, backend, task)
