"""Helpers for tests that talk to the double: a small API client and valid request bodies."""

from __future__ import annotations

import requests


class Client:
    """Minimal authenticated client for the double (the real modules have their own)."""

    def __init__(self, base: str, token: str | None):
        self.base = base.rstrip("/") + "/api/0"
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def __getattr__(self, method: str):
        def call(path: str, **kwargs):
            return self.session.request(method.upper(), self.base + path, timeout=10, **kwargs)

        return call


# The organization's privacy settings DermAI runs with, as PUT /organizations/{org}/ takes them.
ORG_PRIVACY = {
    "dataScrubber": True,
    "dataScrubberDefaults": True,
    "scrubIPAddresses": True,
    "sensitiveFields": ["mrn", "patient_id"],
    "safeFields": [],
    "storeCrashReports": 0,
    "enhancedPrivacy": True,
    "allowSharedIssues": False,
}
# A project's scrubbing settings and issue resolve age, as PUT /projects/{org}/{project}/ takes them.
PROJECT_PRIVACY = {
    "dataScrubber": True,
    "dataScrubberDefaults": True,
    "scrubIPAddresses": True,
    "sensitiveFields": ["mrn"],
    "safeFields": [],
    "resolveAge": 168,
}
EMAIL_TEAM_ACTION = {"id": "sentry.mail.actions.NotifyEmailAction", "targetType": "IssueOwners"}
FIRST_SEEN = {"id": "sentry.rules.conditions.first_seen_event.FirstSeenEventCondition"}


def issue_rule(**overrides):
    body = {
        "name": "DermAI API: new issue",
        "actionMatch": "all",
        "filterMatch": "all",
        "frequency": 30,
        "conditions": [dict(FIRST_SEEN)],
        "filters": [],
        "actions": [dict(EMAIL_TEAM_ACTION)],
    }
    body.update(overrides)
    return body


def metric_alert(team_id: str, **overrides):
    action = {"type": "email", "targetType": "team", "targetIdentifier": team_id}
    body = {
        "name": "DermAI API: >100 errors/10m",
        "projects": ["dermai-api"],
        "dataset": "events",
        "queryType": 0,
        "eventTypes": ["error", "default"],
        "aggregate": "count()",
        "query": "",
        "timeWindow": 10,
        "thresholdType": 0,
        "resolveThreshold": 20,
        "triggers": [
            {"label": "critical", "alertThreshold": 100, "actions": [dict(action)]},
            {"label": "warning", "alertThreshold": 50, "actions": [dict(action)]},
        ],
    }
    body.update(overrides)
    return body
