#!/usr/bin/python
# Copyright: DermAI
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Manage a Sentry issue alert rule."""

from __future__ import annotations

DOCUMENTATION = r"""
module: sentry_issue_alert
short_description: Manage an issue alert rule of a Sentry project
version_added: 1.0.0
description:
  - Lists the project's issue alert rules (C(GET /api/0/projects/{organization}/{project}/rules/), every page) and
    picks the rule named O(name)
    (Sentry does not enforce unique names; of several, the oldest - lowest id - is managed).
  - The rule is compared with the server after normalisation - what Sentry adds to each node (its C(name) label,
    action C(uuid)s, extra defaults) is ignored, node order does not matter and numbers compare equal to numeric
    strings. Only a differing rule is written (C(PUT) is a full overwrite), and the rule is read again.
  - Known-invalid rules are rejected before any request (frequency range, intervals of frequency conditions, level
    filter values, e-mail action targets, at least one action).
  - Sentry rejects a rule that is an exact duplicate of another rule of the project (same conditions, filters,
    actions, environment and frequency), whatever its name.
extends_documentation_fragment:
  - dermai.sentry.sentry
  - dermai.sentry.sentry.attributes
options:
  organization:
    description: Slug of the organization.
    type: str
    required: true
  project:
    description: Slug of the project.
    type: str
    required: true
  name:
    description: Name of the rule (at most 256 characters), used to find it.
    type: str
    required: true
  action_match:
    description: How the O(conditions) combine.
    type: str
    choices: [all, any, none]
    default: all
  filter_match:
    description: How the O(filters) combine.
    type: str
    choices: [all, any, none]
    default: all
  conditions:
    description:
      - Trigger conditions, each a dict with the Sentry node C(id) and its fields (see EXAMPLES), for example the
        node C(sentry.rules.conditions.first_seen_event.FirstSeenEventCondition) (no fields) or
        C(sentry.rules.conditions.event_frequency.EventFrequencyCondition) with C(value) and C(interval).
      - C(interval) of EventFrequencyCondition and EventUniqueUserFrequencyCondition must be one of
        V(1m), V(5m), V(15m), V(1h), V(1d), V(1w), V(30d) (V(10m) is not accepted by Sentry).
    type: list
    elements: dict
    default: []
  filters:
    description:
      - Filters, each a dict with the node C(id) and its fields, for example
        C(sentry.rules.filters.level.LevelFilter) with C(match) (V(eq), V(gte), V(lte)) and C(level)
        (a string, V("40") is error).
    type: list
    elements: dict
    default: []
  actions:
    description:
      - Actions (at least one), each a dict with the node C(id) and its fields, for example
        C(sentry.mail.actions.NotifyEmailAction) with C(targetType) and C(targetIdentifier).
      - NotifyEmailAction C(targetType) is V(IssueOwners), V(Team) or V(Member) (C(targetIdentifier) required for the
        last two - a team id or a user id).
    type: list
    elements: dict
    default: []
  frequency:
    description: Minutes before the actions run again for the same issue, 5 to 43200.
    type: int
    default: 30
  environment:
    description: Environment name the rule is limited to (it must already exist in Sentry); V(null) for all.
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
- name: E-mail the team about every new issue of the backend
  dermai.sentry.sentry_issue_alert:
    url: https://sentry.dermai.example
    token: "{{ vault_sentry_api_token }}"
    organization: sentry
    project: dermai-api
    name: "DermAI API: new issue"
    conditions:
      - id: sentry.rules.conditions.first_seen_event.FirstSeenEventCondition
    filters:
      - id: sentry.rules.filters.level.LevelFilter
        match: gte
        level: "40"
    actions:
      - id: sentry.mail.actions.NotifyEmailAction
        targetType: Team
        targetIdentifier: "{{ team.team.id }}"
    frequency: 30
"""

RETURN = r"""
rule:
  description: The rule as Sentry returns it (empty dict when absent; the planned rule in check mode).
  returned: always
  type: dict
  sample: {"id": "3", "name": "DermAI API: new issue", "actionMatch": "all", "frequency": 30, "conditions": []}
"""

from ansible_collections.dermai.sentry.plugins.module_utils.sentry_api import (
    URL_RULE,
    URL_RULES,
    SentryAPIError,
    SentryClient,
    build_module,
    canon,
    fail,
    match_nodes,
    oldest_first,
)

FREQ = "sentry.rules.conditions.event_frequency."
STANDARD_INTERVALS = ("1m", "5m", "15m", "1h", "1d", "1w", "30d")
COMPARISON_INTERVALS = ("5m", "15m", "1h", "1d", "1w", "30d")
PERCENT_INTERVALS = ("5m", "10m", "30m", "1h")
LEVELS = ("0", "10", "20", "30", "40", "50")
MATCH_LEVEL = ("eq", "gte", "lte")
EMAIL_ACTION = "sentry.mail.actions.NotifyEmailAction"
EMAIL_TARGETS = ("IssueOwners", "Team", "Member")
FALLTHROUGH = ("ActiveMembers", "AllMembers", "NoOne")
# What Sentry adds to each stored node; never part of the comparison.
SERVER_NODE_KEYS = ("name", "uuid", "_new")


def check_node(module, kind, index, node):
    where = f"{kind}[{index}]"
    nid = node.get("id")
    if not nid or not isinstance(nid, str):
        module.fail_json(msg=f"{where} needs an 'id' (the Sentry node class path)")
    if nid in (FREQ + "EventFrequencyCondition", FREQ + "EventUniqueUserFrequencyCondition"):
        if str(node.get("interval")) not in STANDARD_INTERVALS:
            module.fail_json(
                msg=f"{where}.interval is {node.get('interval')!r}; allowed for {nid.rsplit('.', 1)[1]}: "
                f"{', '.join(STANDARD_INTERVALS)}"
            )
        if node.get("comparisonType", "count") not in ("count", "percent"):
            module.fail_json(msg=f"{where}.comparisonType must be count or percent")
        if node.get("comparisonType") == "percent" and str(node.get("comparisonInterval")) not in COMPARISON_INTERVALS:
            module.fail_json(
                msg=f"{where}.comparisonInterval is {node.get('comparisonInterval')!r}; allowed with comparisonType "
                f"percent: {', '.join(COMPARISON_INTERVALS)}"
            )
        check_number(module, where, node)
    elif nid == FREQ + "EventFrequencyPercentCondition":
        if str(node.get("interval")) not in PERCENT_INTERVALS:
            module.fail_json(
                msg=f"{where}.interval is {node.get('interval')!r}; allowed for EventFrequencyPercentCondition: "
                f"{', '.join(PERCENT_INTERVALS)}"
            )
        check_number(module, where, node)
    elif nid == "sentry.rules.filters.level.LevelFilter":
        if str(node.get("level")) not in LEVELS:
            module.fail_json(
                msg=f"{where}.level is {node.get('level')!r}; allowed: {', '.join(LEVELS)} "
                "(50 fatal, 40 error, 30 warning, 20 info, 10 debug, 0 sample)"
            )
        if node.get("match") not in MATCH_LEVEL:
            module.fail_json(msg=f"{where}.match is {node.get('match')!r}; allowed: {', '.join(MATCH_LEVEL)}")
    elif nid == EMAIL_ACTION:
        target = node.get("targetType")
        if target not in EMAIL_TARGETS:
            module.fail_json(msg=f"{where}.targetType is {target!r}; allowed: {', '.join(EMAIL_TARGETS)}")
        if target in ("Team", "Member") and node.get("targetIdentifier") in (None, ""):
            module.fail_json(msg=f"{where}.targetIdentifier is required for targetType {target} (a team or user id)")
        if node.get("fallthroughType") is not None and node["fallthroughType"] not in FALLTHROUGH:
            module.fail_json(
                msg=f"{where}.fallthroughType is {node['fallthroughType']!r}; allowed: {', '.join(FALLTHROUGH)}"
            )


def check_number(module, where, node):
    try:
        float(node.get("value"))
    except (TypeError, ValueError):
        module.fail_json(msg=f"{where}.value must be a number, got {node.get('value')!r}")


def validate(module):
    p = module.params
    if p["state"] == "absent":
        return
    if not p["name"] or len(p["name"]) > 256:
        module.fail_json(msg="name must be 1 to 256 characters long")
    if not 5 <= p["frequency"] <= 43200:
        module.fail_json(msg=f"frequency is {p['frequency']}; allowed: 5 to 43200 minutes")
    if not p["actions"]:
        module.fail_json(msg="actions must contain at least one action (Sentry refuses a rule without actions)")
    if p["owner"] is not None and not (p["owner"].startswith(("team:", "user:")) and p["owner"][5:].isdigit()):
        module.fail_json(msg=f"owner is {p['owner']!r}; allowed: team:<id> or user:<id>")
    for kind in ("conditions", "filters", "actions"):
        for index, node in enumerate(p[kind]):
            check_node(module, kind, index, node)


def desired_rule(p):
    body = {
        "name": p["name"],
        "actionMatch": p["action_match"],
        "filterMatch": p["filter_match"],
        "frequency": p["frequency"],
        "environment": p["environment"],
        "conditions": p["conditions"],
        "filters": p["filters"],
        "actions": p["actions"],
    }
    if p["owner"] is not None:
        body["owner"] = p["owner"]
    return body


def same_rule(desired, current):
    for field in ("name", "actionMatch", "filterMatch", "frequency", "environment", "owner"):
        if field in desired and canon(desired[field]) != canon(current.get(field)):
            return False
    return all(
        match_nodes(desired[kind], current.get(kind), SERVER_NODE_KEYS) for kind in ("conditions", "filters", "actions")
    )


def view(rule):
    """The managed part of a rule, for diff output."""
    if not rule:
        return {}
    keys = ("name", "actionMatch", "filterMatch", "frequency", "environment", "owner")
    out = {k: rule.get(k) for k in keys}
    for kind in ("conditions", "filters", "actions"):
        out[kind] = [{k: v for k, v in n.items() if k not in SERVER_NODE_KEYS} for n in rule.get(kind) or []]
    return out


def main():
    module = build_module(
        dict(
            organization=dict(type="str", required=True),
            project=dict(type="str", required=True),
            name=dict(type="str", required=True),
            action_match=dict(type="str", default="all", choices=["all", "any", "none"]),
            filter_match=dict(type="str", default="all", choices=["all", "any", "none"]),
            conditions=dict(type="list", elements="dict", default=[]),
            filters=dict(type="list", elements="dict", default=[]),
            actions=dict(type="list", elements="dict", default=[]),
            frequency=dict(type="int", default=30),
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


def find(client, org, proj, name, every=False):
    """The rule(s) named `name` (every page of the list)."""
    rules = oldest_first(client.get_all(client.path(URL_RULES, org=org, project=proj)))
    named = [r for r in rules if r.get("name") == name]
    if every:
        return named
    return named[0] if named else None


def converge(module, client):
    p = module.params
    org, proj = p["organization"], p["project"]
    named = find(client, org, proj, p["name"], every=True)
    if len(named) > 1:
        module.warn(
            f"{len(named)} issue alert rules are named {p['name']!r}; managing the oldest, id {named[0].get('id')}"
        )
    current = named[0] if named else None

    if p["state"] == "absent":
        if current is None:
            return dict(changed=False, rule={}, msg="rule does not exist")
        if not module.check_mode:
            client.delete(client.path(URL_RULE, org=org, project=proj, rule=current["id"]))
        return dict(changed=True, rule={}, diff=dict(before=view(current), after={}))

    desired = desired_rule(p)
    if current is not None and same_rule(desired, current):
        return dict(changed=False, rule=current)
    diff = dict(before=view(current), after=view(desired))
    if module.check_mode:
        return dict(changed=True, rule=dict(current or {}, **desired), diff=diff)
    if current is None:
        try:
            body = client.create_verified(
                client.path(URL_RULES, org=org, project=proj), desired, lambda: find(client, org, proj, p["name"])
            )
        except SentryAPIError as err:
            if err.status == 400 and isinstance(err.body, dict) and err.body.get("ruleId"):
                module.fail_json(
                    msg=f"Sentry refuses rule {p['name']!r}: an identical rule (same conditions, filters, actions, "
                    f"environment and frequency) already exists with id {err.body['ruleId'][0]}. "
                    "Rename that rule to this name, or remove it.",
                    status=400,
                )
            raise
        if not isinstance(body, dict) or "id" not in body:  # HTTP 202: {"uuid": ...}
            module.warn("Sentry resolves the rule's Slack channel asynchronously; the rule appears once that is done")
            return dict(changed=True, rule=body or {}, diff=diff)
        rule_id = body["id"]
    else:
        rule_id = current["id"]
        client.put(client.path(URL_RULE, org=org, project=proj, rule=rule_id), desired)
    end = client.get(client.path(URL_RULE, org=org, project=proj, rule=rule_id))
    return dict(changed=True, rule=end, diff=diff)


if __name__ == "__main__":
    main()
