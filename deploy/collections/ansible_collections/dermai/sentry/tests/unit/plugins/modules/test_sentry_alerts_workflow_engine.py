"""The alert modules on Sentry 26.7+ (the workflow engine), against the double imitating 26.8.0 and 23.7.1:
every managed rule is read back through its workflow/detector, pre-upgrade rules are reported and re-saved,
UI-made workflows are never adopted, a never-null resolveThreshold stays idempotent, and a batch of rules
costs one listing."""

from __future__ import annotations

import pytest
from ansible.module_utils import basic
from ansible_collections.dermai.sentry.tests.unit.plugins.modules.conftest import FaultyDouble, run_module

from tests.sentry_double import workflows

FIRST_SEEN = {"id": "sentry.rules.conditions.first_seen_event.FirstSeenEventCondition"}
EMAIL_OWNERS = {"id": "sentry.mail.actions.NotifyEmailAction", "targetType": "IssueOwners"}
TEAM_EMAIL = [{"type": "email", "targetType": "team", "targetIdentifier": "1"}]


def triggers(critical=100, warning=None):
    out = [{"label": "critical", "alertThreshold": critical, "actions": TEAM_EMAIL}]
    if warning is not None:
        out.append({"label": "warning", "alertThreshold": warning, "actions": TEAM_EMAIL})
    return out


@pytest.fixture
def sentry():
    server = FaultyDouble(release="26.8.0")
    try:
        yield server
    finally:
        server.stop()


def issue(server, **extra):
    return dict(url=server.url, token=server.token, organization="sentry", project="web", **extra)


def metric(server, **extra):
    return dict(url=server.url, token=server.token, organization="sentry", **extra)


def test_an_issue_rule_made_on_26_8_is_backed_by_a_workflow_and_reports_it(sentry):
    sentry.add_project("web")
    result = run_module(
        "sentry_issue_alert", issue(sentry, name="new", conditions=[FIRST_SEEN], actions=[EMAIL_OWNERS])
    )
    assert result["changed"] and result["unbacked"] == []
    assert result["workflow"]["name"] == "new"
    assert result["workflow"]["actionFilters"][0]["actions"][0]["targetType"] == "IssueOwners"
    again = run_module("sentry_issue_alert", issue(sentry, name="new", conditions=[FIRST_SEEN], actions=[EMAIL_OWNERS]))
    assert again["changed"] is False
    assert again["workflow"]["id"] == result["workflow"]["id"]


def test_a_rule_made_before_the_upgrade_is_reported_then_migrated_by_resave():
    server = FaultyDouble()  # 23.7.1
    try:
        server.add_project("web")
        args = issue(server, name="old", conditions=[FIRST_SEEN], actions=[EMAIL_OWNERS])
        made = run_module("sentry_issue_alert", args)
        assert made["workflow"] == {} and made["unbacked"] == []  # no workflow engine: nothing to check
        server.server.set_release("26.8.0")  # the upgrade across 26.7.0
        after = run_module("sentry_issue_alert", args)
        assert after["changed"] is False
        assert after["unbacked"] == ["old"]
        mark = len(server.requests)
        resaved = run_module("sentry_issue_alert", dict(args, resave=True))
        assert resaved["changed"] and resaved["resaved"]
        assert resaved["unbacked"] == []
        assert resaved["workflow"]["name"] == "old"
        writes = [r[:2] for r in server.requests[mark:] if r[0] != "GET"]
        assert writes == [("PUT", f"/api/0/projects/sentry/web/rules/{made['rule']['id']}/")]
    finally:
        server.stop()


def test_a_workflow_made_in_the_new_ui_is_never_adopted_by_name(sentry, monkeypatch):
    warnings = []
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, text: warnings.append(text))
    project = sentry.add_project("web")
    org = sentry.state.find_org("sentry")
    ui = workflows.add_ui_workflow(sentry.state, org, project, "Errors")
    result = run_module(
        "sentry_issue_alert", issue(sentry, name="Errors", conditions=[FIRST_SEEN], actions=[EMAIL_OWNERS])
    )
    assert result["changed"]
    assert int(result["rule"]["id"]) < workflows.FAKE_ID_OFFSET
    assert result["workflow"]["id"] != ui["id"]
    assert not [w for w in sentry.writes() if str(int(ui["id"]) + workflows.FAKE_ID_OFFSET) in w[1]]
    assert any("manufactured id" in w and "not adopted" in w for w in warnings)


def test_a_metric_alert_without_resolve_threshold_stays_idempotent_although_sentry_reports_one(sentry):
    sentry.add_project("web")
    args = metric(sentry, name="errors", projects=["web"], triggers=triggers(100, 50))
    made = run_module("sentry_metric_alert", args)
    assert made["changed"] and made["unbacked"] == []
    assert made["rule"]["resolveThreshold"] == 50  # the warning threshold, never null on 26.7+
    assert made["detector"]["type"] == "metric_issue"
    assert made["workflow"]["detectorIds"] == [made["detector"]["id"]]
    mark = len(sentry.requests)
    again = run_module("sentry_metric_alert", args)
    assert again["changed"] is False, again.get("diff")
    assert [r for r in sentry.requests[mark:] if r[0] != "GET"] == []


def test_a_changed_resolve_threshold_is_still_written(sentry):
    sentry.add_project("web")
    run_module("sentry_metric_alert", metric(sentry, name="errors", projects=["web"], triggers=triggers(100)))
    changed = run_module(
        "sentry_metric_alert",
        metric(sentry, name="errors", projects=["web"], triggers=triggers(100), resolve_threshold=10),
    )
    assert changed["changed"]
    assert changed["rule"]["resolveThreshold"] == 10


def test_a_batch_of_rules_lists_the_project_once_and_validates_every_rule_first(sentry):
    sentry.add_project("web")
    rules = [dict(name=f"r{i}", conditions=[FIRST_SEEN], actions=[EMAIL_OWNERS], frequency=30 + i) for i in range(3)]
    made = run_module("sentry_issue_alert", issue(sentry, rules=rules, workflow_engine=False))
    assert [r["name"] for r in made["rules"]] == ["r0", "r1", "r2"]
    assert made["changed"] and sorted(made["diff"]["after"]) == ["r0", "r1", "r2"]
    mark = len(sentry.requests)
    again = run_module("sentry_issue_alert", issue(sentry, rules=rules, workflow_engine=False))
    assert again["changed"] is False
    assert [r[:2] for r in sentry.requests[mark:]] == [("GET", "/api/0/projects/sentry/web/rules/")]
    bad = [*rules, dict(name="r9", conditions=[FIRST_SEEN], actions=[EMAIL_OWNERS], frequency=1)]
    mark = len(sentry.requests)
    refused = run_module("sentry_issue_alert", issue(sentry, rules=[dict(rules[0], frequency=99), *bad[1:]]))
    assert refused["failed"]
    assert "rules[3] ('r9'): frequency is 1" in refused["msg"]
    assert sentry.requests[mark:] == []


def test_a_misspelt_key_in_a_batch_rule_is_refused_before_any_request(sentry):
    rules = [dict(name="r", conditions=[FIRST_SEEN], actions=[EMAIL_OWNERS], frequncy=30)]
    result = run_module("sentry_issue_alert", issue(sentry, rules=rules))
    assert result["failed"]
    assert "rules[0] ('r')" in result["msg"] and "frequncy" in result["msg"]
    assert sentry.requests == []


def test_metric_alerts_in_a_batch_each_get_their_detector(sentry):
    sentry.add_project("web")
    rules = [dict(name=f"m{i}", projects=["web"], triggers=triggers(10 + i)) for i in range(2)]
    made = run_module("sentry_metric_alert", metric(sentry, rules=rules))
    assert made["unbacked"] == []
    assert len({r["detector"]["id"] for r in made["rules"]}) == 2
    mark = len(sentry.requests)
    again = run_module("sentry_metric_alert", metric(sentry, rules=rules, workflow_engine=False))
    assert again["changed"] is False
    assert [r[:2] for r in sentry.requests[mark:]] == [("GET", "/api/0/organizations/sentry/alert-rules/")]


def test_check_mode_with_diff_shows_each_rule_and_writes_nothing(sentry):
    sentry.add_project("web")
    rules = [dict(name="a", conditions=[FIRST_SEEN], actions=[EMAIL_OWNERS])]
    result = run_module("sentry_issue_alert", issue(sentry, rules=rules), check=True)
    assert result["changed"]
    assert result["diff"]["before"] == {"a": {}}
    assert result["diff"]["after"]["a"]["conditions"] == [FIRST_SEEN]
    assert sentry.writes() == []
