"""Issue alert rules (legacy /rules/ API) and metric alert rules (/alert-rules/): validation.

Follows src/sentry/api/serializers/rest_framework/rule.py (RuleNodeField, RuleSerializer),
src/sentry/api/endpoints/project_rules.py (missing actions, DuplicateRuleEvaluator) and the
rule node forms in src/sentry/rules/**; metric alerts follow the shape of
src/sentry/incidents/serializers/alert_rule.py. Own implementation; messages are Sentry's.
"""

from __future__ import annotations

import re
from typing import Any

from .validation import REQUIRED, Form, Invalid, as_choice, as_int, as_str

GENERIC_NODE_ERROR = "Ensure at least one action is enabled and all required fields are filled in."
MATCH_CHOICES = ("all", "any", "none")
STANDARD_INTERVALS = ("1m", "5m", "15m", "1h", "1d", "1w", "30d")
COMPARISON_INTERVALS = ("5m", "15m", "1h", "1d", "1w", "30d")
PERCENT_INTERVALS = ("5m", "10m", "30m", "1h")
ATTR_MATCHES = ("eq", "ne", "sw", "ew", "co", "nc", "is", "ns")
LEVELS = {"50": "fatal", "40": "error", "30": "warning", "20": "info", "10": "debug", "0": "sample"}

_C = "sentry.rules.conditions."
_F = "sentry.rules.filters."


class NodeError(Exception):
    """A rule node's form did not validate; carries the message RuleNodeField raises."""


def _given(data: dict, name: str, required: bool = True):
    """The submitted value of field `name`; None where it is empty and optional, NodeError where required."""
    value = data.get(name)
    if value in (None, ""):
        if required:
            raise NodeError(REQUIRED)
        return None
    return value


def _choice(data: dict, name: str, choices, cleaned: dict, required: bool = True) -> None:
    value = _given(data, name, required)
    if value is None:
        return
    value = str(value)
    if value not in choices:
        raise NodeError(f"Select a valid choice. {value} is not one of the available choices.")
    cleaned[name] = value


def _integer(data: dict, name: str, cleaned: dict, required: bool = True) -> None:
    value = _given(data, name, required)
    if value is None:
        return
    try:
        if isinstance(value, bool):
            raise ValueError
        number = int(str(value).strip())
    except ValueError as exc:
        raise NodeError("Enter a whole number.") from exc
    cleaned[name] = number


def _number(data: dict, name: str, cleaned: dict) -> None:
    value = _given(data, name)
    try:
        cleaned[name] = float(value)
    except (TypeError, ValueError) as exc:
        raise NodeError("Enter a number.") from exc


def _text(data: dict, name: str, cleaned: dict, required: bool = True) -> None:
    value = _given(data, name, required)
    if value is not None:
        cleaned[name] = str(value)


def _frequency_form(data: dict, project_ctx: dict) -> dict:
    cleaned: dict = {}
    _choice(data, "interval", STANDARD_INTERVALS, cleaned)
    _integer(data, "value", cleaned)
    comparison = data.get("comparisonType") or "count"
    if comparison not in ("count", "percent"):
        raise NodeError(f"Select a valid choice. {comparison} is not one of the available choices.")
    if "comparisonType" in data:
        cleaned["comparisonType"] = comparison
    if comparison == "percent":
        if not data.get("comparisonInterval"):
            raise NodeError("comparisonInterval is required when comparing by percent")
        _choice(data, "comparisonInterval", COMPARISON_INTERVALS, cleaned)
    return cleaned


def _percent_form(data: dict, project_ctx: dict) -> dict:
    cleaned: dict = {}
    _choice(data, "interval", PERCENT_INTERVALS, cleaned)
    _number(data, "value", cleaned)
    return cleaned


def _match_form(subject: str):
    """The form of a `<subject> <match> <value>` node: event_attribute's `attribute`, tagged_event's `key`."""

    def form(data: dict, project_ctx: dict) -> dict:
        cleaned: dict = {}
        _text(data, subject, cleaned)
        _choice(data, "match", ATTR_MATCHES, cleaned)
        _text(data, "value", cleaned, required=data.get("match") not in ("is", "ns"))
        return cleaned

    return form


_attribute_form = _match_form("attribute")
_tag_form = _match_form("key")
# The event_attribute condition and filter are one node in two places.
_ATTRIBUTE_NODE = ("filter", "The event's {attribute} value {match} {value}", _attribute_form)


def _level_form(data: dict, project_ctx: dict) -> dict:
    cleaned: dict = {}
    _choice(data, "match", ("eq", "gte", "lte"), cleaned)
    _choice(data, "level", tuple(LEVELS), cleaned)
    return cleaned


def _age_form(data: dict, project_ctx: dict) -> dict:
    cleaned: dict = {}
    _choice(data, "comparison_type", ("older", "newer"), cleaned)
    _integer(data, "value", cleaned)
    _choice(data, "time", ("minute", "hour", "day", "week"), cleaned)
    return cleaned


def _occurrences_form(data: dict, project_ctx: dict) -> dict:
    cleaned: dict = {}
    _integer(data, "value", cleaned)
    return cleaned


def _category_form(data: dict, project_ctx: dict) -> dict:
    cleaned: dict = {}
    _choice(data, "value", ("1", "2", "3", "4", "5", "6"), cleaned)
    cleaned["value"] = int(cleaned["value"])
    return cleaned


def _assigned_form(data: dict, project_ctx: dict) -> dict:
    cleaned: dict = {}
    _choice(data, "targetType", ("Unassigned", "Team", "Member"), cleaned)
    if cleaned["targetType"] != "Unassigned":
        _integer(data, "targetIdentifier", cleaned)
    return cleaned


def _email_form(data: dict, project_ctx: dict) -> dict:
    cleaned: dict = {}
    _choice(data, "targetType", ("IssueOwners", "Team", "Member"), cleaned)
    target_type = cleaned["targetType"]
    if "fallthroughType" in data and data["fallthroughType"] is not None:
        _choice(data, "fallthroughType", ("ActiveMembers", "AllMembers", "NoOne"), cleaned)
    if target_type == "IssueOwners":
        return cleaned
    _integer(data, "targetIdentifier", cleaned)
    target = str(cleaned["targetIdentifier"])
    if target_type == "Team" and target not in project_ctx["team_ids"]:
        raise NodeError("This team is not part of the project.")
    if target_type == "Member" and target not in project_ctx["member_ids"]:
        raise NodeError("This user is not part of the project.")
    return cleaned


def _service_form(data: dict, project_ctx: dict) -> dict:
    cleaned: dict = {}
    _choice(data, "service", ("mail", "webhooks"), cleaned)
    return cleaned


def _no_form(data: dict, project_ctx: dict) -> dict:
    return {}


# node id -> (kind, label template, form)
NODES: dict[str, tuple[str, str, Any]] = {
    _C + "first_seen_event.FirstSeenEventCondition": ("condition", "A new issue is created", _no_form),
    _C + "regression_event.RegressionEventCondition": (
        "condition",
        "The issue changes state from resolved to unresolved",
        _no_form,
    ),
    _C + "reappeared_event.ReappearedEventCondition": (
        "condition",
        "The issue changes state from archived to escalating",
        _no_form,
    ),
    _C + "every_event.EveryEventCondition": ("condition", "The event occurs", _no_form),
    _C + "high_priority_issue.NewHighPriorityIssueCondition": (
        "condition",
        "Sentry marks a new issue as high priority",
        _no_form,
    ),
    _C + "high_priority_issue.ExistingHighPriorityIssueCondition": (
        "condition",
        "Sentry marks an existing issue as high priority",
        _no_form,
    ),
    _C + "event_frequency.EventFrequencyCondition": (
        "condition",
        "The issue is seen more than {value} times in {interval}",
        _frequency_form,
    ),
    _C + "event_frequency.EventUniqueUserFrequencyCondition": (
        "condition",
        "The issue is seen by more than {value} users in {interval}",
        _frequency_form,
    ),
    _C + "event_frequency.EventFrequencyPercentCondition": (
        "condition",
        "The issue affects more than {value} percent of sessions in {interval}",
        _percent_form,
    ),
    _C + "event_attribute.EventAttributeCondition": _ATTRIBUTE_NODE,
    _F + "event_attribute.EventAttributeFilter": _ATTRIBUTE_NODE,
    _C + "tagged_event.TaggedEventCondition": ("filter", "The event's tags match {key} {match} {value}", _tag_form),
    _F + "tagged_event.TaggedEventFilter": ("filter", "The event's tags match {key} {match} {value}", _tag_form),
    _C + "level.LevelCondition": ("filter", "The event's level is {match} {level}", _level_form),
    _F + "level.LevelFilter": ("filter", "The event's level is {match} {level}", _level_form),
    _F + "age_comparison.AgeComparisonFilter": (
        "filter",
        "The issue is {comparison_type} than {value} {time}",
        _age_form,
    ),
    _F + "issue_occurrences.IssueOccurrencesFilter": (
        "filter",
        "The issue has happened at least {value} times",
        _occurrences_form,
    ),
    _F + "assigned_to.AssignedToFilter": ("filter", "The issue is assigned to {targetType}", _assigned_form),
    _F + "latest_release.LatestReleaseFilter": ("filter", "The event is from the latest release", _no_form),
    _F + "issue_category.IssueCategoryFilter": ("filter", "The issue's category is equal to {value}", _category_form),
    "sentry.mail.actions.NotifyEmailAction": (
        "action",
        "Send a notification to {targetType} and if none can be found then send a notification to {fallthroughType}",
        _email_form,
    ),
    "sentry.rules.actions.notify_event.NotifyEventAction": (
        "action",
        "Send a notification (for all legacy integrations)",
        _no_form,
    ),
    "sentry.rules.actions.notify_event_service.NotifyEventServiceAction": (
        "action",
        "Send a notification via {service}",
        _service_form,
    ),
}

# Sentry's rule registry lets condition-type nodes (EventAttribute, Tagged, Level conditions)
# also stand in the filters list; list type -> node kinds accepted there.
ACCEPTS = {"conditions": ("condition", "filter"), "filters": ("filter",), "actions": ("action",)}


def node_label(node: dict[str, Any]) -> str:
    spec = NODES.get(node.get("id", ""))
    if spec is None:
        return node.get("id", "")
    values = {k: v for k, v in node.items() if k != "id"}
    if node.get("id") == "sentry.mail.actions.NotifyEmailAction":
        values["fallthroughType"] = values.get("fallthroughType") or "ActiveMembers"
    if "level" in values:
        values["level"] = LEVELS.get(str(values["level"]), values["level"])
    try:
        return spec[1].format(**values)
    except (KeyError, IndexError):
        return spec[1]


def clean_node(data: Any, list_name: str, project_ctx: dict) -> dict[str, Any]:
    """RuleNodeField.to_internal_value: type check, known id, node form, cleaned values."""
    if not isinstance(data, dict):
        raise NodeError(f"Incorrect type. Expected a mapping, but got {type(data).__name__}")
    if "id" not in data:
        raise NodeError("Missing attribute 'id'")
    spec = NODES.get(data["id"])
    if spec is None or spec[0] not in ACCEPTS[list_name]:
        raise NodeError(f"Invalid node. Could not find '{data['id']}'")
    try:
        cleaned = spec[2](data, project_ctx)
    except NodeError as exc:
        message = str(exc)
        if message == REQUIRED:
            raise NodeError(GENERIC_NODE_ERROR) from exc
        raise
    node = {k: v for k, v in data.items() if k != "name"}
    node.update(cleaned)
    return node


def _node_list(form: Form, name: str, project_ctx: dict, required: bool) -> None:
    if name not in form.body:
        if required:
            form.errors[name] = [REQUIRED]
        else:
            form.values[name] = []
        return
    raw = form.body[name]
    if raw is None:
        form.errors[name] = ["This field may not be null."]
        return
    if not isinstance(raw, list):
        form.errors[name] = [f'Expected a list of items but got type "{type(raw).__name__}".']
        return
    cleaned, errors = [], {}
    for index, item in enumerate(raw):
        try:
            cleaned.append(clean_node(item, name, project_ctx))
        except NodeError as exc:
            errors[str(index)] = [str(exc)]
    if errors:
        form.errors[name] = errors
    else:
        form.values[name] = cleaned


def _actor(value: Any, project_ctx: dict) -> str:
    text = str(value)
    match = re.fullmatch(r"(team|user):(\d+)", text)
    if not match:
        raise Invalid("Could not parse actor. Format should be `type:id` where type is `team` or `user`.")
    kind, ident = match.groups()
    if kind == "team" and ident not in project_ctx["org_team_ids"]:
        raise Invalid("Team does not exist")
    if kind == "user" and ident not in project_ctx["member_ids"]:
        raise Invalid("User does not exist")
    return text


def validate_issue_rule(body: dict[str, Any], project_ctx: dict) -> tuple[dict[str, Any] | None, dict]:
    """Validate a POST/PUT /rules/ body. Returns (clean rule fields, errors)."""
    form = Form(body)
    form.field("name", lambda v: as_str(v, max_length=256), required=True)
    form.field("actionMatch", lambda v: as_choice(v, MATCH_CHOICES), required=True)
    form.field("filterMatch", lambda v: as_choice(v, MATCH_CHOICES))
    form.field("frequency", lambda v: as_int(v, min_value=5, max_value=60 * 24 * 30), required=True)
    form.field("environment", lambda v: _environment(v, project_ctx), allow_null=True)
    form.field("owner", lambda v: _actor(v, project_ctx), allow_null=True)
    _node_list(form, "conditions", project_ctx, required=False)
    _node_list(form, "filters", project_ctx, required=False)
    _node_list(form, "actions", project_ctx, required=False)
    if form.errors:
        return None, form.errors
    if form.values.get("filters") and not form.values.get("filterMatch"):
        return None, {"filterMatch": ["Must select a filter match (all, any, none) if filters are supplied."]}
    if not form.values.get("actions"):
        return None, {"actions": ["You must add an action for this alert to fire."]}
    rule = {
        "name": form.values["name"],
        "actionMatch": form.values["actionMatch"],
        "filterMatch": form.values.get("filterMatch"),
        "frequency": form.values["frequency"],
        "environment": form.values.get("environment"),
        "owner": form.values.get("owner"),
        "conditions": form.values["conditions"],
        "filters": form.values["filters"],
        "actions": form.values["actions"],
    }
    return rule, {}


def _environment(value: Any, project_ctx: dict) -> str:
    name = as_str(value, max_length=64)
    if name not in project_ctx["environments"]:
        raise Invalid("This environment has not been created.")
    return name


def _strip_uuid(nodes: list[dict]) -> list[dict]:
    return [{k: v for k, v in node.items() if k != "uuid"} for node in nodes]


def find_duplicate(rule: dict[str, Any], existing: list[dict[str, Any]], exclude_id: str | None = None):
    """DuplicateRuleEvaluator: every key both rules set must match; name is not compared.

    Keys compared: action_match, filter_match, frequency, conditions (conditions+filters as
    stored), only when both rules have a truthy value; actions (ignoring uuid) and environment
    count as checked when either rule sets them.
    """
    mine = {
        "action_match": rule["actionMatch"],
        "filter_match": rule.get("filterMatch"),
        "frequency": rule["frequency"],
        "conditions": rule["conditions"] + rule["filters"],
    }
    for other in existing:
        if exclude_id is not None and other["id"] == exclude_id:
            continue
        theirs = {
            "action_match": other["actionMatch"],
            "filter_match": other.get("filterMatch"),
            "frequency": other["frequency"],
            "conditions": other["conditions"] + other["filters"],
        }
        checked = matched = 0
        for key, value in mine.items():
            if value and theirs[key]:
                checked += 1
                matched += value == theirs[key]
        if rule["actions"] or other["actions"]:
            checked += 1
            if rule["actions"] and other["actions"]:
                matched += _strip_uuid(rule["actions"]) == _strip_uuid(other["actions"])
        if rule.get("environment") or other.get("environment"):
            checked += 1
            matched += rule.get("environment") == other.get("environment")
        if checked and checked == matched:
            return other
    return None


# --------------------------------------------------------------------------- metric alerts
DATASETS = ("events", "transactions", "generic_metrics", "metrics", "events_analytics_platform")
ACTION_TYPES = ("email", "slack", "msteams", "pagerduty", "opsgenie", "discord", "sentry_app")
TARGET_TYPES = ("user", "team", "specific", "sentry_app")


def _triggers(value: Any, threshold_type: int, resolve_threshold: float | None, ctx: dict) -> list[dict]:
    if not isinstance(value, list):
        raise Invalid(f'Expected a list of items but got type "{type(value).__name__}".')
    if not value:
        raise Invalid("Must include at least one trigger")
    if len(value) > 2:
        raise Invalid("Must send 1 or 2 triggers - A critical trigger, and an optional warning trigger")
    cleaned = []
    for index, trigger in enumerate(value):
        if not isinstance(trigger, dict):
            raise Invalid("Invalid trigger")
        expected = "critical" if index == 0 else "warning"
        if trigger.get("label") != expected:
            raise Invalid(f'Trigger {index + 1} must be labeled "{expected}"')
        if trigger.get("alertThreshold") is None:
            raise Invalid({"alertThreshold": [REQUIRED]})
        try:
            threshold = float(trigger["alertThreshold"])
        except (TypeError, ValueError) as exc:
            raise Invalid({"alertThreshold": ["A valid number is required."]}) from exc
        actions = trigger.get("actions") or []
        if not actions:
            raise Invalid("Each trigger must have an associated action for this alert to fire.")
        clean_actions = []
        for action in actions:
            if not isinstance(action, dict):
                raise Invalid("Invalid action")
            if action.get("type") not in ACTION_TYPES:
                raise Invalid({"type": [f"Invalid type, valid values are {list(ACTION_TYPES)!r}"]})
            if action.get("targetType") not in TARGET_TYPES:
                raise Invalid({"targetType": [f"Invalid targetType, valid values are {list(TARGET_TYPES)!r}"]})
            target = action.get("targetIdentifier")
            if action["type"] == "email" and action["targetType"] == "team" and str(target) not in ctx["team_ids"]:
                raise Invalid("Team does not exist")
            if action["type"] == "email" and action["targetType"] == "user" and str(target) not in ctx["member_ids"]:
                raise Invalid("User does not belong to this organization")
            clean_actions.append(
                {
                    "id": action.get("id"),
                    "type": action["type"],
                    "targetType": action["targetType"],
                    "targetIdentifier": None if target is None else str(target),
                    "integrationId": action.get("integrationId"),
                    "sentryAppId": action.get("sentryAppId"),
                    "inputChannelId": action.get("inputChannelId"),
                    "priority": action.get("priority"),
                }
            )
        cleaned.append(
            {"id": trigger.get("id"), "label": expected, "alertThreshold": threshold, "actions": clean_actions}
        )
    above = threshold_type == 0
    word = "above" if above else "below"
    if resolve_threshold is not None:
        for trigger in cleaned:
            _check_resolve(trigger, resolve_threshold, above, word)
    if len(cleaned) == 2:
        critical, warning = cleaned[0]["alertThreshold"], cleaned[1]["alertThreshold"]
        if (above and critical < warning) or (not above and critical > warning):
            raise Invalid(f"Critical trigger must have an alert threshold {word} warning trigger")
    return cleaned


def _check_resolve(trigger: dict, resolve: float, above: bool, word: str) -> None:
    """AlertRuleSerializer._validate_trigger_thresholds, boundary adjustment for integers included."""
    alert = trigger["alertThreshold"]
    integral = float(alert).is_integer() and float(resolve).is_integer()
    if above:
        alert_add, resolve_add = (1, -1) if integral else (0, 0)
        bad = alert + alert_add <= resolve + resolve_add
    else:
        alert_add, resolve_add = (-1, 1) if integral else (0, 0)
        bad = alert + alert_add >= resolve + resolve_add
    if bad:
        raise Invalid(f"{trigger['label']} alert threshold must be {word} resolution threshold")


def validate_metric_alert(body: dict[str, Any], ctx: dict) -> tuple[dict[str, Any] | None, dict]:
    form = Form(body)
    form.field("name", lambda v: as_str(v, max_length=256), required=True)
    form.field("query", lambda v: as_str(v, allow_blank=True), required=True)
    form.field("aggregate", lambda v: as_str(v), required=True)
    form.field("timeWindow", lambda v: as_int(v, min_value=1, max_value=1440), required=True)
    form.field("dataset", lambda v: as_choice(v, DATASETS))
    form.field("queryType", lambda v: as_choice(as_int(v), (0, 1, 2)))
    form.field("thresholdType", lambda v: as_choice(as_int(v), (0, 1)))
    form.field("thresholdPeriod", lambda v: as_int(v, min_value=1, max_value=20))
    form.field("resolveThreshold", _float, allow_null=True)
    form.field("comparisonDelta", lambda v: as_int(v, min_value=1, max_value=89 * 24 * 60), allow_null=True)
    form.field("environment", lambda v: _org_environment(v, ctx), allow_null=True)
    form.field("owner", lambda v: _actor(v, ctx), allow_null=True)
    form.field("projects", lambda v: _alert_projects(v, ctx), required=True)
    form.field(
        "eventTypes", lambda v: [as_choice(x, ("error", "default", "transaction", "trace_item_span")) for x in v]
    )
    if form.errors:
        return None, form.errors
    dataset = form.values.get("dataset", "events")
    if dataset == "transactions":
        return None, {"dataset": ["Performance alerts must use the `generic_metrics` dataset"]}
    if "release:latest" in form.values["query"]:
        return None, {"query": ["Latest release is not supported for alerts"]}
    if form.values["aggregate"].startswith("upsampled_count"):
        return None, {"aggregate": ["Invalid Metric: upsampled_count is not supported"]}
    threshold_type = form.values.get("thresholdType", 0)
    try:
        triggers = _triggers(body.get("triggers"), threshold_type, form.values.get("resolveThreshold"), ctx)
    except Invalid as exc:
        detail = exc.detail
        if isinstance(detail, list):
            return None, {"nonFieldErrors": detail}
        return None, detail
    default_types = ["transaction"] if dataset in ("transactions", "generic_metrics") else ["error", "default"]
    rule = {
        "name": form.values["name"],
        "query": form.values["query"],
        "aggregate": form.values["aggregate"],
        "timeWindow": form.values["timeWindow"],
        "dataset": dataset,
        "queryType": form.values.get("queryType", 1 if dataset in ("transactions", "generic_metrics") else 0),
        "thresholdType": threshold_type,
        "thresholdPeriod": form.values.get("thresholdPeriod", 1),
        "resolveThreshold": form.values.get("resolveThreshold"),
        "comparisonDelta": form.values.get("comparisonDelta"),
        "environment": form.values.get("environment"),
        "owner": form.values.get("owner"),
        "projects": form.values["projects"],
        "eventTypes": form.values.get("eventTypes") or default_types,
        "triggers": triggers,
    }
    return rule, {}


def _float(value: Any) -> float:
    if isinstance(value, bool):
        raise Invalid("A valid number is required.")
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise Invalid("A valid number is required.") from exc


def _org_environment(value: Any, ctx: dict) -> str:
    name = as_str(value)
    if name not in ctx["environments"]:
        raise Invalid("Environment does not exist")
    return name


def _alert_projects(value: Any, ctx: dict) -> list[str]:
    if not isinstance(value, list) or not value:
        raise Invalid("Must specify at least one project")
    if len(value) > 1:
        raise Invalid("Only one project may be specified")
    for slug in value:
        if slug not in ctx["project_slugs"]:
            raise Invalid("Invalid project")
    return [str(v) for v in value]
