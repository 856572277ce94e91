"""Event ingestion: /api/<project_id>/store/ and /api/<project_id>/envelope/.

What Relay does for these, reduced to what the bundle relies on:
- the client key comes from ``X-Sentry-Auth`` (``Sentry sentry_key=...``), the ``sentry_key``
  query parameter, or the envelope header's ``dsn``;
- the key must belong to the project in the URL and be active;
- the key's rate limit (count per window, error categories) answers 429 with ``Retry-After`` and
  ``X-Sentry-Rate-Limits: <seconds>:default;error;security:key:key_quota``;
- events are normalised and scrubbed with Sentry's data-scrubbing settings (organisation and
  project merged as in src/sentry/datascrubbing.py) through sentry_relay before they are stored.
"""

from __future__ import annotations

import copy
import gzip
import json
import time
import uuid
import zlib
from typing import Any
from urllib.parse import parse_qs, urlsplit

import sentry_relay

from .state import State, now_iso

ERROR_CATEGORIES = "default;error;security"


class IngestError(Exception):
    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}


def decode_body(raw: bytes, encoding: str | None) -> bytes:
    encoding = (encoding or "").strip().lower()
    if encoding in ("", "identity"):
        return raw
    if encoding == "gzip":
        return gzip.decompress(raw)
    if encoding == "deflate":
        try:
            return zlib.decompress(raw)
        except zlib.error:
            return zlib.decompress(raw, -zlib.MAX_WBITS)
    raise IngestError(415, f"unsupported content encoding {encoding!r}")


def key_from_auth_header(value: str | None) -> str | None:
    if not value:
        return None
    text = value.strip()
    if text.lower().startswith("sentry "):
        text = text[7:]
    for part in text.split(","):
        name, _, val = part.strip().partition("=")
        if name.strip() == "sentry_key":
            return val.strip()
    return None


def key_from_dsn(dsn: str | None) -> str | None:
    if not dsn:
        return None
    parts = urlsplit(dsn)
    return parts.username or None


def parse_envelope(body: bytes) -> tuple[dict[str, Any], list[tuple[dict[str, Any], bytes]]]:
    """Split an envelope into its header and (item header, payload) pairs."""
    newline = body.find(b"\n")
    header_line = body if newline < 0 else body[:newline]
    try:
        header = json.loads(header_line or b"{}")
    except ValueError as exc:
        raise IngestError(400, "invalid envelope header") from exc
    rest = b"" if newline < 0 else body[newline + 1 :]
    items = []
    while rest.strip():
        newline = rest.find(b"\n")
        item_line = rest if newline < 0 else rest[:newline]
        rest = b"" if newline < 0 else rest[newline + 1 :]
        if not item_line.strip():
            continue
        try:
            item_header = json.loads(item_line)
        except ValueError as exc:
            raise IngestError(400, "invalid item header") from exc
        length = item_header.get("length")
        if length is not None:
            payload, rest = rest[:length], rest[length:]
            if rest.startswith(b"\n"):
                rest = rest[1:]
        else:
            newline = rest.find(b"\n")
            payload = rest if newline < 0 else rest[:newline]
            rest = b"" if newline < 0 else rest[newline + 1 :]
        items.append((item_header, payload))
    return header, items


def _decode(value: Any) -> dict[str, Any] | None:
    if not value:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return None


def _prefixed(prefix: str, config: dict[str, Any] | None, merged: dict[str, Any]) -> None:
    """Merge one relayPiiConfig into ``merged`` with rule names prefixed (org before project)."""
    if not config:
        return
    rules = config.get("rules") or {}
    for name, rule in rules.items():
        rule = copy.deepcopy(rule)
        if isinstance(rule, dict) and rule.get("type") == "multiple" and rule.get("rules"):
            rule["rules"] = [prefix + r if r in rules else r for r in rule["rules"]]
        if isinstance(rule, dict) and rule.get("type") == "alias" and rule.get("rule") in rules:
            rule["rule"] = prefix + rule["rule"]
        merged.setdefault("rules", {})[prefix + name] = rule
    for selector, applications in (config.get("applications") or {}).items():
        target = merged.setdefault("applications", {}).setdefault(selector, [])
        target.extend(prefix + a if a in rules else a for a in applications)


def pii_configs(org: dict[str, Any], project: dict[str, Any]) -> list[dict[str, Any]]:
    """The PII configs Sentry applies: merged advanced rules, then the converted legacy settings."""
    return pii_configs_from_options(org["options"], project["options"])


def pii_configs_from_options(org_opts: dict[str, Any], proj_opts: dict[str, Any]) -> list[dict[str, Any]]:
    """The same from the option names the API serves (GET organization / project details).

    Tests read a Sentry's settings back through its API and rebuild what Relay receives with
    this, so the scrubbing they check is the one that server would apply.
    """
    merged: dict[str, Any] = {}
    _prefixed("organization:", _decode(org_opts.get("relayPiiConfig")), merged)
    _prefixed("project:", _decode(proj_opts.get("relayPiiConfig")), merged)
    settings = {
        "excludeFields": list(org_opts.get("safeFields") or []) + list(proj_opts.get("safeFields") or []),
        "scrubData": bool(org_opts.get("dataScrubber")) or bool(proj_opts.get("dataScrubber", True)),
        "scrubIpAddresses": bool(org_opts.get("scrubIPAddresses")) or bool(proj_opts.get("scrubIPAddresses")),
        "sensitiveFields": list(org_opts.get("sensitiveFields") or []) + list(proj_opts.get("sensitiveFields") or []),
        "scrubDefaults": bool(org_opts.get("dataScrubberDefaults"))
        or bool(proj_opts.get("dataScrubberDefaults", True)),
    }
    configs = [merged] if merged else []
    converted = sentry_relay.convert_datascrubbing_config(settings)
    if converted:
        configs.append(converted)
    return configs


def _fill_ip(event: dict[str, Any], client_ip: str) -> None:
    user = event.get("user")
    if isinstance(user, dict) and user.get("ip_address") == "{{auto}}":
        user["ip_address"] = client_ip
    sdk = event.get("sdk")
    if isinstance(sdk, dict) and sdk.get("client_ip") == "{{auto}}":
        sdk["client_ip"] = client_ip


def scrub_event(
    event: dict[str, Any], configs: list[dict[str, Any]], project_id: int = 1, client_ip: str = "127.0.0.1"
) -> dict[str, Any]:
    """Normalise, then apply each PII config in turn (Relay normalises before it scrubs)."""
    _fill_ip(event, client_ip)
    normalizer = sentry_relay.StoreNormalizer(project_id=project_id, client_ip=client_ip)
    event = normalizer.normalize_event(event)
    for config in configs:
        event = sentry_relay.pii_strip_event(config, event)
    return event


def process_event(event: dict[str, Any], org: dict, project: dict, client_ip: str) -> dict[str, Any]:
    return scrub_event(event, pii_configs(org, project), int(project["id"]), client_ip)


# How many events the double keeps (oldest dropped first).
MAX_STORED_EVENTS = 200


class Ingest:
    """Authenticates, rate-limits, scrubs and stores events for the server."""

    def __init__(self, state: State):
        self.state = state

    def _key_for(self, project_id: str, public: str | None) -> dict[str, Any]:
        if not public:
            raise IngestError(401, "missing authorization information")
        key = self.state.data["keys"].get(public)
        if key is None or key["project"] != project_id:
            raise IngestError(403, "event submission rejected with_reason: ProjectId")
        if not key["isActive"]:
            raise IngestError(403, "event submission rejected with_reason: DisabledKey")
        return key

    def _check_rate(self, key: dict[str, Any]) -> None:
        limit = key.get("rateLimit") or {}
        count, window = limit.get("count"), limit.get("window")
        if not count or not window:
            return
        now = int(time.time())
        bucket = now // window
        current_bucket, used = self.state.rate_windows.get(key["public"], (bucket, 0))
        if current_bucket != bucket:
            used = 0
        if used >= count:
            retry = max(1, (bucket + 1) * window - now)
            raise IngestError(
                429,
                "event submission rejected with_reason: key_quota",
                {"Retry-After": str(retry), "X-Sentry-Rate-Limits": f"{retry}:{ERROR_CATEGORIES}:key:key_quota"},
            )
        self.state.rate_windows[key["public"]] = (bucket, used + 1)

    def _store(self, project: dict, org: dict, payload: dict[str, Any], size: int, client_ip: str) -> str:
        event = process_event(payload, org, project, client_ip)
        event_id = (event.get("event_id") or uuid.uuid4().hex).replace("-", "")
        received = now_iso()
        events = self.state.data["events"]
        # A bounded store, like a retention window: the state file is rewritten on every event,
        # so an unbounded one would make each request slower than the last (a load test sends
        # thousands). The oldest events go first (dicts keep insertion order).
        while len(events) >= MAX_STORED_EVENTS:
            events.pop(next(iter(events)))
        events[f"{project['id']}:{event_id}"] = {
            "event_id": event_id,
            "project": project["id"],
            "dateReceived": received,
            "size": size,
            "data": event,
        }
        environment = event.get("environment")
        if environment:
            envs = self.state.data["environments"].setdefault(org["slug"], [])
            if environment not in envs:
                envs.append(environment)
        if project.get("firstEvent") is None:
            project["firstEvent"] = received
        return event_id

    def handle(self, kind: str, project_id: str, query: str, headers, body: bytes, client_ip: str):
        """Return (status, json body, extra headers)."""
        body = decode_body(body, headers.get("Content-Encoding"))
        params = parse_qs(query)
        public = key_from_auth_header(headers.get("X-Sentry-Auth"))
        public = public or (params.get("sentry_key") or [None])[0]
        envelope_header: dict[str, Any] = {}
        items: list[tuple[dict[str, Any], bytes]] = []
        if kind == "envelope":
            envelope_header, items = parse_envelope(body)
            public = public or key_from_dsn(envelope_header.get("dsn"))
        with self.state.lock:
            project = self.state.data["projects"].get(project_id)
            key = self._key_for(project_id, public)
            if project is None:
                raise IngestError(403, "event submission rejected with_reason: ProjectId")
            org = self.state.data["orgs"][project["org"]]
            if kind == "store":
                try:
                    payload = json.loads(body)
                except ValueError as exc:
                    raise IngestError(400, "invalid event payload") from exc
                self._check_rate(key)
                event_id = self._store(project, org, payload, len(body), client_ip)
                self.state.save()
                return 200, {"id": event_id}, {}
            event_items = [(h, p) for h, p in items if h.get("type") in ("event", "transaction")]
            stored_id = envelope_header.get("event_id")
            for item_header, payload in event_items:
                if item_header.get("type") == "event":
                    self._check_rate(key)
                try:
                    data = json.loads(payload)
                except ValueError as exc:
                    raise IngestError(400, "invalid event payload") from exc
                if item_header.get("type") == "transaction":
                    data.setdefault("type", "transaction")
                data.setdefault("event_id", stored_id)
                stored_id = self._store(project, org, data, len(payload), client_ip)
            self.state.save()
            return 200, ({"id": stored_id} if stored_id else {}), {}
