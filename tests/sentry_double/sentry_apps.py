"""Internal integrations (Sentry Apps with status "internal") and their API tokens.

Imitates Sentry 23.7.1 (src/sentry/api/endpoints/integrations/sentry_apps/ and
api/bases/sentryapps.py at that tag):

- ``POST /api/0/sentry-apps/`` (SentryAppsPermission: org:write/org:admin, the organization comes
  from the body) creates the app, installs it in its organization and, for internal apps,
  creates one installation token (the 23.7.1 InternalCreator does; releases from 24.x pass
  ``skip_default_auth_token=True`` and create none).
- ``GET/PUT/DELETE /api/0/sentry-apps/{slug}/`` (org:read.. for GET, org:write for PUT/DELETE on an
  unpublished app). A PUT with new ``scopes`` updates the tokens' scopes too (internal apps).
- ``GET/POST /api/0/sentry-apps/{slug}/api-tokens/`` (SentryInternalAppTokenPermission: org:write or
  org:admin). 23.7.1 lists every token in full; ``DELETE .../api-tokens/{token}/`` takes the token
  VALUE in 23.7.1 and the token id in later releases: the double accepts both.
- ``GET /api/0/organizations/{org}/sentry-apps/`` lists the organization's apps (``?status=internal``).

A token of an installation acts as the app's proxy user: its scopes are the app's scopes and it is
valid for the app's organization only (403 elsewhere). Tokens are kept in the state file (0600).
"""

from __future__ import annotations

import re
import secrets
import uuid
from typing import TYPE_CHECKING, Any

from .state import ALL_SCOPES, now_iso

if TYPE_CHECKING:
    from .api import Api, Request, Response

APP_WRITE = ["org:write", "org:admin"]
APP_READ = ["org:read", "org:integrations", "org:write", "org:admin"]
MASKED_VALUE = "*" * 64
MAX_TOKENS = 20  # SentryAppInstallationTokenCreator refuses more (ApiTokenLimitError)
ERR_TOKEN_LIMIT = "Cannot generate more than 20 tokens for a single integration"


def _slugify(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:50] or "app"


def app_body(app: dict[str, Any], org: dict[str, Any], show_secret: bool) -> dict[str, Any]:
    """SentryAppSerializer output (the fields clients use)."""
    return {
        "allowedOrigins": list(app["allowedOrigins"]),
        "author": app["author"],
        "avatars": [],
        "events": list(app["events"]),
        "isAlertable": app["isAlertable"],
        "name": app["name"],
        "overview": app["overview"],
        "popularity": 1,
        "redirectUrl": app["redirectUrl"],
        "schema": app["schema"],
        "scopes": list(app["scopes"]),
        "slug": app["slug"],
        "status": "internal" if app["isInternal"] else "unpublished",
        "uuid": app["uuid"],
        "verifyInstall": app["verifyInstall"],
        "webhookUrl": app["webhookUrl"],
        "featureData": [],
        "metadata": {},
        "webhookEvents": [],
        "webhookHeaders": [],
        "owner": {"id": int(org["id"]), "slug": org["slug"]},
        "clientId": app["clientId"],
        "clientSecret": app["clientSecret"] if show_secret else MASKED_VALUE,
    }


def token_body(tok: dict[str, Any], scopes: list[str], show: bool) -> dict[str, Any]:
    """ApiTokenSerializer output with application=None (23.7.1 includes the token then)."""
    return {
        "id": tok["id"],
        "scopes": list(scopes),
        "application": None,
        "expiresAt": None,
        "dateCreated": tok["dateCreated"],
        "state": None,
        "token": tok["token"] if show else MASKED_VALUE,
        "refreshToken": None if show else MASKED_VALUE,
    }


class SentryApps:
    """Handlers; registered on an Api by ``register``."""

    def __init__(self, api: Api):
        self.api = api
        self.state = api.state
        data = self.state.data
        data.setdefault("sentry_apps", {})
        data.setdefault("app_tokens", {})

    # ------------------------------------------------------------------ helpers
    def _apps(self) -> dict[str, dict[str, Any]]:
        return self.state.data["sentry_apps"]

    def _tokens(self) -> dict[str, dict[str, Any]]:
        return self.state.data["app_tokens"]

    def _find(self, slug: str) -> dict[str, Any]:
        from .api import not_found

        app = self._apps().get(slug)
        if app is None:
            for candidate in self._apps().values():
                if candidate["uuid"] == slug:
                    return candidate
            raise not_found()
        return app

    def _org_of(self, app: dict[str, Any]) -> dict[str, Any]:
        return self.state.data["orgs"][app["org"]]

    def _member_check(self, req: Request, app: dict[str, Any]) -> None:
        """A token of another organization's app must not see this app."""
        from .api import not_found

        limit = token_org(self.state, req.token)
        if limit is not None and limit != app["org"]:
            raise not_found()

    def _new_token(self, app: dict[str, Any]) -> dict[str, Any]:
        from .api import ApiError

        if len([t for t in self._tokens().values() if t["app"] == app["slug"]]) >= MAX_TOKENS:
            raise ApiError(403, ERR_TOKEN_LIMIT)
        tok = {
            "id": str(self.state.next_id("api_token")),
            "app": app["slug"],
            # 23.7.1 tokens are bare 64 hex; newer releases prefix sntryi_ (AuthTokenType.INTEGRATION).
            "token": secrets.token_hex(32),
            "dateCreated": now_iso(),
        }
        self._tokens()[tok["id"]] = tok
        return tok

    def _show(self, req: Request, app: dict[str, Any]) -> bool:
        # SentryApp.show_auth_info: the caller holds every scope of the app.
        return set(app["scopes"]).issubset(req.scopes)

    # ------------------------------------------------------------------ apps
    def list_apps(self, req: Request) -> Response:
        status = req.arg("status")
        rows = []
        for app in sorted(self._apps().values(), key=lambda a: a["id"], reverse=True):
            if status == "internal" and not app["isInternal"]:
                continue
            if status not in ("internal", None):
                continue
            org = self._org_of(app)
            rows.append(app_body(app, org, self._show(req, app)))
        return self.api._page(req, rows)

    def create_app(self, req: Request) -> Response:
        from .api import ApiError

        body = self.api._body(req)
        org_slug = body.get("organization")
        if not org_slug or not isinstance(org_slug, str):
            raise ApiError(400, {"organization": ["Please provide a valid value for the 'organization' field."]})
        org = self.state.find_org(org_slug)
        if org is None:
            raise ApiError(403, {"detail": f"User does not belong to the '{org_slug}' organization."})
        if not req.scopes.intersection(APP_WRITE):
            raise ApiError(403, {"detail": "You do not have permission to perform this action."})
        errors: dict[str, list[str]] = {}
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            errors["name"] = ["This field is required."]
        scopes = body.get("scopes", [])
        if not isinstance(scopes, list) or any(s not in ALL_SCOPES for s in scopes):
            bad = [s for s in (scopes if isinstance(scopes, list) else [scopes]) if s not in ALL_SCOPES]
            errors["scopes"] = [f"Invalid scope(s): {', '.join(map(str, bad))}"]
        elif not set(scopes).issubset(req.scopes):
            # SentryAppSerializer.validate_scopes: no scope the requesting user lacks.
            errors["scopes"] = [
                f"Requested permission of {', '.join(sorted(set(scopes) - req.scopes))} exceeds "
                "requester's permission. Please contact an administrator to make the requested change."
            ]
        is_internal = bool(body.get("isInternal"))
        webhook = body.get("webhookUrl")
        if not is_internal and not webhook:
            errors["webhookUrl"] = ["webhookUrl required for public integrations"]
        if errors:
            raise ApiError(400, errors)
        slug = _slugify(name)
        if is_internal:
            # InternalCreator appends a short random suffix to internal slugs.
            slug = f"{slug}-{secrets.token_hex(3)}"
        if slug in self._apps():
            raise ApiError(400, {"name": [f"Name {name} is already taken, please use another."]})
        if any(a["name"] == name for a in self._apps().values()):
            raise ApiError(400, {"name": [f"Name {name} is already taken, please use another."]})
        app = {
            "id": self.state.next_id("sentry_app"),
            "slug": slug,
            "uuid": str(uuid.uuid4()),
            "name": name,
            "org": org["slug"],
            "author": body.get("author") or org["name"],
            "scopes": sorted(set(scopes)),
            "events": list(body.get("events") or []),
            "isInternal": is_internal,
            "isAlertable": bool(body.get("isAlertable")),
            "verifyInstall": False if is_internal else bool(body.get("verifyInstall", True)),
            "webhookUrl": webhook,
            "redirectUrl": body.get("redirectUrl"),
            "overview": body.get("overview"),
            "schema": body.get("schema") or {},
            "allowedOrigins": list(body.get("allowedOrigins") or []),
            "clientId": secrets.token_hex(32),
            "clientSecret": secrets.token_hex(32),
            "dateCreated": now_iso(),
        }
        self._apps()[slug] = app
        if is_internal:
            self._new_token(app)
        self.api._save()
        return 201, app_body(app, org, self._show(req, app)), {}

    def get_app(self, req: Request, app: str) -> Response:
        found = self._find(app)
        self._member_check(req, found)
        return 200, app_body(found, self._org_of(found), self._show(req, found)), {}

    def put_app(self, req: Request, app: str) -> Response:
        from .api import ApiError

        found = self._find(app)
        self._member_check(req, found)
        body = self.api._body(req)
        if "scopes" in body:
            scopes = body["scopes"]
            if not isinstance(scopes, list) or any(s not in ALL_SCOPES for s in scopes):
                raise ApiError(400, {"scopes": ["Invalid scope(s)"]})
            if not set(scopes).issubset(req.scopes):
                raise ApiError(400, {"scopes": ["Requested permission exceeds requester's permission."]})
            found["scopes"] = sorted(set(scopes))
        for field in ("name", "author", "overview", "webhookUrl", "redirectUrl", "events", "isAlertable"):
            if field in body:
                found[field] = body[field]
        self.api._save()
        return 200, app_body(found, self._org_of(found), self._show(req, found)), {}

    def delete_app(self, req: Request, app: str) -> Response:
        found = self._find(app)
        self._member_check(req, found)
        del self._apps()[found["slug"]]
        for tid in [t for t, tok in self._tokens().items() if tok["app"] == found["slug"]]:
            del self._tokens()[tid]
        self.api._save()
        return 204, None, {}

    def list_org_apps(self, req: Request, org: dict[str, Any]) -> Response:
        status = req.arg("status")
        rows = [
            app_body(a, org, self._show(req, a))
            for a in sorted(self._apps().values(), key=lambda a: a["id"])
            if a["org"] == org["slug"] and (status != "internal" or a["isInternal"])
        ]
        return self.api._page(req, rows)

    # ------------------------------------------------------------------ tokens
    def list_tokens(self, req: Request, app: str) -> Response:
        found = self._find(app)
        self._member_check(req, found)
        if not found["isInternal"]:
            return 200, [], {}
        show = self._show(req, found)
        rows = [
            token_body(t, found["scopes"], show)
            for t in sorted(self._tokens().values(), key=lambda t: int(t["id"]))
            if t["app"] == found["slug"]
        ]
        return 200, rows, {}

    def create_token(self, req: Request, app: str) -> Response:
        found = self._find(app)
        self._member_check(req, found)
        if not found["isInternal"]:
            return 403, "This route is limited to internal integrations only", {}
        tok = self._new_token(found)
        self.api._save()
        return 201, token_body(tok, found["scopes"], self._show(req, found)), {}

    def delete_token(self, req: Request, app: str, api_token: str) -> Response:
        from .api import not_found

        found = self._find(app)
        self._member_check(req, found)
        match = None
        for tid, tok in self._tokens().items():
            if api_token in (tid, tok["token"]):
                match = tid
                break
        if match is None or self._tokens()[match]["app"] != found["slug"]:
            raise not_found()
        del self._tokens()[match]
        self.api._save()
        return 204, None, {}


def token_lookup(state: Any, token: str | None) -> dict[str, Any] | None:
    """The installation token entry for ``token`` (None for user tokens and unknown ones)."""
    if not token:
        return None
    for tok in state.data.get("app_tokens", {}).values():
        if secrets.compare_digest(tok["token"], token):
            return tok
    return None


def token_app_scopes(state: Any, token: str) -> list[str] | None:
    """Scopes of an installation token: the scopes of its app, as Sentry's proxy user holds them."""
    tok = token_lookup(state, token)
    if tok is None:
        return None
    app = state.data["sentry_apps"].get(tok["app"])
    return list(app["scopes"]) if app is not None else None


def token_org(state: Any, token: str | None) -> str | None:
    """The only organization an installation token may act in (None: not an installation token)."""
    tok = token_lookup(state, token)
    if tok is None:
        return None
    app = state.data["sentry_apps"].get(tok["app"])
    return app["org"] if app is not None else None
