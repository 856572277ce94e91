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
  - On Sentry 26.7+ the legacy endpoint reports C(resolveThreshold) from the detector, never V(null) (the warning
    threshold, else the critical one); a desired V(null) therefore also matches that value.
  - One call can manage many rules (O(rules)); the organization's rules are then listed once, and every rule is
    validated before the first write.
extends_documentation_fragment: [dermai.sentry.sentry, dermai.sentry.sentry.organization,
  dermai.sentry.sentry.rule, dermai.sentry.sentry.state]
options:
  rules:
    description:
      - Several rules at once, each a dict of the per-rule options of this module (O(name), O(projects),
        O(aggregate), O(dataset), O(query), O(query_type), O(event_types), O(time_window), O(threshold_type),
        O(threshold_period), O(resolve_threshold), O(triggers), O(environment), O(owner), O(state)) with the
        same defaults. The result then holds RV(rules).
    type: list
    elements: dict
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
author:
  - DermAI infrastructure team (@dermai)
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
  description: The rule as Sentry returns it (empty dict when absent; the planned rule in check mode). Single-rule mode.
  returned: when O(name) is given
  type: dict
  sample: {"id": "4", "name": "DermAI API: >100 errors/10m", "timeWindow": 10, "triggers": [{"label": "critical"}]}
detector:
  description: The detector behind the rule on a Sentry with the workflow engine (26.7+), else an empty dict.
  returned: when O(name) is given
  type: dict
workflow:
  description: The workflow behind the rule on a Sentry with the workflow engine (26.7+), else an empty dict.
  returned: when O(name) is given
  type: dict
rules:
  description: One entry per O(rules) item, in order, with C(name), C(changed), C(rule), C(detector), C(workflow).
  returned: when O(rules) is given
  type: list
  elements: dict
unbacked:
  description: Names of managed rules without a detector or workflow on a workflow-engine Sentry (they do not fire).
  returned: always
  type: list
  elements: str
"""

from ansible_collections.dermai.sentry.plugins.module_utils.sentry_api import (
    URL_ALERT_RULE,
    URL_ALERT_RULES,
    URL_ORG,
    SentryAPIError,
    canon,
    canon_set,
)
from ansible_collections.dermai.sentry.plugins.module_utils.sentry_checks import check_metric_rule
from ansible_collections.dermai.sentry.plugins.module_utils.sentry_resource import (
    RULE_OPTIONS,
    URL_DETECTORS,
    URL_RULE_DETECTOR,
    URL_RULE_WORKFLOW,
    URL_WORKFLOWS,
    RuleSet,
    run_rules,
)
from ansible_collections.dermai.sentry.plugins.module_utils.sentry_triggers import (
    clean_trigger,
    implied_resolve,
    same_triggers,
    with_server_ids,
)

THRESHOLD = {"above": 0, "below": 1}
DATASETS = ["events", "transactions", "generic_metrics", "metrics", "events_analytics_platform"]
OPTIONS = dict(RULE_OPTIONS, projects=dict(type="list", elements="str"), aggregate=dict(type="str", default="count()"))
OPTIONS.update(dataset=dict(type="str", default="events", choices=DATASETS), query=dict(type="str", default=""))
OPTIONS.update(query_type=dict(type="int", choices=[0, 1, 2]), event_types=dict(type="list", elements="str"))
OPTIONS.update(time_window=dict(type="int", default=60), threshold_period=dict(type="int"))
OPTIONS.update(threshold_type=dict(type="str", default="above", choices=["above", "below"]))
OPTIONS.update(resolve_threshold=dict(type="float"), triggers=dict(type="list", elements="dict", default=[]))
# The fields of a rule the diff shows.
FIELDS = "name projects aggregate dataset query timeWindow thresholdType resolveThreshold environment queryType"
FIELDS = (*FIELDS.split(), "eventTypes", "thresholdPeriod", "owner", "triggers")


class MetricAlerts(RuleSet):
    kind = "metric alert rule"
    rule_options = OPTIONS
    mappings = (
        (URL_RULE_DETECTOR, "alert_rule_id", URL_DETECTORS, "detector"),
        (URL_RULE_WORKFLOW, "alert_rule_id", URL_WORKFLOWS, "workflow"),
    )

    def list_path(self):
        return self.client.path(URL_ALERT_RULES, org=self.org)

    def item_path(self, rule_id):
        return self.client.path(URL_ALERT_RULE, org=self.org, rule=rule_id)

    def listing(self):
        try:
            return super().listing()
        except SentryAPIError as err:
            if err.status == 404 and self.client.get(self.client.path(URL_ORG, org=self.org), missing_ok=True):
                err.args = (
                    f"{err}. Organization {self.org!r} exists but has no metric alerts: this Sentry lacks the "
                    "organizations:incidents feature or its Snuba (self-hosted has both; a bare web + database "
                    "install does not)",
                )
            raise

    def validate_rule(self, spec, where):
        check_metric_rule(spec, lambda msg: self.fail(where, msg))

    def desired(self, spec):
        p = spec
        body = dict(name=p["name"], projects=p["projects"], aggregate=p["aggregate"], dataset=p["dataset"])
        body.update(query=p["query"], timeWindow=p["time_window"], thresholdType=THRESHOLD[p["threshold_type"]])
        body.update(resolveThreshold=p["resolve_threshold"], environment=p["environment"])
        body["triggers"] = [dict(t, actions=[dict(a) for a in t.get("actions") or []]) for t in p["triggers"]]
        optional = dict(queryType=p["query_type"], eventTypes=p["event_types"], thresholdPeriod=p["threshold_period"])
        optional["owner"] = p["owner"]
        body.update({k: v for k, v in optional.items() if v is not None})
        return body

    def same(self, desired, current):
        for field, want in desired.items():
            have = current.get(field)
            if field == "triggers":
                if not same_triggers(want, have or []):
                    return False
            elif field in ("projects", "eventTypes"):
                if canon_set(want) != canon_set(have):
                    return False
            elif field == "resolveThreshold" and want is None:
                if have is not None and canon(have) != canon(implied_resolve(desired["triggers"])):
                    return False
            elif canon(want) != canon(have):
                return False
        return True

    def update_body(self, desired, current):
        return dict(desired, triggers=with_server_ids(desired["triggers"], current))

    def view(self, rule):
        if not rule:
            return {}
        out = {k: rule.get(k) for k in FIELDS if k != "triggers" and k in rule}
        out["triggers"] = [clean_trigger(t) for t in rule.get("triggers") or []]
        return out


def main():
    run_rules(MetricAlerts)


if __name__ == "__main__":
    main()
