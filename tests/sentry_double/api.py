"""The /api/0/ endpoints of the double: routing table, auth, scopes and handlers.

Status codes, permission scope maps and error texts come from Sentry's endpoints
(src/sentry/core/endpoints/*, src/sentry/api/endpoints/project_rules*.py,
src/sentry/incidents/endpoints/*, src/sentry/releases/endpoints/*, src/sentry/api/bases/*).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from . import audit, releases, sentry_apps
from . import serializers as ser
from . import workflows as wf
from .pagination import PaginationError, paginate
from .rules import find_duplicate, validate_issue_rule, validate_metric_alert
from .state import ALL_SCOPES, TOKEN_USER, State, now_iso
from .validation import (
    Form,
    Invalid,
    allowed_domains,
    as_bool,
    as_choice,
    as_int,
    as_slug,
    as_str,
    hex32,
    platform,
    privacy_fields,
    rate_limit,
    role,
)

NOT_AUTHENTICATED = "Authentication credentials were not provided."
INVALID_TOKEN = "Invalid token"
NO_PERMISSION = "You do not have permission to perform this action."
NOT_FOUND = "The requested resource does not exist"
ERR_NO_2FA = "Cannot require two-factor authentication without personal two-factor enabled."
TEAM_CONFLICT = "A team with this slug already exists."
PROJECT_CONFLICT = "A project with this slug already exists."
RESERVED_PROJECT_SLUGS = frozenset(
    [
        "api-keys",
        "audit-log",
        "auth",
        "members",
        "projects",
        "rate-limits",
        "repos",
        "settings",
        "teams",
        "billing",
        "payments",
        "legal",
        "subscription",
        "support",
        "integrations",
        "developer-settings",
        "usage",
    ]
)
BAD_RELEASE_CHARS = "\r\n\f\x0c\t/\\"
MEMBER_IDS = {TOKEN_USER["id"]}

ORG_READ = ["org:read", "org:write", "org:admin"]
PROJECT_READ = ["project:read", "project:write", "project:admin"]
PROJECT_WRITE = ["project:write", "project:admin"]
RELEASES = ["project:write", "project:admin", "project:releases", "org:ci"]
RELEASES_READ = ["project:read", "project:write", "project:admin", "project:releases", "org:ci"]


class ApiError(Exception):
    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def not_found(detail: str = NOT_FOUND) -> ApiError:
    return ApiError(404, {"detail": detail})


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Any
    body: Any
    scopes: set[str] = field(default_factory=set)
    token: str | None = None
    raw: bytes = b""  # the undecoded body (multipart chunk uploads)

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default


Response = tuple[int, Any, dict[str, str]]


def search(rows: list[dict[str, Any]], query: str | None, unknown_keys_match: bool) -> list[dict[str, Any]]:
    """Sentry's `query` on teams and projects: `slug:a,b`, `id:1,2`, or a bare word in the slug or name.
    An unknown `key:value` matches nothing for teams and is ignored for projects (unknown_keys_match)."""
    for token in (query or "").split():
        key, _, value = token.partition(":")
        if key == "slug":
            rows = [r for r in rows if r["slug"] in value.split(",")]
        elif key == "id":
            rows = [r for r in rows if r["id"] in value.split(",")]
        elif not value:
            rows = [r for r in rows if token.lower() in r["slug"] or token.lower() in r["name"].lower()]
        elif not unknown_keys_match:
            rows = []
    return rows


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-")
    return slug[:50] or "project"


class Api:
    """Handlers; each returns (status, JSON body, headers)."""

    def __init__(self, state: State, url_prefix: str, page_size: int):
        self.state = state
        self.url_prefix = url_prefix
        self.page_size = page_size
        # (compiled path, {method: (handler, scopes or None for no auth)})
        self.routes: list[tuple[re.Pattern[str], dict[str, tuple[Callable[..., Response], list[str] | None]]]] = []
        rules_read = [*PROJECT_READ, "alerts:read", "alerts:write"]
        rules_write = [*PROJECT_WRITE, "alerts:write"]
        alert_read = [*ORG_READ, "alerts:read", "alerts:write"]
        alert_write = ["org:write", "org:admin", "alerts:write"]
        team_read, team_write = ["team:read", "team:write", "team:admin"], ["team:write", "team:admin"]
        new_team = ["org:write", "org:admin", "team:write"]
        new_project = ["project:write", "project:admin", "org:write", "org:admin"]
        events = ["event:read", "event:write", "event:admin"]
        anyone, org_write, audit_read = None, ORG_READ[1:], audit.AUDIT_SCOPES
        apps, everyone = sentry_apps.SentryApps(self), list(ALL_SCOPES)
        app_read, app_write = sentry_apps.APP_READ, sentry_apps.APP_WRITE
        self.releases = rel = releases.Releases(self)
        repos_read, read = releases.REPOS_READ, RELEASES_READ
        team_admin, project_admin, alert_create = ["team:admin"], ["project:admin"], [*ORG_READ, "alerts:write"]
        flows = wf.handlers(self)  # workflows/, detectors/, alert-rule-workflow/, alert-rule-detector/ (26.7+)
        alerts_read = wf.ALERTS_READ
        # One row a route, every row alike: (method, path below /api/0/, handler, scopes).
        self.table(
            ("GET", "", self.index, anyone),
            ("GET", "organizations/", self.list_orgs, anyone),
            ("GET", "organizations/{org}/audit-logs/", self.list_audit_logs, audit_read),
            ("GET", "organizations/{org}/", self.get_org, ORG_READ),
            ("PUT", "organizations/{org}/", self.put_org, org_write),
            ("GET", "organizations/{org}/teams/", self.list_teams, ORG_READ),
            ("POST", "organizations/{org}/teams/", self.create_team, new_team),
            ("GET", "teams/{org}/{team}/", self.get_team, team_read),
            ("PUT", "teams/{org}/{team}/", self.put_team, team_write),
            ("DELETE", "teams/{org}/{team}/", self.delete_team, team_admin),
            ("GET", "teams/{org}/{team}/projects/", self.list_team_projects, PROJECT_READ),
            ("POST", "teams/{org}/{team}/projects/", self.create_project, new_project),
            ("GET", "organizations/{org}/projects/", self.list_org_projects, ORG_READ),
            ("GET", "projects/", self.list_all_projects, PROJECT_READ),
            ("GET", "projects/{org}/{project}/", self.get_project, PROJECT_READ),
            ("PUT", "projects/{org}/{project}/", self.put_project, PROJECT_READ),
            ("DELETE", "projects/{org}/{project}/", self.delete_project, project_admin),
            ("POST", "projects/{org}/{project}/teams/{team}/", self.add_project_team, PROJECT_WRITE),
            ("DELETE", "projects/{org}/{project}/teams/{team}/", self.remove_project_team, PROJECT_WRITE),
            ("GET", "projects/{org}/{project}/keys/", self.list_keys, PROJECT_READ),
            ("POST", "projects/{org}/{project}/keys/", self.create_key, PROJECT_WRITE),
            ("GET", "projects/{org}/{project}/keys/{key}/", self.get_key, PROJECT_READ),
            ("PUT", "projects/{org}/{project}/keys/{key}/", self.put_key, PROJECT_WRITE),
            ("DELETE", "projects/{org}/{project}/keys/{key}/", self.delete_key, project_admin),
            ("GET", "projects/{org}/{project}/rules/", self.list_rules, rules_read),
            ("POST", "projects/{org}/{project}/rules/", self.create_rule, rules_write),
            ("GET", "projects/{org}/{project}/rules/{rule}/", self.get_rule, rules_read),
            ("PUT", "projects/{org}/{project}/rules/{rule}/", self.put_rule, rules_write),
            ("DELETE", "projects/{org}/{project}/rules/{rule}/", self.delete_rule, rules_write),
            ("GET", "organizations/{org}/alert-rules/", self.list_alert_rules, alert_read),
            ("POST", "organizations/{org}/alert-rules/", self.create_alert_rule, alert_create),
            ("GET", "organizations/{org}/alert-rules/{alert}/", self.get_alert_rule, alert_read),
            ("PUT", "organizations/{org}/alert-rules/{alert}/", self.put_alert_rule, alert_write),
            ("DELETE", "organizations/{org}/alert-rules/{alert}/", self.delete_alert_rule, alert_write),
            ("GET", "organizations/{org}/workflows/", flows.list_workflows, alerts_read),
            ("GET", "organizations/{org}/workflows/{obj_id}/", flows.get_workflow, alerts_read),
            ("GET", "organizations/{org}/detectors/", flows.list_detectors, alerts_read),
            ("GET", "organizations/{org}/detectors/{obj_id}/", flows.get_detector, alerts_read),
            ("GET", "organizations/{org}/alert-rule-workflow/", flows.rule_workflow, alerts_read),
            ("GET", "organizations/{org}/alert-rule-detector/", flows.rule_detector, alerts_read),
            ("GET", "projects/{org}/{project}/environments/", self.list_environments, PROJECT_READ),
            ("GET", "projects/{org}/{project}/events/", self.list_events, events),
            ("GET", "projects/{org}/{project}/events/{event}/", self.get_event, events),
            ("GET", "organizations/{org}/releases/", self.list_releases, RELEASES_READ),
            ("POST", "organizations/{org}/releases/", self.create_release, RELEASES),
            ("GET", "organizations/{org}/releases/{version}/", self.get_release, RELEASES_READ),
            ("PUT", "organizations/{org}/releases/{version}/", self.put_release, RELEASES),
            ("DELETE", "organizations/{org}/releases/{version}/", self.delete_release, RELEASES),
            ("GET", "organizations/{org}/releases/{version}/deploys/", self.list_deploys, RELEASES_READ),
            ("POST", "organizations/{org}/releases/{version}/deploys/", self.create_deploy, RELEASES),
            ("GET", "projects/{org}/{project}/releases/", self.list_project_releases, RELEASES_READ),
            ("POST", "projects/{org}/{project}/releases/", self.create_project_release, RELEASES),
            ("GET", "projects/{org}/{project}/releases/{version}/", self.get_project_release, RELEASES_READ),
            ("PUT", "projects/{org}/{project}/releases/{version}/", self.put_project_release, RELEASES),
            ("GET", "sentry-apps/", apps.list_apps, everyone),
            ("POST", "sentry-apps/", apps.create_app, everyone),
            ("GET", "sentry-apps/{app}/", apps.get_app, app_read),
            ("PUT", "sentry-apps/{app}/", apps.put_app, app_write),
            ("DELETE", "sentry-apps/{app}/", apps.delete_app, app_write),
            ("GET", "sentry-apps/{app}/api-tokens/", apps.list_tokens, app_write),
            ("POST", "sentry-apps/{app}/api-tokens/", apps.create_token, app_write),
            ("DELETE", "sentry-apps/{app}/api-tokens/{api_token}/", apps.delete_token, app_write),
            ("GET", "organizations/{org}/sentry-apps/", apps.list_org_apps, app_read),
            ("GET", "organizations/{org}/repos/", rel.list_repos, repos_read),
            ("GET", "organizations/{org}/releases/{version}/commits/", rel.list_commits, RELEASES_READ),
            ("GET", "organizations/{org}/releases/{version}/previous-with-commits/", rel.previous_with_commits, read),
            ("GET", "organizations/{org}/chunk-upload/", rel.chunk_options, RELEASES_READ),
            ("POST", "organizations/{org}/chunk-upload/", rel.chunk_upload, RELEASES),
            ("POST", "organizations/{org}/artifactbundle/assemble/", rel.assemble_bundle, RELEASES),
            ("GET", "projects/{org}/{project}/files/artifact-bundles/", rel.list_bundles, RELEASES_READ),
            ("GET", "projects/{org}/{project}/artifact-bundles/{bundle}/files/", rel.list_bundle_files, read),
        )

    def table(self, *rows: tuple[str, str, Callable[..., Response], list[str] | None]) -> None:
        """Routes, one method a row: (method, path below /api/0/ with {name} for one path segment, handler,
        scopes any of which the token needs, or None for no authentication). A path is matched in the order
        of its first row; its other rows may follow anywhere in the same table."""
        paths: dict[str, dict[str, tuple[Callable[..., Response], list[str] | None]]] = {}
        for method, path, handler, scopes in rows:
            paths.setdefault(path, {})[method] = (handler, scopes)
        for path, methods in paths.items():
            pattern = "/api/0/" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path)
            self.routes.append((re.compile("^" + pattern + "$"), methods))

    # ================================================================== dispatch
    def dispatch(self, req: Request) -> Response:
        for pattern, methods in self.routes:
            match = pattern.match(req.path)
            if not match:
                continue
            if req.method not in methods:
                raise ApiError(405, {"detail": f'Method "{req.method}" not allowed.'})
            handler, scopes = methods[req.method]
            self._authenticate(req, required=scopes is not None)
            params = {k: unquote(v) for k, v in match.groupdict().items()}
            with self.state.lock:
                objects = self._resolve(params)
                # An internal integration's token acts in its own organization only.
                app_org = sentry_apps.token_org(self.state, req.token)
                if "org" in objects and app_org not in (None, objects["org"]["slug"]):
                    raise ApiError(403, {"detail": NO_PERMISSION})
                if scopes is not None and not req.scopes.intersection(scopes):
                    raise ApiError(403, {"detail": NO_PERMISSION})
                response = handler(req, **objects)
                if req.method != "GET":
                    audit.record(self.state, handler.__name__, req, objects, response)
                return response
        raise ApiError(404, {"detail": "Not found."})

    def _authenticate(self, req: Request, required: bool) -> None:
        header = req.headers.get("Authorization") or ""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            if required:
                raise ApiError(401, {"detail": NOT_AUTHENTICATED})
            return
        scopes = self.state.token_scopes(token.strip())
        if scopes is None:
            raise ApiError(401, {"detail": INVALID_TOKEN})
        req.scopes = scopes
        req.token = token.strip()

    def _resolve(self, params: dict[str, str]) -> dict[str, Any]:
        objects: dict[str, Any] = {}
        if "org" in params:
            org = self.state.find_org(params["org"])
            if org is None:
                raise not_found()
            objects["org"] = org
        if "team" in params:
            team = self.state.find_team(objects["org"]["slug"], params["team"])
            if team is None:
                raise not_found()
            objects["team"] = team
        if "project" in params:
            project = self.state.find_project(objects["org"]["slug"], params["project"])
            if project is None:
                raise not_found()
            objects["project"] = project
        for name in ("key", "rule", "alert", "event", "version", "app", "api_token", "bundle", "obj_id"):
            if name in params:
                objects[name] = params[name]
        return objects

    # ================================================================== helpers
    def _page(self, req: Request, rows: list[Any]) -> Response:
        try:
            page, link = paginate(rows, req.query, req.path, self.url_prefix, self.page_size)
        except PaginationError as exc:
            raise ApiError(400, {"detail": str(exc)}) from exc
        return 200, page, {"Link": link}

    def _save(self) -> None:
        self.state.save()

    @staticmethod
    def _body(req: Request) -> dict[str, Any]:
        if req.body is None:
            return {}
        if not isinstance(req.body, dict):
            raise ApiError(400, {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]})
        return req.body

    def _teams_for(self, project: dict[str, Any]) -> list[dict[str, Any]]:
        return [self.state.data["teams"][t] for t in project["teams"] if t in self.state.data["teams"]]

    def _environments(self, org_slug: str) -> list[str]:
        return list(self.state.data["environments"].get(org_slug, []))

    def _project_summary(self, project: dict[str, Any]) -> dict[str, Any]:
        return ser.project_summary(project, self._teams_for(project), self._environments(project["org"]))

    def _project_detail(self, project: dict[str, Any]) -> dict[str, Any]:
        org = self.state.data["orgs"][project["org"]]
        return ser.project_detail(
            project,
            self._teams_for(project),
            self._environments(project["org"]),
            ser.org_summary(org, self.url_prefix),
        )

    def _org_detail(self, org: dict[str, Any], req: Request) -> dict[str, Any]:
        teams = [ser.team(t) for t in self.state.teams_of(org["slug"])]
        projects = [self._project_summary(p) for p in self.state.projects_of(org["slug"])]
        return ser.org_detail(org, self.url_prefix, teams, projects, req.scopes)

    # ================================================================== index / orgs
    def index(self, req: Request) -> Response:
        if req.token is None:
            return 200, {"version": "0", "auth": None, "user": None}, {}
        user = dict(TOKEN_USER, isActive=True, isSuperuser=True, isStaff=True, has2fa=False)
        return 200, {"version": "0", "auth": {"scopes": sorted(req.scopes)}, "user": user}, {}

    def list_orgs(self, req: Request) -> Response:
        if req.token is None:
            raise ApiError(401, {"detail": NOT_AUTHENTICATED})
        rows = [
            ser.org_summary(o, self.url_prefix)
            for o in sorted(self.state.data["orgs"].values(), key=lambda o: o["slug"])
        ]
        return self._page(req, rows)

    def list_audit_logs(self, req: Request, org: dict[str, Any]) -> Response:
        return audit.list_entries(self.state, org, req.query, req.path, self.url_prefix, self.page_size)

    def get_org(self, req: Request, org: dict[str, Any]) -> Response:
        return 200, self._org_detail(org, req), {}

    def put_org(self, req: Request, org: dict[str, Any]) -> Response:
        body = self._body(req)
        form = Form(body)
        form.field("name", lambda v: as_str(v, max_length=64))
        privacy_fields(form, project=False)
        for name in (
            "eventsMemberAdmin",
            "alertsMemberWrite",
            "openMembership",
            "allowSharedIssues",
            "enhancedPrivacy",
            "require2FA",
            "allowJoinRequests",
            "allowMemberInvite",
            "allowMemberProjectCreation",
            "allowSuperuserAccess",
            "isEarlyAdopter",
        ):
            form.field(name, as_bool)
        form.field("attachmentsRole", role)
        form.field("debugFilesRole", role)
        form.field("defaultRole", lambda v: as_choice(v, ("member", "admin", "manager", "owner")))
        if form.errors:
            raise ApiError(400, form.errors)
        values = form.values
        if values.get("require2FA") and not org["options"]["require2FA"]:
            raise ApiError(400, {"detail": ERR_NO_2FA})
        if "defaultRole" in values and "org:admin" not in req.scopes:
            del values["defaultRole"]  # OwnerOrganizationSerializer only: silently ignored otherwise
        if "name" in values:
            org["name"] = values.pop("name")
        if values.get("relayPiiConfig") == "":
            values["relayPiiConfig"] = None
        org["options"].update(values)
        self._save()
        return 200, self._org_detail(org, req), {}

    # ================================================================== teams
    def list_teams(self, req: Request, org: dict[str, Any]) -> Response:
        teams = search(self.state.teams_of(org["slug"]), req.arg("query"), unknown_keys_match=False)
        detailed = req.arg("detailed", "1") != "0"
        rows = []
        for team in teams:
            projects = None
            if detailed:
                projects = [
                    self._project_summary(p) for p in self.state.projects_of(org["slug"]) if team["id"] in p["teams"]
                ]
            rows.append(ser.team(team, projects))
        return self._page(req, rows)

    def create_team(self, req: Request, org: dict[str, Any]) -> Response:
        form = Form(self._body(req))
        form.field("slug", lambda v: as_slug(v, 50), allow_null=True)
        form.field("name", lambda v: as_str(v, max_length=64, allow_blank=True), allow_null=True)
        if form.errors:
            raise ApiError(400, form.errors)
        slug, name = form.values.get("slug"), form.values.get("name")
        if not (slug or name):
            raise ApiError(400, {"non_field_errors": ["Name or slug is required"]})
        slug = slug or slugify(name)
        if self.state.find_team(org["slug"], slug) is not None:
            raise ApiError(409, {"non_field_errors": [TEAM_CONFLICT], "detail": TEAM_CONFLICT})
        team = self.state.create_team(org["slug"], slug, name or slug)
        self._save()
        return 201, ser.team(team), {}

    def get_team(self, req: Request, org: dict[str, Any], team: dict[str, Any]) -> Response:
        return 200, ser.team(team), {}

    def put_team(self, req: Request, org: dict[str, Any], team: dict[str, Any]) -> Response:
        form = Form(self._body(req))
        form.field("slug", lambda v: as_slug(v, 50))
        form.field("name", lambda v: as_str(v, max_length=64))
        if form.errors:
            raise ApiError(400, form.errors)
        slug = form.values.get("slug")
        if slug and slug != team["slug"] and self.state.find_team(org["slug"], slug) is not None:
            raise ApiError(409, {"detail": TEAM_CONFLICT})
        team.update(form.values)
        self._save()
        return 200, ser.team(team), {}

    def delete_team(self, req: Request, org: dict[str, Any], team: dict[str, Any]) -> Response:
        del self.state.data["teams"][team["id"]]
        for project in self.state.data["projects"].values():
            if team["id"] in project["teams"]:
                project["teams"].remove(team["id"])
        self._save()
        return 204, None, {}

    # ================================================================== projects
    def list_team_projects(self, req: Request, org: dict[str, Any], team: dict[str, Any]) -> Response:
        rows = [self._project_summary(p) for p in self.state.projects_of(org["slug"]) if team["id"] in p["teams"]]
        return self._page(req, rows)

    def create_project(self, req: Request, org: dict[str, Any], team: dict[str, Any]) -> Response:
        form = Form(self._body(req))
        form.field("name", lambda v: as_str(v, max_length=50), required=True)
        form.field("slug", lambda v: as_slug(v, 100), allow_null=True)
        form.field("platform", platform, allow_null=True)
        form.field("default_rules", as_bool)
        if "name" in form.values and form.values["name"] in RESERVED_PROJECT_SLUGS:
            form.errors["name"] = [f'The name "{form.values["name"]}" is reserved and not allowed.']
        if form.errors:
            raise ApiError(400, form.errors)
        values = form.values
        slug = values.get("slug")
        if slug:
            if self.state.find_project(org["slug"], slug) is not None:
                raise ApiError(409, {"detail": PROJECT_CONFLICT})
        else:
            base = slugify(values["name"])
            slug, counter = base, 1
            while self.state.find_project(org["slug"], slug) is not None or slug in RESERVED_PROJECT_SLUGS:
                counter += 1
                slug = f"{base}-{counter}"
        project = self.state.create_project(
            org["slug"],
            team["id"],
            slug,
            values["name"],
            values.get("platform") or None,
            default_rules=values.get("default_rules", True),
        )
        self._save()
        return 201, self._project_summary(project), {}

    def list_org_projects(self, req: Request, org: dict[str, Any]) -> Response:
        projects = search(self.state.projects_of(org["slug"]), req.arg("query"), unknown_keys_match=True)
        return self._page(req, [self._project_summary(p) for p in projects])

    def list_all_projects(self, req: Request) -> Response:
        rows = sorted(self.state.data["projects"].values(), key=lambda p: (p["org"], p["slug"]))
        return self._page(req, [self._project_summary(p) for p in rows])

    def get_project(self, req: Request, org: dict[str, Any], project: dict[str, Any]) -> Response:
        return 200, self._project_detail(project), {}

    def put_project(self, req: Request, org: dict[str, Any], project: dict[str, Any]) -> Response:
        body = self._body(req)
        can_write = bool(req.scopes.intersection(PROJECT_WRITE))
        if not can_write and any(k != "isBookmarked" for k in body):
            raise ApiError(403, {"detail": NO_PERMISSION})
        form = Form(body)
        form.field("name", lambda v: as_str(v, max_length=200))
        form.field("slug", lambda v: as_slug(v, 100))
        form.field("platform", platform, allow_null=True)
        form.field("isBookmarked", as_bool)
        form.field("digestsMinDelay", lambda v: as_int(v, min_value=60, max_value=3600))
        form.field("digestsMaxDelay", lambda v: as_int(v, min_value=60, max_value=3600))
        form.field("subjectPrefix", lambda v: as_str(v, max_length=200, allow_blank=True), allow_null=True)
        form.field("subjectTemplate", lambda v: as_str(v, max_length=200))
        form.field("resolveAge", lambda v: as_int(v), allow_null=True)
        privacy_fields(form, project=True)
        form.field("allowedDomains", allowed_domains)
        form.field("securityToken", lambda v: as_str(v))
        form.field("securityTokenHeader", lambda v: as_str(v, max_length=20, allow_blank=True), allow_null=True)
        form.field("verifySSL", as_bool)
        form.field("defaultEnvironment", lambda v: as_str(v, allow_blank=True), allow_null=True)
        form.field("highlightTags", lambda v: [as_str(x) for x in v] if isinstance(v, list) else as_str(None))
        if form.errors:
            raise ApiError(400, form.errors)
        values = form.values
        low = values.get("digestsMinDelay", project["options"]["digestsMinDelay"])
        high = values.get("digestsMaxDelay", project["options"]["digestsMaxDelay"])
        if low > high:
            raise ApiError(400, {"digestsMinDelay": ["The minimum delay on digests must be lower than the maximum."]})
        slug = values.pop("slug", None)
        if slug and slug != project["slug"]:
            other = self.state.find_project(org["slug"], slug)
            if other is not None:
                raise ApiError(400, {"slug": [f"Another project ({other['name']}) is already using that slug"]})
            project["slug"] = slug
        for name in ("name", "isBookmarked"):
            if name in values:
                project[name] = values.pop(name)
        if "platform" in values:
            project["platform"] = values.pop("platform") or None
        if "resolveAge" in values and values["resolveAge"] is None:
            values["resolveAge"] = 0
        if "subjectPrefix" in values and values["subjectPrefix"] is None:
            values["subjectPrefix"] = ""
        if values.get("relayPiiConfig") == "":
            values["relayPiiConfig"] = None
        project["options"].update(values)
        self._save()
        return 200, self._project_detail(project), {}

    def delete_project(self, req: Request, org: dict[str, Any], project: dict[str, Any]) -> Response:
        self.state.delete_project(project["id"])
        self._save()
        return 204, None, {}

    # ProjectTeamDetailsEndpoint: give a team access to a project (201 with the project), or take it away (200).
    def add_project_team(self, req: Request, org: dict[str, Any], team: dict[str, Any], project: dict[str, Any]):
        if team["id"] not in project["teams"]:
            project["teams"].append(team["id"])
            self._save()
        return 201, self._project_detail(project), {}

    def remove_project_team(self, req: Request, org: dict[str, Any], team: dict[str, Any], project: dict[str, Any]):
        if team["id"] in project["teams"]:
            project["teams"].remove(team["id"])
            self._save()
        return 200, self._project_detail(project), {}

    # ================================================================== keys
    def _owned(self, table: str, ident: str, owner: str, owner_value: str) -> dict[str, Any]:
        """Row `ident` of `table` when its `owner` field is `owner_value` (its project or organization); else 404."""
        row = self.state.data[table].get(ident)
        if row is None or row[owner] != owner_value:
            raise not_found()
        return row

    def _find_key(self, project: dict[str, Any], public: str) -> dict[str, Any]:
        return self._owned("keys", public, "project", project["id"])

    def list_keys(self, req: Request, org: dict[str, Any], project: dict[str, Any]) -> Response:
        keys = self.state.keys_of(project["id"])
        status = req.arg("status")
        if status == "active":
            keys = [k for k in keys if k["isActive"]]
        elif status == "inactive":
            keys = [k for k in keys if not k["isActive"]]
        return self._page(req, [ser.key(k, self.url_prefix) for k in keys])

    def create_key(self, req: Request, org: dict[str, Any], project: dict[str, Any]) -> Response:
        form = Form(self._body(req))
        form.field("name", lambda v: as_str(v, max_length=64), allow_null=True)
        form.field("public", hex32)
        form.field("secret", hex32)
        form.field("rateLimit", rate_limit, allow_null=True)
        if form.errors:
            raise ApiError(400, form.errors)
        values = form.values
        limit = values.get("rateLimit") or {}
        applied = (
            {"count": limit["count"], "window": limit["window"]} if limit.get("count") and limit.get("window") else None
        )
        if values.get("public") and values["public"] in self.state.data["keys"]:
            raise ApiError(400, {"detail": "A key with this public key already exists."})
        key = self.state.create_key(
            project["id"], values.get("name"), applied, values.get("public"), values.get("secret")
        )
        self._save()
        return 201, ser.key(key, self.url_prefix), {}

    def get_key(self, req: Request, org: dict[str, Any], project: dict[str, Any], key: str) -> Response:
        return 200, ser.key(self._find_key(project, key), self.url_prefix), {}

    def put_key(self, req: Request, org: dict[str, Any], project: dict[str, Any], key: str) -> Response:
        stored = self._find_key(project, key)
        body = self._body(req)
        form = Form(body)
        form.field("name", lambda v: as_str(v, max_length=64))
        form.field("isActive", as_bool)
        form.field("rateLimit", rate_limit, allow_null=True)
        form.field("browserSdkVersion", lambda v: as_choice(v, ("latest", "10.x", "9.x", "8.x", "7.x")))
        form.field("dynamicSdkLoaderOptions", _loader_options)
        if form.errors:
            raise ApiError(400, form.errors)
        values = form.values
        if "name" in values:
            stored["label"] = values["name"]
        if "isActive" in values:
            stored["isActive"] = values["isActive"]
        if "rateLimit" in body:
            limit = values.get("rateLimit")
            if limit is None:
                stored["rateLimit"] = None
            elif limit:
                stored["rateLimit"] = {"count": limit.get("count"), "window": limit.get("window")}
        if "browserSdkVersion" in values:
            stored["browserSdkVersion"] = values["browserSdkVersion"]
        if "dynamicSdkLoaderOptions" in values:
            stored["dynamicSdkLoaderOptions"].update(values["dynamicSdkLoaderOptions"])
        self._save()
        return 200, ser.key(stored, self.url_prefix), {}

    def delete_key(self, req: Request, org: dict[str, Any], project: dict[str, Any], key: str) -> Response:
        stored = self._find_key(project, key)
        del self.state.data["keys"][stored["public"]]
        self.state.rate_windows.pop(stored["public"], None)
        self._save()
        return 204, None, {}

    # ================================================================== issue rules
    def _rule_ctx(self, org: dict[str, Any], project: dict[str, Any]) -> dict[str, Any]:
        return {
            "team_ids": set(project["teams"]),
            "org_team_ids": {t["id"] for t in self.state.teams_of(org["slug"])},
            "member_ids": MEMBER_IDS,
            "environments": set(self._environments(org["slug"])),
        }

    def _find_rule(self, project: dict[str, Any], rule_id: str) -> dict[str, Any]:
        return self._owned("rules", rule_id, "project", project["id"])

    def list_rules(self, req: Request, org: dict[str, Any], project: dict[str, Any]) -> Response:
        rows = [ser.rule(r, project["slug"]) for r in self.state.rules_of(project["id"])]
        return self._page(req, wf.legacy_rule_rows(self.state, project, rows))

    def _validated_rule(self, req: Request, org, project, exclude_id: str | None) -> dict[str, Any]:
        rule, errors = validate_issue_rule(self._body(req), self._rule_ctx(org, project))
        if errors:
            raise ApiError(400, errors)
        duplicate = find_duplicate(rule, self.state.rules_of(project["id"]), exclude_id=exclude_id)
        if duplicate is not None:
            message = (
                f"This rule is an exact duplicate of '{duplicate['name']}' in this project and may not be created."
            )
            raise ApiError(400, {"name": [message], "ruleId": [int(duplicate["id"])]})
        return rule

    def create_rule(self, req: Request, org: dict[str, Any], project: dict[str, Any]) -> Response:
        rule = self._validated_rule(req, org, project, exclude_id=None)
        created = self.state.create_rule(
            project["id"], rule, {"id": int(TOKEN_USER["id"]), "name": TOKEN_USER["name"], "email": TOKEN_USER["email"]}
        )
        wf.after_rule_write(self.state, org, project, created)
        self._save()
        # ProjectRulesEndpoint.post answers Response(serialize(rule)): 200, not 201.
        return 200, ser.rule(created, project["slug"]), {}

    def get_rule(self, req: Request, org: dict[str, Any], project: dict[str, Any], rule: str) -> Response:
        return 200, ser.rule(self._find_rule(project, rule), project["slug"]), {}

    def put_rule(self, req: Request, org: dict[str, Any], project: dict[str, Any], rule: str) -> Response:
        stored = self._find_rule(project, rule)
        clean = self._validated_rule(req, org, project, exclude_id=stored["id"])
        for action in clean["actions"]:
            action.setdefault("uuid", _new_uuid())
        stored.update(clean)
        wf.after_rule_write(self.state, org, project, stored)
        self._save()
        return 200, ser.rule(stored, project["slug"]), {}

    def delete_rule(self, req: Request, org: dict[str, Any], project: dict[str, Any], rule: str) -> Response:
        stored = self._find_rule(project, rule)
        del self.state.data["rules"][stored["id"]]
        wf.after_rule_delete(self.state, stored["id"])
        self._save()
        return 202, None, {}

    # ================================================================== metric alerts
    def _alert_ctx(self, org: dict[str, Any]) -> dict[str, Any]:
        return {
            "team_ids": {t["id"] for t in self.state.teams_of(org["slug"])},
            "org_team_ids": {t["id"] for t in self.state.teams_of(org["slug"])},
            "member_ids": MEMBER_IDS,
            "environments": set(self._environments(org["slug"])),
            "project_slugs": {p["slug"] for p in self.state.projects_of(org["slug"])},
        }

    def _find_alert(self, org: dict[str, Any], alert_id: str) -> dict[str, Any]:
        return self._owned("alert_rules", alert_id, "org", org["slug"])

    def list_alert_rules(self, req: Request, org: dict[str, Any]) -> Response:
        rows = [a for a in self.state.data["alert_rules"].values() if a["org"] == org["slug"]]
        wanted = req.query.get("project")
        if wanted:
            slugs = {p["slug"] for p in self.state.projects_of(org["slug"]) if p["id"] in wanted}
            rows = [a for a in rows if slugs.intersection(a["projects"])]
        rows.sort(key=lambda a: int(a["id"]), reverse=True)
        return self._page(req, [self._alert_view(a) for a in rows])

    def _alert_view(self, alert: dict[str, Any]) -> dict[str, Any]:
        return wf.legacy_alert_view(self.state, ser.alert_rule(alert))

    def _alert_written(self, org: dict[str, Any], alert: dict[str, Any]) -> None:
        ids = [p["id"] for p in self.state.projects_of(org["slug"]) if p["slug"] in alert["projects"]]
        wf.after_alert_rule_write(self.state, org, alert, ids)

    def _assign_trigger_ids(self, triggers: list[dict[str, Any]], previous: dict[str, dict]) -> None:
        stamp = now_iso()
        for trigger in triggers:
            old = previous.get(str(trigger.get("id"))) if trigger.get("id") is not None else None
            trigger["id"] = old["id"] if old else str(self.state.next_id("trigger"))
            trigger["dateCreated"] = old["dateCreated"] if old else stamp
            old_actions = {str(a["id"]): a for a in (old or {}).get("actions", [])}
            for action in trigger["actions"]:
                keep = action.get("id") is not None and str(action["id"]) in old_actions
                action["id"] = str(action["id"]) if keep else str(self.state.next_id("trigger_action"))

    def create_alert_rule(self, req: Request, org: dict[str, Any]) -> Response:
        rule, errors = validate_metric_alert(self._body(req), self._alert_ctx(org))
        if errors:
            raise ApiError(400, errors)
        rule["id"] = str(self.state.next_id("alert_rule"))
        rule["org"] = org["slug"]
        rule["organizationId"] = org["id"]
        rule["dateCreated"] = rule["dateModified"] = now_iso()
        self._assign_trigger_ids(rule["triggers"], {})
        self.state.data["alert_rules"][rule["id"]] = rule
        self._alert_written(org, rule)
        self._save()
        return 201, self._alert_view(rule), {}

    def get_alert_rule(self, req: Request, org: dict[str, Any], alert: str) -> Response:
        return 200, self._alert_view(self._find_alert(org, alert)), {}

    def put_alert_rule(self, req: Request, org: dict[str, Any], alert: str) -> Response:
        stored = self._find_alert(org, alert)
        rule, errors = validate_metric_alert(self._body(req), self._alert_ctx(org))
        if errors:
            raise ApiError(400, errors)
        previous = {t["id"]: t for t in stored["triggers"]}
        self._assign_trigger_ids(rule["triggers"], previous)
        stored.update(rule)
        stored["dateModified"] = now_iso()
        self._alert_written(org, stored)
        self._save()
        return 200, self._alert_view(stored), {}

    def delete_alert_rule(self, req: Request, org: dict[str, Any], alert: str) -> Response:
        stored = self._find_alert(org, alert)
        del self.state.data["alert_rules"][stored["id"]]
        wf.after_alert_rule_delete(self.state, stored["id"])
        self._save()
        return 202, None, {}

    # ================================================================== environments / events
    def list_environments(self, req: Request, org: dict[str, Any], project: dict[str, Any]) -> Response:
        names = sorted(
            {
                e["data"].get("environment")
                for e in self.state.data["events"].values()
                if e["project"] == project["id"] and e["data"].get("environment")
            }
        )
        return 200, [{"id": str(i + 1), "name": n, "isHidden": False} for i, n in enumerate(names)], {}

    def list_events(self, req: Request, org: dict[str, Any], project: dict[str, Any]) -> Response:
        rows = [e for e in self.state.data["events"].values() if e["project"] == project["id"]]
        rows.sort(key=lambda e: e["dateReceived"], reverse=True)
        return self._page(req, [ser.event_summary(e, project["id"]) for e in rows])

    def get_event(self, req: Request, org: dict[str, Any], project: dict[str, Any], event: str) -> Response:
        stored = self.state.data["events"].get(f"{project['id']}:{event.replace('-', '')}")
        if stored is None:
            raise not_found("Event not found")
        return 200, ser.event(stored, project["id"]), {}

    # ================================================================== releases
    def _release_key(self, org: dict[str, Any], version: str) -> str:
        return f"{org['slug']}\n{version}"

    def _find_release(self, org: dict[str, Any], version: str) -> dict[str, Any]:
        rel = self.state.data["releases"].get(self._release_key(org, version))
        if rel is None:
            raise not_found()
        return rel

    def _release_body(self, org: dict[str, Any], rel: dict[str, Any]) -> dict[str, Any]:
        projects = [p for p in self.state.projects_of(org["slug"]) if p["slug"] in rel["projects"]]
        deploys = [d for d in self.state.data["deploys"].values() if d["release"] == rel["key"]]
        last = None
        if deploys:
            newest = max(deploys, key=lambda d: int(d["id"]))
            last = ser.deploy(newest)
        body = ser.release(dict(rel, deployCount=len(deploys)), projects, last)
        return self.releases.decorate(rel, body)

    def _validate_release(self, body: dict[str, Any], org: dict[str, Any], need_projects: bool) -> dict[str, Any]:
        form = Form(body)
        form.field("version", lambda v: _release_version(v), required=True)
        form.field("projects", lambda v: _project_slugs(v, self.state, org), required=need_projects)
        form.field("ref", lambda v: as_str(v, max_length=1024, allow_blank=True), allow_null=True)
        form.field("url", lambda v: as_str(v, allow_blank=True), allow_null=True)
        form.field("dateReleased", lambda v: as_str(v), allow_null=True)
        form.field("dateStarted", lambda v: as_str(v), allow_null=True)
        if form.errors:
            raise ApiError(400, form.errors)
        return form.values

    def _upsert_release(self, org: dict[str, Any], values: dict[str, Any], user_agent: str | None) -> Response:
        key = self._release_key(org, values["version"])
        existing = self.state.data["releases"].get(key)
        if existing is not None:
            for slug in values.get("projects", []):
                if slug not in existing["projects"]:
                    existing["projects"].append(slug)
            self._save()
            return 208, self._release_body(org, existing), {}
        rel = {
            "id": self.state.next_id("release"),
            "key": key,
            "org": org["slug"],
            "version": values["version"],
            "projects": list(values.get("projects", [])),
            "ref": values.get("ref"),
            "url": values.get("url"),
            "dateReleased": values.get("dateReleased"),
            "dateStarted": values.get("dateStarted"),
            "dateCreated": now_iso(),
            "userAgent": user_agent,
        }
        self.state.data["releases"][key] = rel
        self._save()
        return 201, self._release_body(org, rel), {}

    def list_releases(self, req: Request, org: dict[str, Any]) -> Response:
        rows = [r for r in self.state.data["releases"].values() if r["org"] == org["slug"]]
        rows.sort(key=lambda r: r["id"], reverse=True)
        return self._page(req, [self._release_body(org, r) for r in rows])

    def create_release(self, req: Request, org: dict[str, Any]) -> Response:
        values = self._validate_release(self._body(req), org, need_projects=True)
        return self._upsert_release(org, values, req.headers.get("User-Agent"))

    def get_release(self, req: Request, org: dict[str, Any], version: str) -> Response:
        return 200, self._release_body(org, self._find_release(org, version)), {}

    def put_release(self, req: Request, org: dict[str, Any], version: str) -> Response:
        rel = self._find_release(org, version)
        self.releases.set_commits(req, org, rel)
        form = Form(self._body(req))
        form.field("ref", lambda v: as_str(v, allow_blank=True), allow_null=True)
        form.field("url", lambda v: as_str(v, allow_blank=True), allow_null=True)
        form.field("dateReleased", lambda v: as_str(v), allow_null=True)
        form.field("projects", lambda v: _project_slugs(v, self.state, org))
        if form.errors:
            raise ApiError(400, form.errors)
        for slug in form.values.pop("projects", []):
            if slug not in rel["projects"]:
                rel["projects"].append(slug)
        rel.update(form.values)
        self._save()
        return 200, self._release_body(org, rel), {}

    def delete_release(self, req: Request, org: dict[str, Any], version: str) -> Response:
        rel = self._find_release(org, version)
        del self.state.data["releases"][rel["key"]]
        self._save()
        return 204, None, {}

    def list_deploys(self, req: Request, org: dict[str, Any], version: str) -> Response:
        rel = self._find_release(org, version)
        rows = [ser.deploy(d) for d in self.state.data["deploys"].values() if d["release"] == rel["key"]]
        return self._page(req, rows)

    def create_deploy(self, req: Request, org: dict[str, Any], version: str) -> Response:
        rel = self._find_release(org, version)
        form = Form(self._body(req))
        form.field("environment", lambda v: _environment_name(v), required=True)
        form.field("name", lambda v: as_str(v, max_length=64, allow_blank=True), allow_null=True)
        form.field("url", lambda v: as_str(v, allow_blank=True), allow_null=True)
        form.field("dateStarted", lambda v: as_str(v), allow_null=True)
        form.field("dateFinished", lambda v: as_str(v), allow_null=True)
        form.field("projects", lambda v: _project_slugs(v, self.state, org))
        if form.errors:
            raise ApiError(400, form.errors)
        values = form.values
        deploy = {
            "id": str(self.state.next_id("deploy")),
            "release": rel["key"],
            "environment": values["environment"],
            "name": values.get("name"),
            "url": values.get("url"),
            "dateStarted": values.get("dateStarted"),
            "dateFinished": values.get("dateFinished") or now_iso(),
            "projects": values.get("projects") or list(rel["projects"]),
        }
        self.state.data["deploys"][deploy["id"]] = deploy
        envs = self.state.data["environments"].setdefault(org["slug"], [])
        if deploy["environment"] not in envs:
            envs.append(deploy["environment"])
        self._save()
        return 201, ser.deploy(deploy), {}

    # project-scoped release endpoints (older sentry-cli paths)
    def list_project_releases(self, req: Request, org: dict[str, Any], project: dict[str, Any]) -> Response:
        rows = [
            r
            for r in self.state.data["releases"].values()
            if r["org"] == org["slug"] and project["slug"] in r["projects"]
        ]
        return self._page(req, [self._release_body(org, r) for r in rows])

    def create_project_release(self, req: Request, org: dict[str, Any], project: dict[str, Any]) -> Response:
        values = self._validate_release(self._body(req), org, need_projects=False)
        values["projects"] = [project["slug"]]
        return self._upsert_release(org, values, req.headers.get("User-Agent"))

    def get_project_release(self, req: Request, org, project, version: str) -> Response:
        return self.get_release(req, org, version)

    def put_project_release(self, req: Request, org, project, version: str) -> Response:
        return self.put_release(req, org, version)


def _new_uuid() -> str:
    import uuid

    return str(uuid.uuid4())


def _loader_options(value: Any) -> dict[str, bool]:
    if not isinstance(value, dict):
        raise Invalid("Invalid data. Expected a dictionary.")
    allowed = ("hasReplay", "hasPerformance", "hasDebug", "hasFeedback", "hasLogsAndMetrics")
    return {k: as_bool(v) for k, v in value.items() if k in allowed}


def _release_version(value: Any) -> str:
    text = as_str(value, max_length=250)
    if text in (".", "..", "latest") or any(ch in text for ch in BAD_RELEASE_CHARS) or text != text.strip():
        raise Invalid(f"Release with name {text} is not allowed")
    return text


def _project_slugs(value: Any, state: State, org: dict[str, Any]) -> list[str]:
    if not isinstance(value, list):
        raise Invalid(f'Expected a list of items but got type "{type(value).__name__}".')
    known = {p["slug"]: p for p in state.projects_of(org["slug"])}
    known_ids = {p["id"]: p["slug"] for p in state.projects_of(org["slug"])}
    slugs = []
    for item in value:
        item = str(item)
        if item in known:
            slugs.append(item)
        elif item in known_ids:
            slugs.append(known_ids[item])
        else:
            raise Invalid("Invalid project slugs")
    return slugs


def _environment_name(value: Any) -> str:
    text = as_str(value, max_length=64)
    if "/" in text or "\n" in text or text.strip() != text:
        raise Invalid("Invalid value for environment")
    return text
