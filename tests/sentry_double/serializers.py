"""Response bodies shaped like Sentry's serializers (fields the OpenAPI schema requires, plus
the privacy options the bundle reads back)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from .rules import node_label
from .state import TOKEN_USER

AVATAR = {"avatarType": "letter_avatar", "avatarUuid": None, "avatarUrl": None}
TEAM_SCOPES = ["team:read", "team:write", "team:admin"]
PROJECT_SCOPES = ["project:read", "project:write", "project:admin", "project:releases", "event:read", "alerts:read"]
_INSIGHTS = [
    "hasFeedbacks",
    "hasFlags",
    "hasMinifiedStackTrace",
    "hasMonitors",
    "hasNewFeedbacks",
    "hasProfiles",
    "hasReplays",
    "hasSessions",
    "hasInsightsHttp",
    "hasInsightsDb",
    "hasInsightsAssets",
    "hasInsightsAppStart",
    "hasInsightsScreenLoad",
    "hasInsightsVitals",
    "hasInsightsCaches",
    "hasInsightsQueues",
    "hasInsightsAgentMonitoring",
    "hasInsightsMCP",
    "hasLogs",
    "hasTraceMetrics",
    "hasUserReports",
]


# --------------------------------------------------------------------------- DSNs
def dsn_block(url_prefix: str, project_id: str, public: str, secret: str) -> dict[str, str]:
    """ProjectKey.get_dsn and friends: ``{scheme}://{public}@{netloc}{path}/{project_id}``.

    When the url-prefix has no scheme or host, every DSN is the empty string (as in Sentry).
    """
    parts = urlsplit(url_prefix or "")
    names = [
        "public",
        "secret",
        "csp",
        "security",
        "minidump",
        "nel",
        "unreal",
        "crons",
        "cdn",
        "playstation",
        "integration",
        "otlp_traces",
        "otlp_logs",
    ]
    if not parts.scheme or not parts.netloc:
        return dict.fromkeys(names, "")
    path = parts.path.rstrip("/")
    base = f"{parts.scheme}://{parts.netloc}{path}"
    api = f"{base}/api/{project_id}"
    return {
        "public": f"{parts.scheme}://{public}@{parts.netloc}{path}/{project_id}",
        "secret": f"{parts.scheme}://{public}:{secret}@{parts.netloc}{path}/{project_id}",
        "csp": f"{api}/csp-report/?sentry_key={public}",
        "security": f"{api}/security/?sentry_key={public}",
        "minidump": f"{api}/minidump/?sentry_key={public}",
        "nel": f"{api}/nel/?sentry_key={public}",
        "unreal": f"{api}/unreal/{public}/",
        "crons": f"{api}/cron/___MONITOR_SLUG___/{public}/",
        "cdn": f"{base}/js-sdk-loader/{public}.min.js",
        "playstation": f"{api}/playstation/?sentry_key={public}",
        "integration": f"{api}/integration/",
        "otlp_traces": f"{api}/integration/otlp/v1/traces",
        "otlp_logs": f"{api}/integration/otlp/v1/logs",
    }


def key(k: dict[str, Any], url_prefix: str) -> dict[str, Any]:
    limit = k.get("rateLimit") or {}
    rate = {"window": limit["window"], "count": limit["count"]} if limit.get("window") and limit.get("count") else None
    return {
        "id": k["public"],
        "name": k["label"],
        "label": k["label"],
        "public": k["public"],
        "secret": k["secret"],
        "projectId": int(k["project"]),
        "isActive": k["isActive"],
        "rateLimit": rate,
        "dsn": dsn_block(url_prefix, k["project"], k["public"], k["secret"]),
        "browserSdkVersion": k["browserSdkVersion"],
        "browserSdk": {"choices": [["latest", "latest"], ["10.x", "10.x"], ["9.x", "9.x"], ["8.x", "8.x"]]},
        "dateCreated": k["dateCreated"],
        "dynamicSdkLoaderOptions": dict(k["dynamicSdkLoaderOptions"]),
        "useCase": k.get("useCase", "user"),
    }


# --------------------------------------------------------------------------- orgs
def org_summary(org: dict[str, Any], url_prefix: str) -> dict[str, Any]:
    opts = org["options"]
    base = (url_prefix or "").rstrip("/")
    return {
        "id": org["id"],
        "slug": org["slug"],
        "status": {"id": "active", "name": "active"},
        "name": org["name"],
        "dateCreated": org["dateCreated"],
        "isEarlyAdopter": opts["isEarlyAdopter"],
        "require2FA": opts["require2FA"],
        "avatar": dict(AVATAR),
        "links": {"organizationUrl": base, "regionUrl": base},
        "hasAuthProvider": False,
        "allowMemberInvite": opts["allowMemberInvite"],
        "allowMemberProjectCreation": opts["allowMemberProjectCreation"],
        "allowSuperuserAccess": opts["allowSuperuserAccess"],
        "features": ["incidents", "projects:rate-limits"],
    }


def org_detail(org: dict[str, Any], url_prefix: str, teams: list, projects: list, scopes: set) -> dict[str, Any]:
    body = org_summary(org, url_prefix)
    opts = org["options"]
    for name in (
        "dataScrubber",
        "dataScrubberDefaults",
        "scrubIPAddresses",
        "sensitiveFields",
        "safeFields",
        "storeCrashReports",
        "attachmentsRole",
        "debugFilesRole",
        "eventsMemberAdmin",
        "alertsMemberWrite",
        "defaultRole",
        "openMembership",
        "allowSharedIssues",
        "enhancedPrivacy",
        "scrapeJavaScript",
        "allowJoinRequests",
        "trustedRelays",
    ):
        body[name] = opts[name]
    body["relayPiiConfig"] = opts["relayPiiConfig"]
    body["isDefault"] = org["slug"] == "sentry"
    body.update(
        {
            "aggregatedDataConsent": False,
            "autoEnableCodeReview": False,
            "autoOpenPrs": False,
            "defaultAutofixAutomationTuning": "off",
            "defaultAutomatedRunStoppingPoint": "root_cause",
            "defaultCodeReviewTriggers": [],
            "defaultCodingAgent": "seer",
            "defaultCodingAgentIntegrationId": None,
            "defaultSeerScannerAutomation": False,
            "enableSeerCoding": False,
            "experiments": {},
            "hideAiFeatures": True,
            "isDynamicallySampled": False,
            "issueAlertsThreadFlag": True,
            "metricAlertsThreadFlag": True,
            "orgRoleList": [],
            "teamRoleList": [],
            "pendingAccessRequests": 0,
            "relayDsnEndpoint": None,
            "requiresSso": False,
        }
    )
    body["access"] = sorted(scopes)
    body["role"] = "owner"
    body["orgRole"] = "owner"
    body["onboardingTasks"] = []
    body["teams"] = teams
    body["projects"] = projects
    return body


# --------------------------------------------------------------------------- teams
def team(t: dict[str, Any], projects: list | None = None) -> dict[str, Any]:
    body = {
        "id": t["id"],
        "slug": t["slug"],
        "name": t["name"],
        "dateCreated": t["dateCreated"],
        "isMember": True,
        "teamRole": "admin",
        "flags": {"idp:provisioned": False},
        "access": list(TEAM_SCOPES),
        "hasAccess": True,
        "isPending": False,
        "memberCount": 1,
        "avatar": dict(AVATAR),
    }
    if projects is not None:
        body["externalTeams"] = []
        body["projects"] = projects
    return body


def team_ref(t: dict[str, Any]) -> dict[str, str]:
    return {"id": t["id"], "name": t["name"], "slug": t["slug"]}


# --------------------------------------------------------------------------- projects
def project_summary(p: dict[str, Any], teams: list[dict[str, Any]], environments: list[str]) -> dict[str, Any]:
    body = {
        "id": p["id"],
        "slug": p["slug"],
        "name": p["name"],
        "platform": p["platform"],
        "dateCreated": p["dateCreated"],
        "isBookmarked": p["isBookmarked"],
        "isMember": True,
        "features": [],
        "firstEvent": p["firstEvent"],
        "firstTransactionEvent": False,
        "access": list(PROJECT_SCOPES),
        "hasAccess": True,
        "team": team_ref(teams[0]) if teams else None,
        "teams": [team_ref(t) for t in teams],
        "platforms": [p["platform"]] if p["platform"] else [],
        "environments": list(environments),
        "latestRelease": None,
        "latestDeploys": None,
        "options": {},
        "avatar": dict(AVATAR),
        "color": "#3f70bf",
        "isInternal": False,
        "isPublic": False,
        "status": "active",
    }
    body.update(dict.fromkeys(_INSIGHTS, False))
    return body


def project_detail(p: dict[str, Any], teams: list, environments: list[str], org_body: dict[str, Any]) -> dict[str, Any]:
    body = project_summary(p, teams, environments)
    opts = p["options"]
    body.update(
        {
            "isInternal": False,
            "isPublic": False,
            "avatar": dict(AVATAR),
            "color": "#3f70bf",
            "status": "active",
            "digestsMinDelay": opts["digestsMinDelay"],
            "digestsMaxDelay": opts["digestsMaxDelay"],
            "subjectPrefix": opts["subjectPrefix"],
            "allowedDomains": list(opts["allowedDomains"]),
            "resolveAge": opts["resolveAge"],
            "dataScrubber": opts["dataScrubber"],
            "dataScrubberDefaults": opts["dataScrubberDefaults"],
            "safeFields": list(opts["safeFields"]),
            "storeCrashReports": opts["storeCrashReports"],
            "sensitiveFields": list(opts["sensitiveFields"]),
            "subjectTemplate": opts["subjectTemplate"],
            "securityToken": opts["securityToken"],
            "securityTokenHeader": opts["securityTokenHeader"],
            "verifySSL": opts["verifySSL"],
            "scrubIPAddresses": opts["scrubIPAddresses"],
            "scrapeJavaScript": opts["scrapeJavaScript"],
            "enableAutoReleaseCreation": False,
            "highlightTags": list(opts["highlightTags"]),
            "highlightContext": {},
            "highlightPreset": {"tags": [], "context": {}},
            "groupingConfig": "newstyle:2023-01-11",
            "derivedGroupingEnhancements": "",
            "groupingEnhancements": "",
            "secondaryGroupingExpiry": 0,
            "secondaryGroupingConfig": None,
            "fingerprintingRules": "",
            "organization": org_body,
            "processingIssues": 0,
            "defaultEnvironment": opts["defaultEnvironment"],
            "relayPiiConfig": opts["relayPiiConfig"],
            "builtinSymbolSources": [],
            "dynamicSamplingBiases": None,
            "symbolSources": "[]",
            "isDynamicallySampled": False,
            "tempestFetchScreenshots": False,
            "autofixAutomationTuning": "off",
            "seerScannerAutomation": False,
            "seerNightshiftTweaks": None,
            "scmSourceContextEnabled": False,
            "debugFilesRole": None,
            "options": {
                "sentry:scrub_data": opts["dataScrubber"],
                "sentry:scrub_defaults": opts["dataScrubberDefaults"],
                "sentry:scrub_ip_address": opts["scrubIPAddresses"],
                "sentry:resolve_age": opts["resolveAge"],
            },
        }
    )
    return body


# --------------------------------------------------------------------------- issue rules
def _with_labels(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [dict(node, name=node_label(node)) for node in nodes]


def rule(r: dict[str, Any], project_slug: str) -> dict[str, Any]:
    return {
        "id": r["id"],
        "conditions": _with_labels(r["conditions"]),
        "filters": _with_labels(r["filters"]),
        "actions": _with_labels(r["actions"]),
        "actionMatch": r["actionMatch"],
        "filterMatch": r.get("filterMatch") or "all",
        "frequency": r["frequency"],
        "name": r["name"],
        "dateCreated": r["dateCreated"],
        "owner": r.get("owner"),
        "createdBy": r.get("createdBy"),
        "environment": r.get("environment"),
        "projects": [project_slug],
        "status": "active",
        "snooze": False,
        "lastTriggered": None,
    }


# --------------------------------------------------------------------------- metric alerts
def alert_rule(r: dict[str, Any]) -> dict[str, Any]:
    triggers = []
    for t in r["triggers"]:
        triggers.append(
            {
                "id": t["id"],
                "alertRuleId": r["id"],
                "label": t["label"],
                "thresholdType": r["thresholdType"],
                "alertThreshold": t["alertThreshold"],
                "resolveThreshold": r["resolveThreshold"],
                "dateCreated": t["dateCreated"],
                "actions": [
                    dict(a, alertRuleTriggerId=t["id"], dateCreated=t["dateCreated"], desc=_action_desc(a))
                    for a in t["actions"]
                ],
            }
        )
    return {
        "id": r["id"],
        "name": r["name"],
        "organizationId": r["organizationId"],
        "queryType": r["queryType"],
        "dataset": r["dataset"],
        "query": r["query"],
        "aggregate": r["aggregate"],
        "thresholdType": r["thresholdType"],
        "resolveThreshold": r["resolveThreshold"],
        "timeWindow": r["timeWindow"],
        "environment": r["environment"],
        "resolution": 1,
        "thresholdPeriod": r["thresholdPeriod"],
        "triggers": triggers,
        "projects": list(r["projects"]),
        "owner": r["owner"],
        "originalAlertRuleId": None,
        "comparisonDelta": r["comparisonDelta"],
        "dateModified": r["dateModified"],
        "dateCreated": r["dateCreated"],
        "createdBy": dict(TOKEN_USER),
        "eventTypes": list(r["eventTypes"]),
        "snooze": False,
        "errors": [],
    }


def _action_desc(action: dict[str, Any]) -> str:
    return f"Send a notification via {action['type']} to {action['targetType']} {action['targetIdentifier']}"


# --------------------------------------------------------------------------- releases
def release(rel: dict[str, Any], projects: list[dict[str, Any]], last_deploy: dict | None) -> dict[str, Any]:
    version = rel["version"]
    package, _, raw = version.rpartition("@")
    return {
        "id": rel["id"],
        "version": version,
        "shortVersion": raw or version,
        "status": "open",
        "ref": rel.get("ref"),
        "url": rel.get("url"),
        "dateReleased": rel.get("dateReleased"),
        "dateCreated": rel["dateCreated"],
        "dateStarted": rel.get("dateStarted"),
        "owner": None,
        "lastCommit": None,
        "lastDeploy": last_deploy,
        "firstEvent": None,
        "lastEvent": None,
        "currentProjectMeta": {},
        "userAgent": rel.get("userAgent"),
        "adoptionStages": None,
        "newGroups": 0,
        "versionInfo": {
            "package": package or None,
            "version": {"raw": raw or version},
            "description": raw or version,
            "buildHash": None,
        },
        "data": {},
        "commitCount": 0,
        "deployCount": rel.get("deployCount", 0),
        "authors": [],
        "projects": [
            {
                "id": int(p["id"]),
                "slug": p["slug"],
                "name": p["name"],
                "platform": p["platform"],
                "platforms": [p["platform"]] if p["platform"] else [],
                "hasHealthData": False,
                "newGroups": 0,
            }
            for p in projects
        ],
    }


def deploy(d: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": d["id"],
        "environment": d["environment"],
        "dateStarted": d.get("dateStarted"),
        "dateFinished": d["dateFinished"],
        "name": d.get("name"),
        "url": d.get("url"),
    }


# --------------------------------------------------------------------------- events
def event(e: dict[str, Any], project_id: str) -> dict[str, Any]:
    data = e["data"]
    tags = data.get("tags") or []
    if isinstance(tags, dict):
        tags = list(tags.items())
    tag_rows = [{"key": str(pair[0]), "value": str(pair[1])} for pair in tags if isinstance(pair, list | tuple)]
    for name in ("environment", "release", "level"):
        if data.get(name):
            tag_rows.append({"key": name, "value": str(data[name])})
    entries = []
    exception = data.get("exception")
    if exception:
        entries.append({"type": "exception", "data": exception})
    if data.get("breadcrumbs"):
        entries.append({"type": "breadcrumbs", "data": data["breadcrumbs"]})
    if data.get("request"):
        entries.append({"type": "request", "data": data["request"]})
    logentry = data.get("logentry") or {}
    message = logentry.get("formatted") or logentry.get("message") or ""
    if message:
        entries.append({"type": "message", "data": {"formatted": message}})
    title = message or _exception_title(exception) or "<unlabeled event>"
    sdk = data.get("sdk") or None
    return {
        "id": e["event_id"],
        "eventID": e["event_id"],
        "groupID": None,
        "projectID": project_id,
        "message": message or None,
        "title": title,
        "location": data.get("transaction") or data.get("culprit"),
        "culprit": data.get("culprit") or data.get("transaction"),
        "user": data.get("user"),
        "tags": tag_rows,
        "platform": data.get("platform") or "other",
        "dateReceived": e["dateReceived"],
        "dateCreated": e["dateReceived"],
        "contexts": data.get("contexts") or {},
        "size": e["size"],
        "entries": entries,
        "dist": data.get("dist"),
        "sdk": {"name": sdk.get("name"), "version": sdk.get("version")} if sdk else None,
        "context": data.get("extra") or {},
        "packages": data.get("modules") or {},
        "type": data.get("type") if data.get("type") in ("default", "error", "transaction") else "default",
        "metadata": {"title": title},
        "errors": [],
        "occurrence": None,
        "_meta": data.get("_meta") or {},
        "release": {"version": data["release"]} if data.get("release") else None,
        "userReport": None,
        "sdkUpdates": [],
        "resolvedWith": [],
        "nextEventID": None,
        "previousEventID": None,
        "fingerprints": data.get("fingerprint") or [],
        "environment": data.get("environment"),
    }


def event_summary(e: dict[str, Any], project_id: str) -> dict[str, Any]:
    """SimpleEventSerializer: the row shape of the project events list."""
    full = event(e, project_id)
    return {
        "id": full["id"],
        "event.type": full["type"],
        "groupID": None,
        "eventID": full["eventID"],
        "projectID": project_id,
        "message": full["message"] or "",
        "title": full["title"],
        "location": full["location"],
        "culprit": full["culprit"],
        "user": full["user"],
        "tags": full["tags"],
        "platform": full["platform"],
        "dateCreated": full["dateCreated"],
        "crashFile": None,
        "metadata": full["metadata"],
    }


def _exception_title(exception: Any) -> str:
    if isinstance(exception, dict):
        values = exception.get("values") or []
        if values and isinstance(values[-1], dict):
            last = values[-1]
            return f"{last.get('type', 'Error')}: {last.get('value', '')}".strip()
    return ""
