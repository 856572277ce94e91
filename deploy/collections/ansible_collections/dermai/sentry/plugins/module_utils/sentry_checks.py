# Copyright: DermAI
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Input checks of the dermai.sentry modules: what Sentry would refuse, refused before any request.

PRIVATE to this collection: the interface may change without notice.
"""

from __future__ import annotations

import json
import re

# Sentry's platform ids (sentry.models.project GETTING_STARTED_DOCS_PLATFORMS) plus "other".
PLATFORMS = [
    "android",
    "apple",
    "apple-ios",
    "apple-macos",
    "bun",
    "capacitor",
    "cloudflare-pages",
    "cloudflare-workers",
    "cordova",
    "dart",
    "deno",
    "dotnet",
    "dotnet-aspnet",
    "dotnet-aspnetcore",
    "dotnet-awslambda",
    "dotnet-gcpfunctions",
    "dotnet-maui",
    "dotnet-uwp",
    "dotnet-winforms",
    "dotnet-wpf",
    "dotnet-xamarin",
    "electron",
    "elixir",
    "flutter",
    "go",
    "go-echo",
    "go-fasthttp",
    "go-fiber",
    "go-gin",
    "go-http",
    "go-iris",
    "go-martini",
    "go-negroni",
    "ionic",
    "java",
    "java-log4j2",
    "java-logback",
    "java-spring",
    "java-spring-boot",
    "javascript",
    "javascript-angular",
    "javascript-astro",
    "javascript-ember",
    "javascript-gatsby",
    "javascript-nextjs",
    "javascript-nuxt",
    "javascript-react",
    "javascript-remix",
    "javascript-solid",
    "javascript-solidstart",
    "javascript-svelte",
    "javascript-sveltekit",
    "javascript-vue",
    "kotlin",
    "minidump",
    "native",
    "native-qt",
    "nintendo-switch",
    "node",
    "node-awslambda",
    "node-azurefunctions",
    "node-connect",
    "node-express",
    "node-fastify",
    "node-gcpfunctions",
    "node-hapi",
    "node-koa",
    "node-nestjs",
    "other",
    "php",
    "php-laravel",
    "php-symfony",
    "powershell",
    "python",
    "python-aiohttp",
    "python-asgi",
    "python-awslambda",
    "python-bottle",
    "python-celery",
    "python-chalice",
    "python-django",
    "python-falcon",
    "python-fastapi",
    "python-flask",
    "python-gcpfunctions",
    "python-pylons",
    "python-pymongo",
    "python-pyramid",
    "python-quart",
    "python-rq",
    "python-sanic",
    "python-serverless",
    "python-starlette",
    "python-tornado",
    "python-tryton",
    "python-wsgi",
    "react-native",
    "ruby",
    "ruby-rack",
    "ruby-rails",
    "rust",
    "unity",
    "unreal",
]

# The scopes a Sentry token (and an internal integration) can carry: SENTRY_SCOPES in src/sentry/conf/server.py.
_SCOPE_LEVELS = {"org": "read write admin integrations ci", "member": "invite read write admin"}
_SCOPE_LEVELS.update(team="read write admin", project="read write admin releases distribution")
_SCOPE_LEVELS.update(event="read write admin", alerts="read write")
SCOPES = tuple(f"{area}:{level}" for area, levels in _SCOPE_LEVELS.items() for level in levels.split())

RELAY_RULE_TYPES = (
    "anything",
    "pattern",
    "imei",
    "mac",
    "uuid",
    "email",
    "ip",
    "creditcard",
    "iban",
    "userpath",
    "pemkey",
    "url_auth",
    "us_ssn",
    "password",
    "redact_pair",
    "multiple",
    "alias",
)
RELAY_METHODS = ("remove", "replace", "mask", "hash", "default")


def check_pii_config(module, option, value):
    """Reject a relay_pii_config that Relay would refuse, before any request is sent."""
    if value is None:
        return
    unknown = sorted(set(value) - {"rules", "vars", "applications"})
    if unknown:
        module.fail_json(msg=f"{option}: unknown top-level keys {unknown}; allowed: rules, vars, applications")
    rules = value.get("rules") or {}
    if not isinstance(rules, dict):
        module.fail_json(msg=f"{option}.rules must be a dict of rule name -> rule")
    for name, rule in rules.items():
        rtype = (rule or {}).get("type")
        if rtype not in RELAY_RULE_TYPES:
            module.fail_json(msg=f"{option}.rules.{name}.type is {rtype!r}; allowed: {', '.join(RELAY_RULE_TYPES)}")
        method = ((rule or {}).get("redaction") or {}).get("method", "default")
        if method not in RELAY_METHODS:
            module.fail_json(
                msg=f"{option}.rules.{name}.redaction.method is {method!r}; allowed: {', '.join(RELAY_METHODS)}"
            )
    apps = value.get("applications") or {}
    if not isinstance(apps, dict) or not all(isinstance(v, list) for v in apps.values()):
        module.fail_json(msg=f"{option}.applications must map a selector to a list of rule names")
    for selector, names in apps.items():
        for ref in names:
            if not str(ref).startswith("@") and ref not in rules:
                module.fail_json(
                    msg=f"{option}.applications[{selector!r}] refers to rule {ref!r}, which is neither "
                    "defined under rules nor a builtin (@...)"
                )
    try:  # the authoritative validator, when sentry-relay is installed where the module runs
        from sentry_relay.processing import validate_pii_config
    except ImportError:
        return
    try:
        validate_pii_config(json.dumps(value))
    except Exception as err:  # sentry_relay raises its own exception types
        module.fail_json(msg=f"{option} is not a valid Relay PII config: {err}")


def check_field_list(module, option, values):
    """sensitive_fields / safe_fields: no empty entries, at most 4000 characters in total (Sentry's limit)."""
    if values is None:
        return
    if any(not str(v).strip() for v in values):
        module.fail_json(msg=f"{option} must not contain empty strings")
    if sum(len(str(v)) for v in values) > 4000:
        module.fail_json(msg=f"{option}: the entries may hold at most 4000 characters in total")


def check_crash_reports(module, value):
    if value is not None and not -1 <= value <= 100:
        module.fail_json(
            msg=f"store_crash_reports is {value}; allowed: -1 (unlimited), 0 (disabled) or 1..100 reports per issue"
        )


# Sentry's API name of an option is its camelCase, except for these.
API_SPELLING = dict(
    scrub_ip_addresses="scrubIPAddresses", scrape_javascript="scrapeJavaScript", require_2fa="require2FA"
)


def api_fields(*options):
    """{option: API field} of the settings a module manages."""
    return {opt: API_SPELLING.get(opt) or re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), opt) for opt in options}


# The privacy settings organizations and projects share: option -> API field, and their argument spec.
PRIVACY_FIELDS = api_fields("data_scrubber", "data_scrubber_defaults", "scrub_ip_addresses", "sensitive_fields")
PRIVACY_FIELDS.update(api_fields("safe_fields", "store_crash_reports", "relay_pii_config"))
PRIVACY_OPTIONS = {opt: dict(type="bool") for opt in ("data_scrubber", "data_scrubber_defaults", "scrub_ip_addresses")}
PRIVACY_OPTIONS.update(
    sensitive_fields=dict(type="list", elements="str", no_log=False),
    safe_fields=dict(type="list", elements="str"),
    store_crash_reports=dict(type="int"),
    relay_pii_config=dict(type="dict"),
)


def check_privacy(module):
    """The privacy settings of an organization or a project that Sentry or Relay would refuse."""
    p = module.params
    check_field_list(module, "sensitive_fields", p["sensitive_fields"])
    check_field_list(module, "safe_fields", p["safe_fields"])
    check_crash_reports(module, p["store_crash_reports"])
    check_pii_config(module, "relay_pii_config", p["relay_pii_config"])


# Rule node ids the legacy /rules/ API accepts (the rule registry of Sentry 23.7 to 26.x:
# src/sentry/rules/{conditions,filters,actions}/, src/sentry/mail/actions.py). Condition-type nodes
# that act as filters are accepted in both lists, as Sentry's registry does. One list: the sentry_config
# role's input checks import it.
_C = "sentry.rules.conditions."
_F = "sentry.rules.filters."
EMAIL_ACTION = "sentry.mail.actions.NotifyEmailAction"
CONDITION_IDS = frozenset(
    _C + name
    for name in (
        "every_event.EveryEventCondition",
        "first_seen_event.FirstSeenEventCondition",
        "regression_event.RegressionEventCondition",
        "reappeared_event.ReappearedEventCondition",
        "high_priority_issue.NewHighPriorityIssueCondition",
        "high_priority_issue.ExistingHighPriorityIssueCondition",
        "event_frequency.EventFrequencyCondition",
        "event_frequency.EventUniqueUserFrequencyCondition",
        "event_frequency.EventFrequencyPercentCondition",
    )
)
FILTER_IDS = frozenset(
    [
        _C + n
        for n in (
            "event_attribute.EventAttributeCondition",
            "tagged_event.TaggedEventCondition",
            "level.LevelCondition",
        )
    ]
    + [
        _F + n
        for n in (
            "event_attribute.EventAttributeFilter",
            "tagged_event.TaggedEventFilter",
            "level.LevelFilter",
            "age_comparison.AgeComparisonFilter",
            "issue_occurrences.IssueOccurrencesFilter",
            "assigned_to.AssignedToFilter",
            "latest_release.LatestReleaseFilter",
            "issue_category.IssueCategoryFilter",
        )
    ]
)
ACTION_IDS = frozenset(
    (
        EMAIL_ACTION,
        "sentry.rules.actions.notify_event.NotifyEventAction",
        "sentry.rules.actions.notify_event_service.NotifyEventServiceAction",
    )
)
NODE_IDS = {"conditions": CONDITION_IDS | FILTER_IDS, "filters": FILTER_IDS, "actions": ACTION_IDS}
FREQ = _C + "event_frequency."
STANDARD_INTERVALS = ("1m", "5m", "15m", "1h", "1d", "1w", "30d")
COMPARISON_INTERVALS = ("5m", "15m", "1h", "1d", "1w", "30d")
PERCENT_INTERVALS = ("5m", "10m", "30m", "1h")
LEVELS = ("0", "10", "20", "30", "40", "50")
MATCH_LEVEL = ("eq", "gte", "lte")
EMAIL_TARGETS = ("IssueOwners", "Team", "Member")
FALLTHROUGH = ("ActiveMembers", "AllMembers", "NoOne")


def check_issue_node(fail, kind, index, node):
    """An issue-rule node (condition, filter, action) Sentry would refuse; fail(message) says why."""
    where = f"{kind}[{index}]"
    nid = node.get("id")
    if not nid or not isinstance(nid, str):
        fail(f"{where} needs an 'id' (the Sentry node class path)")
    if nid in (FREQ + "EventFrequencyCondition", FREQ + "EventUniqueUserFrequencyCondition"):
        if str(node.get("interval")) not in STANDARD_INTERVALS:
            fail(
                f"{where}.interval is {node.get('interval')!r}; allowed for {nid.rsplit('.', 1)[1]}: "
                f"{', '.join(STANDARD_INTERVALS)}"
            )
        if node.get("comparisonType", "count") not in ("count", "percent"):
            fail(f"{where}.comparisonType must be count or percent")
        if node.get("comparisonType") == "percent" and str(node.get("comparisonInterval")) not in COMPARISON_INTERVALS:
            fail(
                f"{where}.comparisonInterval is {node.get('comparisonInterval')!r}; allowed with comparisonType "
                f"percent: {', '.join(COMPARISON_INTERVALS)}"
            )
        check_number(fail, where, node)
    elif nid == FREQ + "EventFrequencyPercentCondition":
        if str(node.get("interval")) not in PERCENT_INTERVALS:
            fail(
                f"{where}.interval is {node.get('interval')!r}; allowed for EventFrequencyPercentCondition: "
                f"{', '.join(PERCENT_INTERVALS)}"
            )
        check_number(fail, where, node)
    elif nid == "sentry.rules.filters.level.LevelFilter":
        if str(node.get("level")) not in LEVELS:
            fail(
                f"{where}.level is {node.get('level')!r}; allowed: {', '.join(LEVELS)} "
                "(50 fatal, 40 error, 30 warning, 20 info, 10 debug, 0 sample)"
            )
        if node.get("match") not in MATCH_LEVEL:
            fail(f"{where}.match is {node.get('match')!r}; allowed: {', '.join(MATCH_LEVEL)}")
    elif nid == EMAIL_ACTION:
        target = node.get("targetType")
        if target not in EMAIL_TARGETS:
            fail(f"{where}.targetType is {target!r}; allowed: {', '.join(EMAIL_TARGETS)}")
        if target in ("Team", "Member") and node.get("targetIdentifier") in (None, ""):
            fail(f"{where}.targetIdentifier is required for targetType {target} (a team or user id)")
        if node.get("fallthroughType") is not None and node["fallthroughType"] not in FALLTHROUGH:
            fail(f"{where}.fallthroughType is {node['fallthroughType']!r}; allowed: {', '.join(FALLTHROUGH)}")


def check_number(fail, where, node):
    try:
        float(node.get("value"))
    except (TypeError, ValueError):
        fail(f"{where}.value must be a number, got {node.get('value')!r}")


TIME_WINDOWS = (1, 5, 10, 15, 30, 60, 120, 240, 1440)
ACTION_TYPES = ("email", "slack", "msteams", "pagerduty", "opsgenie", "discord", "sentry_app")
TARGET_TYPES = ("user", "team", "specific", "sentry_app")


def check_metric_rule(p, fail):
    """A metric alert rule Sentry would refuse (options as the module takes them); fail(message) says why."""
    if not p["name"] or len(p["name"]) > 256:
        fail("name must be 1 to 256 characters long")
    if not p["projects"] or len(p["projects"]) != 1:
        fail("projects must list exactly one project slug")
    if p["time_window"] not in TIME_WINDOWS:
        fail(f"time_window is {p['time_window']}; allowed: {', '.join(map(str, TIME_WINDOWS))} (minutes)")
    if p["threshold_period"] is not None and not 1 <= p["threshold_period"] <= 20:
        fail(f"threshold_period is {p['threshold_period']}; allowed: 1 to 20")
    if p["owner"] is not None and not (p["owner"].startswith(("team:", "user:")) and p["owner"][5:].isdigit()):
        fail(f"owner is {p['owner']!r}; allowed: team:<id> or user:<id>")
    triggers = p["triggers"]
    if not 1 <= len(triggers) <= 2:
        fail("triggers must hold one or two triggers: critical, optionally warning")
    labels = [t.get("label") for t in triggers]
    if labels[0] != "critical" or (len(labels) == 2 and labels[1] != "warning"):
        fail(f"triggers are labelled {labels}; allowed: ['critical'] or ['critical', 'warning']")
    thresholds = {}
    for i, trig in enumerate(triggers):
        where = f"triggers[{i}]"
        try:
            thresholds[trig["label"]] = float(trig.get("alertThreshold"))
        except (TypeError, ValueError):
            fail(f"{where}.alertThreshold must be a number, got {trig.get('alertThreshold')!r}")
        if not trig.get("actions"):
            fail(f"{where}.actions must contain at least one action")
        for j, action in enumerate(trig["actions"]):
            if action.get("type") not in ACTION_TYPES:
                fail(f"{where}.actions[{j}].type is {action.get('type')!r}; allowed: {', '.join(ACTION_TYPES)}")
            if action.get("targetType") not in TARGET_TYPES:
                fail(
                    f"{where}.actions[{j}].targetType is {action.get('targetType')!r}; "
                    f"allowed: {', '.join(TARGET_TYPES)}"
                )
    above = p["threshold_type"] == "above"
    if "warning" in thresholds and (
        thresholds["warning"] > thresholds["critical"] if above else thresholds["warning"] < thresholds["critical"]
    ):
        fail(
            f"the warning threshold must be {'at most' if above else 'at least'} the critical threshold "
            f"for threshold_type {p['threshold_type']}"
        )
    resolve = p["resolve_threshold"]
    if resolve is not None and (resolve >= min(thresholds.values()) if above else resolve <= max(thresholds.values())):
        fail(
            f"resolve_threshold must be {'below' if above else 'above'} every trigger threshold "
            f"for threshold_type {p['threshold_type']}"
        )
