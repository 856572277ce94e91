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
  - Rules whose id Sentry manufactured for a workflow made in the new UI (id >= 10**9) are never adopted by name.
  - One call can manage many rules of a project (O(rules)); the project's rules are then listed once, and every
    rule is validated before the first write.
extends_documentation_fragment: [dermai.sentry.sentry, dermai.sentry.sentry.organization,
  dermai.sentry.sentry.project, dermai.sentry.sentry.rule, dermai.sentry.sentry.state]
options:
  rules:
    description:
      - Several rules of O(project) at once, each a dict of the per-rule options of this module (O(name),
        O(action_match), O(filter_match), O(conditions), O(filters), O(actions), O(frequency), O(environment),
        O(owner), O(state)) with the same defaults. The result then holds RV(rules).
    type: list
    elements: dict
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
author:
  - DermAI infrastructure team (@dermai)
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
  description: The rule as Sentry returns it (empty dict when absent; the planned rule in check mode). Single-rule mode.
  returned: when O(name) is given
  type: dict
  sample: {"id": "3", "name": "DermAI API: new issue", "actionMatch": "all", "frequency": 30, "conditions": []}
workflow:
  description: The workflow behind the rule on a Sentry with the workflow engine (26.7+), else an empty dict.
  returned: when O(name) is given
  type: dict
rules:
  description: One entry per O(rules) item, in order, with C(name), C(changed), C(rule) and C(workflow).
  returned: when O(rules) is given
  type: list
  elements: dict
unbacked:
  description: Names of managed rules that have no workflow on a workflow-engine Sentry (they do not fire).
  returned: always
  type: list
  elements: str
"""

from ansible_collections.dermai.sentry.plugins.module_utils.sentry_api import URL_RULE, URL_RULES, canon, match_nodes
from ansible_collections.dermai.sentry.plugins.module_utils.sentry_checks import check_issue_node
from ansible_collections.dermai.sentry.plugins.module_utils.sentry_resource import (
    RULE_OPTIONS,
    URL_RULE_WORKFLOW,
    URL_WORKFLOWS,
    RuleSet,
    run_rules,
)

# What Sentry adds to each stored node; never part of the comparison.
SERVER_NODE_KEYS = ("name", "uuid", "_new")
SCALARS = ("name", "actionMatch", "filterMatch", "frequency", "environment", "owner")
NODES = ("conditions", "filters", "actions")
MATCHES = ("action_match", "filter_match")


OPTIONS = dict(RULE_OPTIONS, frequency=dict(type="int", default=30))
OPTIONS.update({key: dict(type="str", default="all", choices=["all", "any", "none"]) for key in MATCHES})
OPTIONS.update({kind: dict(type="list", elements="dict", default=[]) for kind in NODES})


class IssueAlerts(RuleSet):
    kind = "issue alert rule"
    rule_options = OPTIONS
    mappings = ((URL_RULE_WORKFLOW, "rule_id", URL_WORKFLOWS, "workflow"),)

    def list_path(self):
        return self.client.path(URL_RULES, org=self.org, project=self.params["project"])

    def item_path(self, rule_id):
        return self.client.path(URL_RULE, org=self.org, project=self.params["project"], rule=rule_id)

    def validate_rule(self, spec, where):
        def fail(msg):
            self.fail(where, msg)

        if not spec["name"] or len(spec["name"]) > 256:
            fail("name must be 1 to 256 characters long")
        if not 5 <= spec["frequency"] <= 43200:
            fail(f"frequency is {spec['frequency']}; allowed: 5 to 43200 minutes")
        if not spec["actions"]:
            fail("actions must contain at least one action (Sentry refuses a rule without actions)")
        owner = spec["owner"]
        if owner is not None and not (owner.startswith(("team:", "user:")) and owner[5:].isdigit()):
            fail(f"owner is {owner!r}; allowed: team:<id> or user:<id>")
        for kind in NODES:
            for index, node in enumerate(spec[kind]):
                check_issue_node(fail, kind, index, node)

    def desired(self, spec):
        body = {
            "name": spec["name"],
            "actionMatch": spec["action_match"],
            "filterMatch": spec["filter_match"],
            "frequency": spec["frequency"],
            "environment": spec["environment"],
            "conditions": spec["conditions"],
            "filters": spec["filters"],
            "actions": spec["actions"],
        }
        if spec["owner"] is not None:
            body["owner"] = spec["owner"]
        return body

    def same(self, desired, current):
        for field in SCALARS:
            if field in desired and canon(desired[field]) != canon(current.get(field)):
                return False
        return all(match_nodes(desired[kind], current.get(kind), SERVER_NODE_KEYS) for kind in NODES)

    def view(self, rule):
        if not rule:
            return {}
        out = {k: rule.get(k) for k in SCALARS}
        for kind in NODES:
            out[kind] = [{k: v for k, v in n.items() if k not in SERVER_NODE_KEYS} for n in rule.get(kind) or []]
        return out

    def create_failed(self, spec, err):
        if err.status == 400 and isinstance(err.body, dict) and err.body.get("ruleId"):
            self.module.fail_json(
                msg=f"Sentry refuses rule {spec['name']!r}: an identical rule (same conditions, filters, actions, "
                f"environment and frequency) already exists with id {err.body['ruleId'][0]}. "
                "Rename that rule to this name, or remove it.",
                status=400,
            )
        raise err


def main():
    run_rules(IssueAlerts, dict(project=dict(type="str", required=True)))


if __name__ == "__main__":
    main()
