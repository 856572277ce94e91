#!/usr/bin/python
# Copyright: DermAI
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Manage a Sentry metric alert rule."""

from __future__ import annotations

DOCUMENTATION = r"""
module: sentry_metric_alert
short_description: Manage a metric alert rule of a Sentry organization
version_added: 1.0.0
description:
  - Lists the organization's metric alert rules (C(GET /api/0/organizations/{organization}/alert-rules/), every page)
    and picks the rule named O(name)
    (Sentry does not enforce unique names; of several, the oldest - lowest id - is managed).
  - The rule is compared with the server after normalisation (server ids, dates and descriptions are ignored,
    numbers compare as numbers, trigger and action order does not matter). Only a differing rule is written; the
    C(PUT) carries the existing trigger and action ids so Sentry updates them instead of recreating them.
  - Known-invalid rules are rejected before any request (time window, dataset, trigger labels and thresholds,
    actions).
  - Needs the C(organizations:incidents) feature (on in self-hosted); without it Sentry answers 404.
extends_documentation_fragment:
  - dermai.sentry.sentry
  - dermai.sentry.sentry.attributes
options:
  organization:
    description: Slug of the organization.
    type: str
    required: true
  name:
    description: Name of the rule (at most 256 characters), used to find it.
    type: str
    required: true
  projects:
    description: Slugs of the project(s) the rule watches (Sentry accepts exactly one).
    type: list
    elements: str
  aggregate:
    description: The aggregate function, for example V(count()), V(count_unique(user)), V(p95(transaction.duration)).
    type: str
    default: count()
  dataset:
    description: Dataset queried. Self-hosted 25.4 and later rejects V(transactions) (use V(generic_metrics)).
    type: str
    choices: [events, transactions, generic_metrics, metrics, events_analytics_platform]
    default: events
  query:
    description: Event search query ("" for all events).
    type: str
    default: ""
  query_type:
    description: V(0) error, V(1) performance, V(2) crash rate. Sentry derives it from O(dataset) when unset.
    type: int
    choices: [0, 1, 2]
  event_types:
    description: Event types, for example V([error, default]) or V([transaction]).
    type: list
    elements: str
  time_window:
    description: Minutes aggregated over; one of V(1), V(5), V(10), V(15), V(30), V(60), V(120), V(240), V(1440).
    type: int
    default: 60
  threshold_type:
    description: Fire when the value goes V(above) or V(below) the thresholds.
    type: str
    choices: [above, below]
    default: above
  threshold_period:
    description: Consecutive time windows the threshold must be crossed before the rule fires (1 to 20).
    type: int
  resolve_threshold:
    description: Value at which the alert resolves (V(null) resolves when the trigger threshold is no longer crossed).
    type: float
  triggers:
    description:
      - One or two triggers in Sentry's format - the first labelled V(critical), an optional second V(warning);
        each with C(alertThreshold) and C(actions) (at least one; see EXAMPLES).
      - Action C(type) is one of V(email), V(slack), V(msteams), V(pagerduty), V(opsgenie), V(discord),
        V(sentry_app); C(targetType) one of V(user), V(team), V(specific), V(sentry_app).
    type: list
    elements: dict
    default: []
  environment:
    description: Environment name the rule is limited to (it must already exist); V(null) for all.
    type: str
  owner:
    description: Owner of the rule, V(team:<id>) or V(user:<id>).
    type: str
  state:
    description: Whether the rule should exist.
    type: str
    choices: [present, absent]
    default: present
author:
  - DermAI infrastructure team
"""

EXAMPLES = r"""
- name: More than 100 errors in 10 minutes on the backend
  dermai.sentry.sentry_metric_alert:
    url: https://sentry.dermai.example
    token: "{{ vault_sentry_api_token }}"
    organization: sentry
    name: "DermAI API: >100 errors/10m"
    projects: [dermai-api]
    dataset: events
    event_types: [error, default]
    aggregate: count()
    query: ""
    time_window: 10
    threshold_type: above
    resolve_threshold: 20
    triggers:
      - label: critical
        alertThreshold: 100
        actions:
          - type: email
            targetType: team
            targetIdentifier: "{{ team.team.id }}"
"""

RETURN = r"""
rule:
  description: The rule as Sentry returns it (empty dict when absent; the planned rule in check mode).
  returned: always
  type: dict
  sample: {"id": "4", "name": "DermAI API: >100 errors/10m", "timeWindow": 10, "triggers": [{"label": "critical"}]}
"""

from ansible_collections.dermai.sentry.plugins.module_utils.sentry_api import (
    URL_ALERT_RULE,
    URL_ALERT_RULES,
    URL_ORG,
    SentryAPIError,
    SentryClient,
    build_module,
    canon,
    canon_set,
    fail,
    included,
    oldest_first,
)

TIME_WINDOWS = (1, 5, 10, 15, 30, 60, 120, 240, 1440)
ACTION_TYPES = ("email", "slack", "msteams", "pagerduty", "opsgenie", "discord", "sentry_app")
TARGET_TYPES = ("user", "team", "specific", "sentry_app")
THRESHOLD = {"above": 0, "below": 1}
# Fields Sentry adds to triggers and actions; never compared.
SERVER_TRIGGER_KEYS = ("id", "alertRuleId", "dateCreated", "thresholdType", "resolveThreshold")
SERVER_ACTION_KEYS = ("id", "alertRuleTriggerId", "dateCreated", "desc")


def validate(module):
    p = module.params
    if p["state"] == "absent":
        return
    if not p["name"] or len(p["name"]) > 256:
        module.fail_json(msg="name must be 1 to 256 characters long")
    if not p["projects"] or len(p["projects"]) != 1:
        module.fail_json(msg="projects must list exactly one project slug")
    if p["time_window"] not in TIME_WINDOWS:
        module.fail_json(
            msg=f"time_window is {p['time_window']}; allowed: {', '.join(map(str, TIME_WINDOWS))} (minutes)"
        )
    if p["threshold_period"] is not None and not 1 <= p["threshold_period"] <= 20:
        module.fail_json(msg=f"threshold_period is {p['threshold_period']}; allowed: 1 to 20")
    if p["owner"] is not None and not (p["owner"].startswith(("team:", "user:")) and p["owner"][5:].isdigit()):
        module.fail_json(msg=f"owner is {p['owner']!r}; allowed: team:<id> or user:<id>")
    triggers = p["triggers"]
    if not 1 <= len(triggers) <= 2:
        module.fail_json(msg="triggers must hold one or two triggers: critical, optionally warning")
    labels = [t.get("label") for t in triggers]
    if labels[0] != "critical" or (len(labels) == 2 and labels[1] != "warning"):
        module.fail_json(msg=f"triggers are labelled {labels}; allowed: ['critical'] or ['critical', 'warning']")
    thresholds = {}
    for i, trig in enumerate(triggers):
        where = f"triggers[{i}]"
        try:
            thresholds[trig["label"]] = float(trig.get("alertThreshold"))
        except (TypeError, ValueError):
            module.fail_json(msg=f"{where}.alertThreshold must be a number, got {trig.get('alertThreshold')!r}")
        if not trig.get("actions"):
            module.fail_json(msg=f"{where}.actions must contain at least one action")
        for j, action in enumerate(trig["actions"]):
            if action.get("type") not in ACTION_TYPES:
                module.fail_json(
                    msg=f"{where}.actions[{j}].type is {action.get('type')!r}; allowed: {', '.join(ACTION_TYPES)}"
                )
            if action.get("targetType") not in TARGET_TYPES:
                module.fail_json(
                    msg=f"{where}.actions[{j}].targetType is {action.get('targetType')!r}; "
                    f"allowed: {', '.join(TARGET_TYPES)}"
                )
    above = p["threshold_type"] == "above"
    if "warning" in thresholds and (
        thresholds["warning"] > thresholds["critical"] if above else thresholds["warning"] < thresholds["critical"]
    ):
        module.fail_json(
            msg=f"the warning threshold must be {'at most' if above else 'at least'} the critical threshold "
            f"for threshold_type {p['threshold_type']}"
        )
    resolve = p["resolve_threshold"]
    if resolve is not None and (resolve >= min(thresholds.values()) if above else resolve <= max(thresholds.values())):
        module.fail_json(
            msg=f"resolve_threshold must be {'below' if above else 'above'} every trigger threshold "
            f"for threshold_type {p['threshold_type']}"
        )


def desired_rule(p):
    body = {
        "name": p["name"],
        "projects": p["projects"],
        "aggregate": p["aggregate"],
        "dataset": p["dataset"],
        "query": p["query"],
        "timeWindow": p["time_window"],
        "thresholdType": THRESHOLD[p["threshold_type"]],
        "resolveThreshold": p["resolve_threshold"],
        "environment": p["environment"],
        "triggers": [dict(t, actions=[dict(a) for a in t.get("actions") or []]) for t in p["triggers"]],
    }
    optional = {
        "queryType": p["query_type"],
        "eventTypes": p["event_types"],
        "thresholdPeriod": p["threshold_period"],
        "owner": p["owner"],
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    return body


def clean_trigger(trigger):
    out = {k: v for k, v in trigger.items() if k not in SERVER_TRIGGER_KEYS and k != "actions"}
    actions = trigger.get("actions") or []
    out["actions"] = [{k: v for k, v in a.items() if k not in SERVER_ACTION_KEYS and v is not None} for a in actions]
    return out


def same_rule(desired, current):
    for field, want in desired.items():
        have = current.get(field)
        if field == "triggers":
            if not same_triggers(want, have or []):
                return False
        elif field in ("projects", "eventTypes"):
            if canon_set(want) != canon_set(have):
                return False
        elif canon(want) != canon(have):
            return False
    return True


def same_triggers(want, have):
    by_label = {t.get("label"): clean_trigger(t) for t in have}
    if sorted(by_label) != sorted(t["label"] for t in want):
        return False
    for trig in want:
        cur = by_label[trig["label"]]
        if canon(trig.get("alertThreshold")) != canon(cur.get("alertThreshold")):
            return False
        wanted = [{k: v for k, v in a.items() if v is not None} for a in trig.get("actions") or []]
        if len(wanted) != len(cur["actions"]):
            return False
        unused = list(cur["actions"])
        for action in wanted:
            hit = next((a for a in unused if included(action, a)), None)
            if hit is None:
                return False
            unused.remove(hit)
    return True


def with_ids(desired, current):
    """Carry the server's trigger and action ids into the PUT body so Sentry updates instead of recreating."""
    body = dict(desired)
    have = {t.get("label"): t for t in current.get("triggers") or []}
    triggers = []
    for trig in desired["triggers"]:
        trig = dict(trig)
        cur = have.get(trig["label"])
        if cur is not None and "id" in cur:
            trig["id"] = cur["id"]
            cur_actions = list(cur.get("actions") or [])
            actions = []
            for action in trig["actions"]:
                action = dict(action)
                hit = next((a for a in cur_actions if a.get("type") == action.get("type")), None)
                if hit is not None and "id" in hit:
                    action["id"] = hit["id"]
                    cur_actions.remove(hit)
                actions.append(action)
            trig["actions"] = actions
        triggers.append(trig)
    body["triggers"] = triggers
    return body


def view(rule, fields):
    if not rule:
        return {}
    out = {k: rule.get(k) for k in fields if k != "triggers"}
    out["triggers"] = [clean_trigger(t) for t in rule.get("triggers") or []]
    return out


def main():
    module = build_module(
        dict(
            organization=dict(type="str", required=True),
            name=dict(type="str", required=True),
            projects=dict(type="list", elements="str"),
            aggregate=dict(type="str", default="count()"),
            dataset=dict(
                type="str",
                default="events",
                choices=["events", "transactions", "generic_metrics", "metrics", "events_analytics_platform"],
            ),
            query=dict(type="str", default=""),
            query_type=dict(type="int", choices=[0, 1, 2]),
            event_types=dict(type="list", elements="str"),
            time_window=dict(type="int", default=60),
            threshold_type=dict(type="str", default="above", choices=["above", "below"]),
            threshold_period=dict(type="int"),
            resolve_threshold=dict(type="float"),
            triggers=dict(type="list", elements="dict", default=[]),
            environment=dict(type="str"),
            owner=dict(type="str"),
            state=dict(type="str", default="present", choices=["present", "absent"]),
        )
    )
    validate(module)
    client = SentryClient.from_module(module)
    try:
        result = converge(module, client)
    except SentryAPIError as err:
        fail(module, err)
    module.exit_json(**result)


def find(client, org, name, every=False):
    """The rule(s) named `name` (every page of the list)."""
    try:
        rules = client.get_all(client.path(URL_ALERT_RULES, org=org))
    except SentryAPIError as err:
        if err.status == 404 and client.get(client.path(URL_ORG, org=org), missing_ok=True) is not None:
            err.args = (
                f"{err}. Organization {org!r} exists but has no metric alerts: this Sentry lacks the "
                "organizations:incidents feature or its Snuba (self-hosted has both; a bare web + database "
                "install does not)",
            )
        raise
    named = [r for r in oldest_first(rules) if r.get("name") == name]
    if every:
        return named
    return named[0] if named else None


def converge(module, client):
    p = module.params
    org = p["organization"]
    named = find(client, org, p["name"], every=True)
    if len(named) > 1:
        module.warn(
            f"{len(named)} metric alert rules are named {p['name']!r}; managing the oldest, id {named[0].get('id')}"
        )
    current = named[0] if named else None

    if p["state"] == "absent":
        if current is None:
            return dict(changed=False, rule={}, msg="rule does not exist")
        if not module.check_mode:
            client.delete(client.path(URL_ALERT_RULE, org=org, rule=current["id"]))
        return dict(changed=True, rule={}, diff=dict(before=view(current, sorted(current)), after={}))

    desired = desired_rule(p)
    if current is not None and same_rule(desired, current):
        return dict(changed=False, rule=current)
    diff = dict(before=view(current, sorted(desired)), after=view(desired, sorted(desired)))
    if module.check_mode:
        return dict(changed=True, rule=dict(current or {}, **desired), diff=diff)
    if current is None:
        body = client.create_verified(
            client.path(URL_ALERT_RULES, org=org), desired, lambda: find(client, org, p["name"])
        )
        if not isinstance(body, dict) or "id" not in body:
            module.warn("Sentry is creating the rule asynchronously (HTTP 202); it appears once that is done")
            return dict(changed=True, rule=body or {}, diff=diff)
        rule_id = body["id"]
    else:
        rule_id = current["id"]
        client.put(client.path(URL_ALERT_RULE, org=org, rule=rule_id), with_ids(desired, current))
    end = client.get(client.path(URL_ALERT_RULE, org=org, rule=rule_id))
    return dict(changed=True, rule=end, diff=diff)


if __name__ == "__main__":
    main()
