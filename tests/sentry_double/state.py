"""In-memory state of the Sentry double, optionally persisted to a JSON file.

Everything lives in one JSON-serialisable dict so that a restart with the same state file
keeps organisations, teams, projects, keys, rules, releases and stored events.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import secrets
import tempfile
import threading
from typing import Any

# Every scope a Sentry user token can carry (SENTRY_SCOPES in src/sentry/conf/server.py), resource by resource.
ALL_SCOPES = tuple(
    f"{resource}:{level}"
    for resource, levels in (
        ("org", "read write admin integrations ci"),
        ("member", "invite read write admin"),
        ("team", "read write admin"),
        ("project", "read write admin releases distribution"),
        ("event", "read write admin"),
        ("alerts", "read write"),
    )
    for level in levels.split()
)

DEFAULT_ORG_SLUG = "sentry"
TOKEN_USER = {"id": "1", "name": "admin@dermai.test", "email": "admin@dermai.test", "username": "admin@dermai.test"}


def now_iso() -> str:
    """Timestamp in the format Sentry's serializers emit."""
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def new_token() -> str:
    """A user auth token shaped like Sentry's (sntryu_ + 64 hex)."""
    return "sntryu_" + secrets.token_hex(32)


def expand_scopes(scopes: list[str] | tuple[str, ...]) -> set[str]:
    """X:admin implies X:write implies X:read; org:admin also implies org:integrations."""
    result = set(scopes)
    for scope in list(result):
        resource, _, level = scope.partition(":")
        if level == "admin":
            result.update({f"{resource}:write", f"{resource}:read"})
            if resource == "org":
                result.add("org:integrations")
        elif level == "write":
            result.add(f"{resource}:read")
    return result


def _empty() -> dict[str, Any]:
    return {
        "counters": {},
        "tokens": {},
        "orgs": {},
        "teams": {},
        "projects": {},
        "keys": {},
        "rules": {},
        "alert_rules": {},
        "releases": {},
        "deploys": {},
        "events": {},
        # releases.py / sentry_apps.py: commits, artifact bundles, internal integrations and their tokens
        "commits": {},
        "artifact_bundles": {},
        "sentry_apps": {},
        "app_tokens": {},
        "environments": {},
    }


class State:
    """Thread-safe store. Handlers take ``with state.lock:`` around read-modify-write."""

    def __init__(self, state_file: str | None = None):
        self.lock = threading.RLock()
        self.state_file = state_file
        self.data: dict[str, Any] = _empty()
        self.rate_windows: dict[str, tuple[int, int]] = {}
        loaded = False
        if state_file and os.path.exists(state_file):
            with open(state_file, encoding="utf-8") as handle:
                stored = json.load(handle)
            stored.pop("tokens", None)
            self.data.update(stored)
            loaded = True
        if not loaded:
            self._seed()

    # ---------------------------------------------------------------- persistence
    def save(self) -> None:
        if not self.state_file:
            return
        with self.lock:
            # Tokens are never written: they come from --token/--token-file at every start.
            payload = json.dumps({k: v for k, v in self.data.items() if k != "tokens"}, sort_keys=True)
            directory = os.path.dirname(os.path.abspath(self.state_file))
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=".double-state-")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(payload)
                os.chmod(tmp, 0o600)
                os.replace(tmp, self.state_file)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise

    def next_id(self, kind: str) -> int:
        with self.lock:
            value = self.data["counters"].get(kind, 0) + 1
            self.data["counters"][kind] = value
            return value

    # ---------------------------------------------------------------- tokens
    def add_token(self, token: str, scopes: list[str] | tuple[str, ...], name: str = "double") -> None:
        with self.lock:
            self.data["tokens"][token] = {"scopes": list(scopes), "name": name}

    def token_scopes(self, token: str) -> set[str] | None:
        entry = self.data["tokens"].get(token)
        if entry is None:
            from .sentry_apps import token_app_scopes  # internal integration tokens (sentry_apps.py)

            app_scopes = token_app_scopes(self, token)
            return None if app_scopes is None else expand_scopes(app_scopes)
        return expand_scopes(entry["scopes"])

    # ---------------------------------------------------------------- seed
    def _seed(self) -> None:
        """What a fresh self-hosted install holds: org `sentry`, team `sentry`, project `internal`."""
        org = self.create_org(DEFAULT_ORG_SLUG, "Sentry")
        team = self.create_team(org["slug"], "sentry", "Sentry")
        self.create_project(org["slug"], team["id"], "internal", "Internal", None, default_rules=True)

    # ---------------------------------------------------------------- orgs
    def create_org(self, slug: str, name: str) -> dict[str, Any]:
        org = {
            "id": str(self.next_id("org")),
            "slug": slug,
            "name": name,
            "dateCreated": now_iso(),
            "options": {
                "dataScrubber": False,
                "dataScrubberDefaults": False,
                "scrubIPAddresses": False,
                "sensitiveFields": [],
                "safeFields": [],
                "storeCrashReports": 0,
                "relayPiiConfig": None,
                "attachmentsRole": "member",
                "debugFilesRole": "admin",
                "eventsMemberAdmin": True,
                "alertsMemberWrite": True,
                "defaultRole": "member",
                "openMembership": True,
                "allowSharedIssues": True,
                "enhancedPrivacy": False,
                "require2FA": False,
                "scrapeJavaScript": True,
                "allowJoinRequests": True,
                "allowMemberInvite": True,
                "allowMemberProjectCreation": True,
                "allowSuperuserAccess": True,
                "trustedRelays": [],
                "isEarlyAdopter": False,
            },
        }
        self.data["orgs"][slug] = org
        return org

    def find_org(self, id_or_slug: str) -> dict[str, Any] | None:
        org = self.data["orgs"].get(id_or_slug)
        if org is not None:
            return org
        for candidate in self.data["orgs"].values():
            if candidate["id"] == id_or_slug:
                return candidate
        return None

    # ---------------------------------------------------------------- teams
    def create_team(self, org_slug: str, slug: str, name: str) -> dict[str, Any]:
        team = {
            "id": str(self.next_id("team")),
            "org": org_slug,
            "slug": slug,
            "name": name,
            "dateCreated": now_iso(),
        }
        self.data["teams"][team["id"]] = team
        return team

    def _of_org(self, kind: str, org_slug: str) -> list[dict[str, Any]]:
        """The teams or projects (`kind`) of one organization, by slug."""
        return sorted((o for o in self.data[kind].values() if o["org"] == org_slug), key=lambda o: o["slug"])

    def _find_in_org(self, kind: str, org_slug: str, id_or_slug: str) -> dict[str, Any] | None:
        return next((o for o in self._of_org(kind, org_slug) if id_or_slug in (o["slug"], o["id"])), None)

    def teams_of(self, org_slug: str) -> list[dict[str, Any]]:
        return self._of_org("teams", org_slug)

    def find_team(self, org_slug: str, id_or_slug: str) -> dict[str, Any] | None:
        return self._find_in_org("teams", org_slug, id_or_slug)

    # ---------------------------------------------------------------- projects
    def create_project(
        self,
        org_slug: str,
        team_id: str,
        slug: str,
        name: str,
        platform: str | None,
        default_rules: bool,
    ) -> dict[str, Any]:
        project = {
            "id": str(self.next_id("project")),
            "org": org_slug,
            "slug": slug,
            "name": name,
            "platform": platform,
            "teams": [team_id],
            "dateCreated": now_iso(),
            "firstEvent": None,
            "isBookmarked": False,
            "options": {
                "dataScrubber": True,
                "dataScrubberDefaults": True,
                "scrubIPAddresses": False,
                "sensitiveFields": [],
                "safeFields": [],
                "storeCrashReports": None,
                "relayPiiConfig": None,
                "resolveAge": 0,
                "subjectPrefix": "",
                "subjectTemplate": "$shortID - $title",
                "allowedDomains": ["*"],
                "scrapeJavaScript": True,
                "securityToken": secrets.token_hex(16),
                "securityTokenHeader": None,
                "verifySSL": False,
                "digestsMinDelay": 300,
                "digestsMaxDelay": 1800,
                "defaultEnvironment": None,
                "highlightTags": [],
            },
        }
        self.data["projects"][project["id"]] = project
        self.create_key(project["id"], "Default", None)
        if default_rules:
            self.create_rule(
                project["id"],
                {
                    "name": "Send a notification for high priority issues",
                    "actionMatch": "any",
                    "filterMatch": "all",
                    "frequency": 30,
                    "environment": None,
                    "owner": None,
                    "conditions": [
                        {"id": "sentry.rules.conditions.high_priority_issue.NewHighPriorityIssueCondition"},
                        {"id": "sentry.rules.conditions.high_priority_issue.ExistingHighPriorityIssueCondition"},
                    ],
                    "filters": [],
                    "actions": [
                        {
                            "id": "sentry.mail.actions.NotifyEmailAction",
                            "targetType": "IssueOwners",
                            "targetIdentifier": None,
                            "fallthroughType": "ActiveMembers",
                        }
                    ],
                },
                created_by=None,
            )
        return project

    def projects_of(self, org_slug: str) -> list[dict[str, Any]]:
        return self._of_org("projects", org_slug)

    def find_project(self, org_slug: str, id_or_slug: str) -> dict[str, Any] | None:
        return self._find_in_org("projects", org_slug, id_or_slug)

    def delete_project(self, project_id: str) -> None:
        self.data["projects"].pop(project_id, None)
        for table in ("keys", "rules"):
            for key in [k for k, v in self.data[table].items() if v["project"] == project_id]:
                del self.data[table][key]

    # ---------------------------------------------------------------- keys
    def create_key(
        self,
        project_id: str,
        name: str | None,
        rate_limit: dict[str, int] | None,
        public: str | None = None,
        secret: str | None = None,
    ) -> dict[str, Any]:
        key = {
            "pk": self.next_id("key"),
            "project": project_id,
            "public": public or secrets.token_hex(16),
            "secret": secret or secrets.token_hex(16),
            "label": name,
            "isActive": True,
            "rateLimit": rate_limit,
            "dateCreated": now_iso(),
            "browserSdkVersion": "latest",
            "dynamicSdkLoaderOptions": {
                "hasReplay": True,
                "hasPerformance": True,
                "hasDebug": False,
                "hasFeedback": False,
                "hasLogsAndMetrics": False,
            },
            "useCase": "user",
        }
        self.data["keys"][key["public"]] = key
        return key

    def keys_of(self, project_id: str) -> list[dict[str, Any]]:
        # Newest first, as Sentry lists them (ProjectKeysEndpoint paginates with order_by="-id").
        keys = (k for k in self.data["keys"].values() if k["project"] == project_id)
        return sorted(keys, key=lambda k: k["pk"], reverse=True)

    # ---------------------------------------------------------------- rules
    def create_rule(self, project_id: str, body: dict[str, Any], created_by: dict[str, str] | None) -> dict[str, Any]:
        rule = dict(body)
        rule["id"] = str(self.next_id("rule"))
        rule["project"] = project_id
        rule["dateCreated"] = now_iso()
        rule["createdBy"] = created_by
        for action in rule["actions"]:
            action.setdefault("uuid", _uuid())
        self.data["rules"][rule["id"]] = rule
        return rule

    def rules_of(self, project_id: str) -> list[dict[str, Any]]:
        # Sentry orders issue rules by -id.
        rows = [r for r in self.data["rules"].values() if r["project"] == project_id]
        return sorted(rows, key=lambda r: int(r["id"]), reverse=True)


def _uuid() -> str:
    import uuid

    return str(uuid.uuid4())
