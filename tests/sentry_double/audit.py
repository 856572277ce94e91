"""The organization audit log of the double, as Sentry 26.x serves it.

Facts mirrored from getsentry/sentry (written here, not copied):
- ``GET /api/0/organizations/{org}/audit-logs/`` (api/endpoints/organization_auditlogs.py) needs
  ``OrganizationAuditPermission``: the GET scope is ``org:write`` (org:read is
  not enough, api/bases/organization.py). Optional filters ``event`` (an API name; an unknown name
  gives an empty list, not an error) and ``actor`` (an integer user id; anything else is a 400).
- The body is ``{"rows": [...], "options": [every API name]}``, rows newest first
  (``order_by="-datetime"``), paged by ``DateTimePaginator``: the cursor value is the entry's
  datetime in epoch milliseconds (rounded up going backwards in time), the offset counts entries
  that share that value, so an entry created while a client pages never shifts the next page.
- Each row (api/serializers/models/auditlogentry.py): ``id`` (string), ``actor`` (the user),
  ``event`` (API name), ``ipAddress``, ``note``, ``targetObject``, ``targetUser``, ``data``,
  ``dateCreated``.
- API names of the changes the double performs (audit_log/register.py): org.edit, team.create,
  team.edit, team.remove, project.create, project.edit, project.remove, projectkey.create,
  projectkey.edit, projectkey.remove, rule.create, rule.edit, rule.remove, alertrule.create,
  alertrule.edit, alertrule.remove.

``record`` is called by the double's dispatcher after every successful write (see api.py).
"""

from __future__ import annotations

import datetime as _dt
import math
from typing import Any

from .pagination import PaginationError, link_header, page_length
from .state import TOKEN_USER

AUDIT_SCOPES = ["org:write"]

# handler name -> (API name, note template, target kind)
EVENTS: dict[str, tuple[str, str, str]] = {
    "put_org": ("org.edit", "edited the organization setting: {changes}", "org"),
    "create_team": ("team.create", "created team {slug}", "team"),
    "put_team": ("team.edit", "edited team {slug}", "team"),
    "delete_team": ("team.remove", "removed team {slug}", "team"),
    "create_project": ("project.create", "created project {slug}", "project"),
    "put_project": ("project.edit", "edited project settings {changes}", "project"),
    "delete_project": ("project.remove", "removed project {slug}", "project"),
    "create_key": ("projectkey.create", "added project key {public_key}", "key"),
    "put_key": ("projectkey.edit", "edited project key {public_key}", "key"),
    "delete_key": ("projectkey.remove", "removed project key {public_key}", "key"),
    "create_rule": ("rule.create", 'added rule "{label}"', "rule"),
    "put_rule": ("rule.edit", 'edited rule "{label}"', "rule"),
    "delete_rule": ("rule.remove", 'removed rule "{label}"', "rule"),
    "create_alert_rule": ("alertrule.create", 'added metric alert rule "{label}"', "alert"),
    "put_alert_rule": ("alertrule.edit", 'edited metric alert rule "{label}"', "alert"),
    "delete_alert_rule": ("alertrule.remove", 'removed metric alert rule "{label}"', "alert"),
}
# Sentry answers `options` with every registered API name; these are the ones the double knows.
API_NAMES = sorted(
    {name for name, _, _ in EVENTS.values()}
    | {"member.invite", "member.add", "member.edit", "member.remove", "org.create", "org.remove", "api-key.create"}
)


def _entries(state) -> list[dict[str, Any]]:
    return state.data.setdefault("audit_log", [])


def _millis(stamp: str) -> float:
    when = _dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return when.timestamp() * 1000


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def add_entry(
    state, org: dict[str, Any], event: str, note: str, data: dict, target: Any, when: str | None = None
) -> dict[str, Any]:
    """Append one entry (ids grow with time, like the table's primary key)."""
    entry = {
        "id": str(state.next_id("audit_log")),
        "org": org["slug"],
        "event": event,
        "note": note,
        "targetObject": target,
        "data": data,
        "dateCreated": when or _now(),
    }
    _entries(state).append(entry)
    return entry


def _body_changes(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        return {}
    # Sentry records the changed option names and their new values; secrets never get here
    # (the double's write bodies carry none).
    return {key: value for key, value in body.items() if not isinstance(value, (dict, list)) or key == "teams"}


def record(state, handler: str, req, objects: dict[str, Any], response: tuple[int, Any, dict]) -> None:
    """Record the audit entry of a successful write performed by `handler`, if Sentry audits it."""
    spec = EVENTS.get(handler)
    status, body = response[0], response[1]
    if spec is None or not 200 <= status < 300 or "org" not in objects:
        return
    event, template, kind = spec
    org = objects["org"]
    result = body if isinstance(body, dict) else {}
    project = objects.get("project") or {}
    data: dict[str, Any] = {}
    target: Any = None
    if kind == "org":
        data = _body_changes(req.body)
        target = org.get("id")
    elif kind == "team":
        team = objects.get("team") or result
        data = {"slug": result.get("slug") or team.get("slug"), "id": result.get("id") or team.get("id")}
        target = data["id"]
    elif kind == "project":
        if handler == "put_project":
            data = _body_changes(req.body)
        data.update(slug=result.get("slug") or project.get("slug"), id=result.get("id") or project.get("id"))
        target = data["id"]
    elif kind == "key":
        data = {"public_key": result.get("public") or objects.get("key"), "project": project.get("slug")}
        target = result.get("id") or objects.get("key")
    elif kind in ("rule", "alert"):
        target = result.get("id") or objects.get(kind)
        data = {"label": result.get("name") or str(target), "project": project.get("slug")}
    changes = ", ".join(f"{k} {v}" for k, v in data.items() if k not in ("id",))
    note = template.format(changes=changes, **{k: v for k, v in data.items() if isinstance(k, str)})
    add_entry(state, org, event, note, data, target)
    state.save()


def _serialize(entry: dict[str, Any]) -> dict[str, Any]:
    actor = dict(TOKEN_USER, isActive=True, has2fa=False)
    return {
        "id": entry["id"],
        "actor": actor,
        "event": entry["event"],
        "ipAddress": "127.0.0.1",
        "note": entry["note"],
        "targetObject": entry["targetObject"],
        "targetUser": None,
        "data": entry["data"],
        "dateCreated": entry["dateCreated"],
    }


def _cursor(raw: str | None) -> tuple[int | None, int, bool]:
    if not raw:
        return None, 0, False
    parts = raw.split(":")
    if len(parts) != 3:
        raise PaginationError("Invalid cursor parameter.")
    try:
        value, offset, is_prev = int(float(parts[0])), int(parts[1]), bool(int(parts[2]))
    except ValueError as exc:
        raise PaginationError("Invalid cursor parameter.") from exc
    if offset < 0:
        raise PaginationError("Invalid cursor parameter.")
    return value, offset, is_prev


def list_entries(state, org: dict[str, Any], query: dict[str, list[str]], path: str, url_prefix: str, page_size: int):
    """(status, body, headers) of the audit-logs endpoint for `org`."""
    event = (query.get("event") or [None])[-1]
    actor = (query.get("actor") or [None])[-1]
    if actor is not None:
        try:
            actor_id = int(actor)
        except ValueError:
            return 400, {"actor": ["A valid integer is required."]}, {}
    rows = [e for e in _entries(state) if e["org"] == org["slug"]]
    if event:
        rows = [e for e in rows if e["event"] == event]  # unknown names match nothing (queryset.none())
    if actor is not None:
        rows = [e for e in rows if actor_id == int(TOKEN_USER["id"])]
    try:
        per_page = page_length(query, page_size)
    except PaginationError as exc:
        return 400, {"detail": str(exc)}, {}
    try:
        value, offset, is_prev = _cursor((query.get("cursor") or [None])[-1])
    except PaginationError as exc:
        return 400, {"detail": str(exc)}, {}

    def key(entry: dict[str, Any]) -> int:
        return math.ceil(_millis(entry["dateCreated"]))

    ordered = sorted(rows, key=lambda e: (key(e), int(e["id"])), reverse=True)
    if is_prev:
        # Back towards newer entries: the page just above the cursor value.
        newer = [e for e in ordered if value is not None and key(e) > value]
        page = newer[max(0, len(newer) - per_page) :]
        remaining = newer[len(newer) - len(page) :]
    else:
        remaining = [e for e in ordered if value is None or key(e) <= value][offset:]
        page = remaining[:per_page]
    has_next = not is_prev and len(remaining) > len(page)
    if page:
        last = key(page[-1])
        same = sum(1 for e in page if key(e) == last)
        if not is_prev and value == last:
            same += offset  # the whole page shared the cursor's value
        next_cursor = f"{last}:{same}:0"
        prev_cursor = f"{key(page[0])}:0:1"
    else:
        next_cursor = f"{value or 0}:{offset}:0"
        prev_cursor = f"{value or 0}:0:1"
    has_prev = bool(page) and any(key(e) > key(page[0]) for e in ordered)
    header = link_header(url_prefix, path, query, ("previous", prev_cursor, has_prev), ("next", next_cursor, has_next))
    body = {"rows": [_serialize(e) for e in page], "options": API_NAMES}
    return 200, body, {"Link": header}
