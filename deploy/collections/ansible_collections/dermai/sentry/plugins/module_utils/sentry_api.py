# Copyright: DermAI
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared REST client and reconcile helpers for the dermai.sentry modules.

PRIVATE to this collection: the interface may change without notice.

Everything that talks HTTP lives here (one client class, one error path); the
module files only build the desired state, call the client and report.
"""

from __future__ import annotations

import json
import os
import random
import re
import socket
import ssl
import time
from urllib.parse import quote, urlencode

from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible.module_utils.urls import ConnectionError as UrlsConnectionError
from ansible.module_utils.urls import open_url

API_PREFIX = "/api/0/"
USER_AGENT = "dermai.sentry-ansible"
RETRY_STATUSES = frozenset((429, 500, 502, 503, 504))
MASK = "********"
TOKEN_REJECTED = "token rejected: check sentry_config_api_token / the token file"  # noqa: S105 - a message, not a secret

# Seconds slept between retries; tests replace it so they never wait.
SLEEP = time.sleep

# URL templates (path segments are quoted by SentryClient.path()).
URL_ORG = "organizations/{org}/"
URL_ORG_TEAMS = "organizations/{org}/teams/"
URL_TEAM = "teams/{org}/{team}/"
URL_TEAM_PROJECTS = "teams/{org}/{team}/projects/"
URL_PROJECT = "projects/{org}/{project}/"
URL_PROJECT_TEAM = "projects/{org}/{project}/teams/{team}/"
URL_KEYS = "projects/{org}/{project}/keys/"
URL_KEY = "projects/{org}/{project}/keys/{key}/"
URL_RULES = "projects/{org}/{project}/rules/"
URL_RULE = "projects/{org}/{project}/rules/{rule}/"
URL_ALERT_RULES = "organizations/{org}/alert-rules/"
URL_ALERT_RULE = "organizations/{org}/alert-rules/{rule}/"
URL_ORG_APPS = "organizations/{org}/sentry-apps/"
URL_APPS = "sentry-apps/"
URL_APP = "sentry-apps/{app}/"
URL_APP_TOKENS = "sentry-apps/{app}/api-tokens/"
URL_APP_TOKEN = "sentry-apps/{app}/api-tokens/{token}/"  # noqa: S105 - a URL template

_LINK_RE = re.compile(r"<(?P<url>[^>]*)>(?P<params>[^,]*)")
_PARAM_RE = re.compile(r';\s*(?P<key>[a-z]+)="(?P<value>[^"]*)"')


def sentry_argument_spec():
    """Connection options shared by every module (documented in the dermai.sentry.sentry doc fragment).

    `token` has no spec fallback: SENTRY_AUTH_TOKEN is read in SentryClient.from_module only when neither
    token nor token_file is given, so that token/token_file can stay mutually exclusive.
    """
    return dict(
        url=dict(type="str", required=True, no_log=False, fallback=(_env_fallback, ["SENTRY_URL"])),
        token=dict(type="str", no_log=True),
        token_file=dict(type="path", no_log=False),
        validate_certs=dict(type="bool", default=True),
        ca_path=dict(type="path"),
        timeout=dict(type="int", default=30),
        retries=dict(type="int", default=5),
        retry_deadline=dict(type="float", fallback=(_env_fallback, ["SENTRY_RETRY_DEADLINE"])),
    )


# Scope each call needs (the first one that suffices), by (method, path pattern relative to /api/0/).
# From Sentry's permission classes: OrganizationPermission, OrganizationTeamsPermission, TeamPermission,
# ProjectPermission, ProjectAlertRulePermission, OrganizationAlertRulePermission, OrganizationWorkflowPermission.
_SCOPES = (
    (r"^organizations/[^/]+/$", {"GET": "org:read", "PUT": "org:write"}),
    (r"^organizations/[^/]+/teams/$", {"GET": "org:read", "POST": "team:write"}),
    (r"^teams/[^/]+/[^/]+/$", {"GET": "team:read", "PUT": "team:write", "DELETE": "team:admin"}),
    (r"^teams/[^/]+/[^/]+/projects/$", {"GET": "project:read", "POST": "project:write"}),
    (r"^projects/[^/]+/[^/]+/rules/", {"GET": "alerts:read", "*": "alerts:write"}),
    (r"^projects/[^/]+/[^/]+/teams/", {"*": "project:write"}),
    (r"^projects/[^/]+/[^/]+/keys/", {"GET": "project:read", "*": "project:write"}),
    (r"^projects/[^/]+/[^/]+/$", {"GET": "project:read", "PUT": "project:write", "DELETE": "project:admin"}),
    (
        r"^organizations/[^/]+/(alert-rules|workflows|detectors|alert-rule-workflow|alert-rule-detector)/",
        {"GET": "alerts:read", "*": "alerts:write"},
    ),
)


def required_scope(method, path):
    """The token scope a call needs, for the 403 message (None when unknown)."""
    for pattern, by_method in _SCOPES:
        if re.match(pattern, path):
            return by_method.get(method, by_method.get("*"))
    return None


def _env_fallback(*names):
    # Imported lazily so this file stays importable without AnsibleModule.
    from ansible.module_utils.basic import env_fallback

    return env_fallback(*names)


class SentryAPIError(Exception):
    """An API call failed for good (after retries). The message never contains the token."""

    def __init__(self, method, path, status, detail, body=None, ambiguous=False):
        self.ambiguous = ambiguous  # the server may have applied the call (timeout, 5xx)
        self.method = method
        self.path = path
        self.status = status
        self.detail = detail
        self.body = body
        self.missing_scope = None
        if status == 401:
            text = f"Sentry API {method} {path}: HTTP 401 {TOKEN_REJECTED}"
        elif status == 403:
            self.missing_scope = required_scope(
                method, path[len(API_PREFIX) :] if path.startswith(API_PREFIX) else path
            )
            text = f"Sentry API {method} {path}: HTTP 403: {detail}"
            if self.missing_scope:
                text += f" (the token lacks scope {self.missing_scope}, or the token's user lacks the role for it)"
        elif status is None:
            text = f"Sentry API {method} {path}: {detail}"
        else:
            text = f"Sentry API {method} {path}: HTTP {status}: {detail}"
        super().__init__(text)


def _detail(body):
    """The most useful text of an error body: DRF's `detail`, else the field map, else the raw text."""
    if isinstance(body, dict):
        if "detail" in body:
            return str(body["detail"])
        return json.dumps(body, sort_keys=True)
    if isinstance(body, list):
        return json.dumps(body)
    text = (body or "").strip()
    return text[:500] if text else "(empty body)"


def _parse_body(raw):
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    try:
        return json.loads(text)
    except ValueError:
        return text


def next_cursor(link_header):
    """Cursor of the `rel="next"` link when it says results="true", else None."""
    if not link_header:
        return None
    for match in _LINK_RE.finditer(link_header):
        params = {m.group("key"): m.group("value") for m in _PARAM_RE.finditer(match.group("params"))}
        if params.get("rel") == "next":
            if params.get("results") != "true":
                return None
            if params.get("cursor"):
                return params["cursor"]
            query = match.group("url").partition("?")[2]
            for part in query.split("&"):
                key, _sep, value = part.partition("=")
                if key == "cursor" and value:
                    return value
    return None


def _retry_after(headers):
    value = headers.get("Retry-After") if headers is not None else None
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


class SentryClient:
    """Small REST client for Sentry's /api/0/ built on ansible.module_utils.urls.open_url."""

    def __init__(
        self,
        url,
        token,
        validate_certs=True,
        ca_path=None,
        timeout=30,
        retries=5,
        backoff=1.0,
        max_backoff=30.0,
        retry_deadline=None,
    ):
        self.base = url.rstrip("/")
        if self.base.endswith("/api/0"):
            self.base = self.base[: -len("/api/0")]
        self._token = token
        self.validate_certs = validate_certs
        self.ca_path = ca_path
        self.timeout = timeout
        self.retries = max(0, int(retries))
        self.backoff = backoff
        self.max_backoff = max_backoff
        # Absolute UTC epoch seconds after which no call is retried: one retry budget for a whole run.
        self.retry_deadline = retry_deadline

    @classmethod
    def from_module(cls, module):
        p = module.params
        return cls(
            p["url"],
            module_token(module),
            validate_certs=p["validate_certs"],
            ca_path=p["ca_path"],
            timeout=p["timeout"],
            retries=p["retries"],
            retry_deadline=p.get("retry_deadline"),
        )

    @staticmethod
    def path(template, **segments):
        """An API path (relative to /api/0/) with every segment quoted."""
        return template.format(**{k: quote(str(v), safe="") for k, v in segments.items()})

    # --- transport ---------------------------------------------------------------------------
    def _open(self, method, full_url, data):
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        return open_url(
            full_url,
            data=data,
            headers=headers,
            method=method,
            validate_certs=self.validate_certs,
            ca_path=self.ca_path,
            timeout=self.timeout,
            http_agent=USER_AGENT,
            follow_redirects="safe",
        )

    def _delay(self, attempt, headers):
        wait = _retry_after(headers)
        if wait is None:
            wait = min(self.max_backoff, self.backoff * (2**attempt)) * (0.5 + random.random() / 2)  # noqa: S311
        return min(wait, 300.0)

    def _may_retry(self, attempt, delay):
        """A retry is allowed while this call has retries left and the run's deadline is not reached."""
        if attempt >= self.retries:
            return False
        return self.retry_deadline is None or time.time() + delay < float(self.retry_deadline)

    def _spent(self, attempt):
        text = f"after {attempt + 1} attempts"
        if self.retry_deadline is not None and attempt < self.retries:
            text += "; the run's retry budget (retry_deadline) is used up"
        return text

    def request(self, method, path, body=None, query=None, retry_ambiguous=True):
        """Send one API call (with retries). Returns (status, parsed body, headers).

        HTTP 429, 5xx, timeouts and dropped connections are retried (at most `retries` times, never past
        `retry_deadline`); a refused connection or a name that does not resolve fails at once. With
        retry_ambiguous=False only HTTP 429 is retried; a timeout, a dropped connection or a 5xx raises at
        once with `ambiguous=True` so the caller can look before it creates again (see create_verified).
        """
        shown = API_PREFIX + path
        full_url = self.base + shown
        if query:
            full_url += "?" + urlencode(query, doseq=True)
        data = json.dumps(body).encode("utf-8") if body is not None else None
        attempt = 0
        while True:
            status, payload, headers, problem, refused = None, None, None, None, False
            try:
                resp = self._open(method, full_url, data)
                status = resp.getcode()
                payload = _parse_body(resp.read())
                headers = resp.headers
            except HTTPError as err:
                status = err.code
                headers = err.headers
                try:
                    payload = _parse_body(err.read())
                except Exception:  # a half-closed error body must not hide the status
                    payload = None
            except (URLError, TimeoutError, OSError, UrlsConnectionError) as err:
                reason = getattr(err, "reason", err)
                if isinstance(reason, ssl.SSLError) or isinstance(err, ssl.SSLError):
                    # A certificate problem does not heal by retrying.
                    raise SentryAPIError(
                        method,
                        shown,
                        None,
                        f"TLS verification failed: {reason}; set ca_path to the CA certificate that signed the "
                        "server's certificate (validate_certs: false only for a throwaway test server)",
                    ) from None
                refused = isinstance(reason, ConnectionRefusedError) or isinstance(err, ConnectionRefusedError)
                if refused or isinstance(reason, socket.gaierror) or isinstance(err, socket.gaierror):
                    # Nothing listens there (or the name does not resolve): retrying only delays the failure.
                    what = "connection refused" if refused else "name does not resolve"
                    raise SentryAPIError(
                        method,
                        shown,
                        None,
                        f"cannot reach Sentry at {self.base}: {what} ({reason}); check url and that Sentry runs",
                    ) from None
                problem = f"connection to {self.base} failed: {reason}"
            if problem is None and status < 400:
                return status, payload, headers
            retryable = problem is not None or status in RETRY_STATUSES
            ambiguous = problem is not None or (status is not None and status >= 500)
            if not retry_ambiguous and ambiguous:
                retryable = False
            delay = self._delay(attempt, headers) if retryable else 0.0
            if not retryable or not self._may_retry(attempt, delay):
                if problem is not None:
                    text = f"{problem} ({self._spent(attempt)})"
                    raise SentryAPIError(method, shown, None, text, ambiguous=ambiguous)
                detail = _detail(payload)
                if retryable:
                    detail += f" ({self._spent(attempt)})"
                raise SentryAPIError(method, shown, status, detail, payload, ambiguous=ambiguous)
            SLEEP(delay)
            attempt += 1

    # --- verbs ---------------------------------------------------------------------------------
    def get(self, path, query=None, missing_ok=False):
        """GET one object; None on 404 when missing_ok."""
        try:
            return self.request("GET", path, query=query)[1]
        except SentryAPIError as err:
            if missing_ok and err.status == 404:
                return None
            raise

    def get_all(self, path, query=None, per_page=100):
        """GET a list endpoint, following Link rel="next" cursors until results="false"."""
        items = []
        params = dict(query or {})
        params["per_page"] = per_page
        seen = set()
        while True:
            _status, page, headers = self.request("GET", path, query=params)
            if isinstance(page, list):
                items.extend(page)
            cursor = next_cursor(headers.get("Link") if headers is not None else None)
            if not cursor or cursor in seen:
                return items
            seen.add(cursor)
            params["cursor"] = cursor

    def post(self, path, body):
        return self.request("POST", path, body=body)

    def create_verified(self, path, body, find):
        """POST a create that must not run twice: after an ambiguous failure (timeout, dropped connection,
        5xx) call find() and return what it finds before posting again. Returns the created object."""
        attempt = 0
        while True:
            try:
                return self.request("POST", path, body=body, retry_ambiguous=False)[1]
            except SentryAPIError as err:
                delay = self._delay(attempt, None)
                if not err.ambiguous or not self._may_retry(attempt, delay):
                    raise
                SLEEP(delay)
                found = find()
                if found is not None:
                    return found
                attempt += 1

    def put(self, path, body):
        return self.request("PUT", path, body=body)[1]

    def delete(self, path, missing_ok=True):
        try:
            self.request("DELETE", path)
        except SentryAPIError as err:
            if missing_ok and err.status == 404:
                return False
            raise
        return True


# --- comparison helpers --------------------------------------------------------------------------
def canon(value):
    """Canonical form for comparison: numbers and numeric strings compare equal, dict keys sorted."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    if isinstance(value, dict):
        return {k: canon(v) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [canon(v) for v in value]
    return value


# Lists Sentry matches case-insensitively (and the project endpoint stores lower-cased).
CASELESS_FIELDS = frozenset(("sensitiveFields",))


def canon_set(values, caseless=False):
    """A list whose order does not matter."""
    values = [v.strip().lower() if caseless and isinstance(v, str) else v for v in (values or [])]
    return sorted(json.dumps(canon(v), sort_keys=True) for v in values)


def included(desired, current):
    """True when every key of `desired` has the same canonical value in `current` (recursively for dicts)."""
    if isinstance(desired, dict):
        if not isinstance(current, dict):
            return False
        return all(included(v, current.get(k)) for k, v in desired.items())
    return canon(desired) == canon(current)


def match_nodes(desired, current, strip=()):
    """Lists of rule nodes are equal when each desired node is included in a distinct current node (any order)."""
    desired = desired or []
    current = [{k: v for k, v in node.items() if k not in strip} for node in (current or [])]
    if len(desired) != len(current):
        return False
    unused = list(range(len(current)))
    for node in desired:
        hit = next((i for i in unused if included(node, current[i])), None)
        if hit is None:
            return False
        unused.remove(hit)
    return True


def parse_pii(value):
    """Sentry stores relayPiiConfig as a JSON string (or null / ""): the parsed dict, {} when unset."""
    if value in (None, ""):
        return {}
    if isinstance(value, dict):
        return value
    try:
        parsed = json.loads(value)
    except ValueError:
        return {"_unparsable": value}
    return parsed if isinstance(parsed, dict) else {"_unparsable": value}


def dump_pii(value):
    """The JSON string Sentry wants for a relayPiiConfig dict ("" clears it)."""
    return json.dumps(value, sort_keys=True) if value else ""


def fields_differ(desired, current, set_fields=(), pii_fields=()):
    """Names of the API fields whose desired value differs from the server's, after normalisation."""
    changed = []
    for field, want in desired.items():
        have = current.get(field)
        if field in pii_fields:
            same = parse_pii(want) == parse_pii(have)
        elif field in set_fields:
            caseless = field in CASELESS_FIELDS
            same = canon_set(want, caseless) == canon_set(have, caseless)
        else:
            same = included(want, have)
        if not same:
            changed.append(field)
    return changed


def project(current, fields, pii_fields=()):
    """The managed part of a server object, for diff output (relayPiiConfig parsed to a dict)."""
    out = {}
    for field in fields:
        value = (current or {}).get(field)
        out[field] = parse_pii(value) if field in pii_fields else value
    return out


def oldest_first(items):
    """Objects sorted by numeric id, oldest first: Sentry lists keys and rules newest first, never rely on it."""
    return sorted(
        items, key=lambda o: (0, int(o["id"]), "") if str(o.get("id", "")).isdigit() else (1, 0, str(o.get("id")))
    )


def fail(module, err, **extra):
    """The single failure path for API errors (never includes the token)."""
    if getattr(err, "missing_scope", None):
        extra.setdefault("missing_scope", err.missing_scope)
    module.fail_json(msg=str(err), status=getattr(err, "status", None), **extra)


def execute(module, converge):
    """The common tail of every module's main(): a client from the connection options, converge(module,
    client) -> result, one failure path for API errors, exit."""
    client = SentryClient.from_module(module)
    try:
        result = converge(module, client)
    except SentryAPIError as err:
        fail(module, err)
    module.exit_json(**result)


def first_line(path):
    """The first line of a file (a token file), stripped; OSError when it cannot be read."""
    with open(path, encoding="utf-8") as handle:
        return handle.readline().strip()


def module_token(module):
    """The token: option `token`, else the first line of `token_file` (read where the module runs), else
    the environment variable SENTRY_AUTH_TOKEN."""
    p = module.params
    if p.get("token"):
        return p["token"]
    if p.get("token_file"):
        try:
            token = first_line(p["token_file"])
        except OSError as err:
            module.fail_json(msg=f"token_file {p['token_file']}: cannot read it ({err.strerror})")
        if not token:
            module.fail_json(msg=f"token_file {p['token_file']} is empty")
        return token
    token = os.environ.get("SENTRY_AUTH_TOKEN")
    if not token:
        module.fail_json(msg="one of token or token_file is required (or the environment variable SENTRY_AUTH_TOKEN)")
    return token


# --- module scaffolding ---------------------------------------------------------------------------
def build_module(argument_spec, **kwargs):
    """An AnsibleModule with the shared connection options added to the module's own spec."""
    from ansible.module_utils.basic import AnsibleModule

    spec = sentry_argument_spec()
    spec.update(argument_spec)
    kwargs["mutually_exclusive"] = [*kwargs.get("mutually_exclusive", []), ("token", "token_file")]
    return AnsibleModule(argument_spec=spec, supports_check_mode=True, **kwargs)


def camel_payload(params, mapping, pii_fields=()):
    """{apiField: value} for every option the user set; PII configs become the JSON string Sentry wants."""
    payload = {}
    for opt, api in mapping.items():
        value = params.get(opt)
        if value is None:
            continue
        payload[api] = dump_pii(value) if api in pii_fields else value
    return payload


def update_settings(module, client, path, current, desired, set_fields=(), pii_fields=(), on_error=None):
    """PUT only the fields that differ, then re-read. Returns (changed, end_state, diff)."""
    changed_fields = fields_differ(desired, current, set_fields, pii_fields)
    before = project(current, sorted(desired), pii_fields)
    if not changed_fields:
        return False, current, None
    after = dict(before)
    for field in changed_fields:
        after[field] = parse_pii(desired[field]) if field in pii_fields else desired[field]
    diff = {"before": before, "after": after}
    if module.check_mode:
        end = dict(current)
        end.update({f: desired[f] for f in changed_fields})
        return True, end, diff
    body = {f: desired[f] for f in changed_fields}
    try:
        client.put(path, body)
    except SentryAPIError as err:
        if on_error is not None:
            on_error(err)
        raise
    end = client.get(path)
    still = fields_differ({f: desired[f] for f in changed_fields}, end, set_fields, pii_fields)
    if still:
        module.fail_json(
            msg=f"Sentry accepted the update of {path} but did not store {', '.join(sorted(still))} "
            "(unknown or ignored fields: check the Sentry version and the token's scopes)",
            diff=diff,
        )
    return True, end, diff
