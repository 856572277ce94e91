"""A small, controllable fake of Sentry's /api/0/ for the module tests.

Two jobs: (1) a fallback behaviour backend while tests/sentry_double is not importable, and (2) the
controllable server for client-fault tests (401, 404, 409, 429 with Retry-After, 5xx, cut connections,
small pages). It follows Sentry's shapes (status codes, Link cursors, what the server adds to rule
nodes and triggers) as described in /work/shared/notes/reference/api.md; the faithful double is
tests/sentry_double.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import secrets
import ssl
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

TOKEN = "sntryu_" + "ab" * 32


class Fault:
    """Answer `times` matching requests with a canned response (status None = drop the connection).

    apply=True carries the request out first (the server did the work, then the answer got lost).
    """

    def __init__(self, method, path_re, status, body=None, headers=None, times=1, delay=0.0, apply=False):
        self.method, self.path_re, self.status, self.apply = method, re.compile(path_re), status, apply
        self.body, self.headers, self.times, self.delay = body, headers or {}, times, delay


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # clients that time out or reject the certificate on purpose are expected here


class FakeSentry:
    def __init__(self, page_size=100, tls=None):
        self.page_size = page_size
        self.requests = []  # (method, path, status)
        self.bodies = []  # (method, path, parsed body) of writes
        self.faults = []
        self.ids = itertools.count(2)
        self.org = {
            "id": "1",
            "slug": "sentry",
            "name": "Sentry",
            "dataScrubber": False,
            "dataScrubberDefaults": False,
            "scrubIPAddresses": False,
            "sensitiveFields": [],
            "safeFields": [],
            "storeCrashReports": 0,
            "relayPiiConfig": None,
            "enhancedPrivacy": False,
            "allowSharedIssues": True,
            "attachmentsRole": "member",
            "debugFilesRole": "admin",
            "scrapeJavaScript": True,
            "openMembership": True,
            "require2FA": False,
        }
        self.user_has_2fa = False
        self.teams = {"sentry": {"id": "1", "slug": "sentry", "name": "Sentry"}}
        self.projects = {}
        self.keys = {}  # project slug -> [key]
        self.rules = {}  # project slug -> [rule]
        self.alert_rules = []
        self._server = _QuietServer(("127.0.0.1", 0), self._handler())
        scheme = "http"
        if tls is not None:  # (certfile, keyfile)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self._server.server_address[1]}"
        self.token = TOKEN
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def stop(self):
        self._server.shutdown()
        self._server.server_close()

    def writes(self):
        return [r for r in self.requests if r[0] in ("POST", "PUT", "DELETE")]

    # --- object factories ---------------------------------------------------------------------
    def new_key(self, project, name):
        public, secret = secrets.token_hex(16), secrets.token_hex(16)
        host = self.url.split("://", 1)[1]
        return {
            "id": public,
            "name": name,
            "label": name,
            "public": public,
            "secret": secret,
            "projectId": int(project["id"]),
            "isActive": True,
            "rateLimit": None,
            "dateCreated": f"2026-11-29T00:00:{next(self.ids):02d}.000Z",
            "dsn": {
                "public": f"http://{public}@{host}/{project['id']}",
                "secret": f"http://{public}:{secret}@{host}/{project['id']}",
            },
        }

    def add_project(self, slug, team="sentry", platform=None, name=None):
        project = {
            "id": str(next(self.ids)),
            "slug": slug,
            "name": name or slug,
            "platform": platform,
            "teams": [dict(self.teams[team])],
            "dataScrubber": True,
            "dataScrubberDefaults": True,
            "scrubIPAddresses": False,
            "sensitiveFields": [],
            "safeFields": [],
            "storeCrashReports": None,
            "relayPiiConfig": None,
            "allowedDomains": ["*"],
            "resolveAge": 0,
            "subjectPrefix": "",
        }
        self.projects[slug] = project
        self.keys[slug] = [self.new_key(project, "Default")]
        self.rules[slug] = []
        return project

    # --- HTTP ---------------------------------------------------------------------------------
    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _any(self):
                method = self.command
                parts = urlsplit(self.path)
                path = parts.path
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                for fault in fake.faults:
                    if fault.times > 0 and fault.method == method and fault.path_re.search(path):
                        fault.times -= 1
                        if fault.apply:
                            fake.route(method, path, query, body)
                        fake.requests.append((method, path, fault.status))
                        if fault.delay:
                            time.sleep(fault.delay)
                        if fault.status is None:
                            self.close_connection = True
                            self.connection.shutdown(2)
                            return
                        return self._send(fault.status, fault.body, fault.headers)
                if self.headers.get("Authorization") != f"Bearer {fake.token}":
                    fake.requests.append((method, path, 401))
                    return self._send(401, {"detail": "Invalid token"})
                if method in ("POST", "PUT", "DELETE"):
                    fake.bodies.append((method, path, copy.deepcopy(body)))
                status, payload, headers = fake.route(method, path, query, body)
                fake.requests.append((method, path, status))
                self._send(status, payload, headers)

            do_GET = do_POST = do_PUT = do_DELETE = _any

            def _send(self, status, payload, headers=None):
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def page(self, rows, query, path):
        offset = int(query.get("cursor", "0:0:0").split(":")[1])
        size = min(int(query.get("per_page", 100)), self.page_size)
        chunk = rows[offset : offset + size]
        more = offset + size < len(rows)
        link = (
            f'<https://sentry.example{path}?cursor=0:{max(0, offset - size)}:1>; rel="previous"; '
            f'results="{"true" if offset else "false"}"; cursor="0:{max(0, offset - size)}:1", '
            f'<https://sentry.example{path}?cursor=0:{offset + size}:0>; rel="next"; '
            f'results="{"true" if more else "false"}"; cursor="0:{offset + size}:0"'
        )
        return 200, chunk, {"Link": link}

    def route(self, method, path, query, body):
        nf = (404, {"detail": "The requested resource does not exist"}, None)
        m = re.fullmatch(r"/api/0/organizations/sentry/", path)
        if m:
            if method == "GET":
                return 200, self.org, None
            if body.get("require2FA") and not self.user_has_2fa:
                return 400, {"require2FA": ["Cannot require two-factor authentication without personal 2FA."]}, None
            if "sensitiveFields" in body and any(not s for s in body["sensitiveFields"]):
                return 400, {"sensitiveFields": ["Empty values are not allowed."]}, None
            self.org.update(body)
            return 200, self.org, None
        if re.fullmatch(r"/api/0/organizations/[^/]+/", path):
            return nf
        if path == "/api/0/organizations/sentry/teams/":
            if method == "GET":
                return self.page(list(self.teams.values()), query, path)
            slug = body["slug"]
            if slug in self.teams:
                return 409, {"detail": "A team with this slug already exists."}, None
            self.teams[slug] = {"id": str(next(self.ids)), "slug": slug, "name": body.get("name") or slug}
            return 201, self.teams[slug], None
        m = re.fullmatch(r"/api/0/teams/sentry/([^/]+)/", path)
        if m:
            team = self.teams.get(m[1])
            if team is None:
                return nf
            if method == "GET":
                return 200, team, None
            if method == "PUT":
                team.update({k: v for k, v in body.items() if k in ("name", "slug")})
                return 200, team, None
            del self.teams[m[1]]
            return 204, None, None
        m = re.fullmatch(r"/api/0/teams/sentry/([^/]+)/projects/", path)
        if m:
            if m[1] not in self.teams:
                return nf
            slug = body.get("slug") or body["name"]
            if slug in self.projects:
                return 409, {"detail": "A project with this slug already exists."}, None
            if body.get("default_rules", True):
                return 400, {"detail": "fake: tests expect default_rules=false"}, None
            return 201, self.add_project(slug, m[1], body.get("platform"), body.get("name")), None
        m = re.fullmatch(r"/api/0/projects/sentry/([^/]+)/teams/([^/]+)/", path)
        if m:
            self.projects[m[1]]["teams"].append(dict(self.teams[m[2]]))
            return 201, self.projects[m[1]], None
        m = re.fullmatch(r"/api/0/projects/sentry/([^/]+)/", path)
        if m:
            project = self.projects.get(m[1])
            if project is None:
                return nf
            if method == "GET":
                return 200, project, None
            if method == "DELETE":
                del self.projects[m[1]]
                return 204, None, None
            if body.get("allowedDomains") == []:
                return 400, {"allowedDomains": ["Empty value will block all requests, use * to accept from all"]}, None
            if "sensitiveFields" in body:
                body["sensitiveFields"] = [s.strip().lower() for s in body["sensitiveFields"]]
            if isinstance(body.get("subjectPrefix"), str):
                # DRF CharField(trim_whitespace=True) in ProjectAdminSerializer.
                body["subjectPrefix"] = body["subjectPrefix"].strip()
            project.update(body)
            return 200, project, None
        m = re.fullmatch(r"/api/0/projects/sentry/([^/]+)/keys/", path)
        if m:
            if m[1] not in self.projects:
                return nf
            keys = self.keys[m[1]]
            if method == "GET":
                # Like Sentry's ProjectKeysEndpoint (order_by="-id"): newest key first.
                return self.page(keys[::-1], query, path)
            key = self.new_key(self.projects[m[1]], body.get("name"))
            rate = body.get("rateLimit")
            if rate and rate.get("window") and rate.get("count"):
                key["rateLimit"] = rate
            keys.append(key)
            return 201, key, None
        m = re.fullmatch(r"/api/0/projects/sentry/([^/]+)/keys/([^/]+)/", path)
        if m:
            key = next((k for k in self.keys.get(m[1], []) if k["id"] == m[2]), None)
            if key is None:
                return nf
            if method == "GET":
                return 200, key, None
            if method == "DELETE":
                self.keys[m[1]].remove(key)
                return 204, None, None
            if "name" in body:
                key["name"] = key["label"] = body["name"]
            if "isActive" in body:
                key["isActive"] = body["isActive"]
            if "rateLimit" in body:
                rate = body["rateLimit"]
                key["rateLimit"] = rate if rate and rate.get("window") and rate.get("count") else None
            return 200, key, None
        m = re.fullmatch(r"/api/0/projects/sentry/([^/]+)/rules/", path)
        if m:
            if m[1] not in self.projects:
                return nf
            if method == "GET":
                return self.page(self.rules[m[1]], query, path)
            rule = self.store_rule(body, {"id": str(next(self.ids))})
            self.rules[m[1]].append(rule)
            return 200, rule, None
        m = re.fullmatch(r"/api/0/projects/sentry/([^/]+)/rules/([^/]+)/", path)
        if m:
            rules = self.rules.get(m[1], [])
            rule = next((r for r in rules if r["id"] == m[2]), None)
            if rule is None:
                return nf
            if method == "GET":
                return 200, rule, None
            if method == "DELETE":
                rules.remove(rule)
                return 202, None, None
            new = self.store_rule(body, {"id": rule["id"]})
            rules[rules.index(rule)] = new
            return 200, new, None
        if path == "/api/0/organizations/sentry/alert-rules/":
            if method == "GET":
                return self.page(self.alert_rules, query, path)
            rule = self.store_alert_rule(body, {"id": str(next(self.ids))})
            self.alert_rules.append(rule)
            return 201, rule, None
        m = re.fullmatch(r"/api/0/organizations/sentry/alert-rules/([^/]+)/", path)
        if m:
            rule = self.find(self.alert_rules, m[1])
            if rule is None:
                return nf
            if method == "GET":
                return 200, rule, None
            if method == "DELETE":
                self.alert_rules.remove(rule)
                return 202, None, None
            new = self.store_alert_rule(body, {"id": rule["id"]})
            self.alert_rules[self.alert_rules.index(rule)] = new
            return 200, new, None
        return nf

    @staticmethod
    def find(rows, rid):
        return next((r for r in rows if r["id"] == rid), None)

    @staticmethod
    def store_rule(body, base):
        """Like Sentry: nodes gain a human `name`, actions a `uuid`."""
        rule = dict(base, **{k: v for k, v in body.items() if k not in ("conditions", "filters", "actions")})
        for kind in ("conditions", "filters", "actions"):
            rule[kind] = [dict(n, name=f"label of {n['id'].rsplit('.', 1)[-1]}") for n in body.get(kind) or []]
        for action in rule["actions"]:
            action["uuid"] = str(uuid.uuid4())
        rule.setdefault("owner", None)
        rule.setdefault("environment", None)
        return rule

    def store_alert_rule(self, body, base):
        """Like Sentry: thresholds as floats, triggers/actions get ids, dates and descriptions."""
        rule = dict(base, **{k: v for k, v in body.items() if k != "triggers"})
        rule.setdefault("thresholdPeriod", 1)
        rule.setdefault("queryType", 0)
        rule.setdefault("owner", None)
        rule["triggers"] = []
        for trig in body.get("triggers") or []:
            stored = dict(trig, id=trig.get("id") or str(next(self.ids)), alertRuleId=rule["id"])
            stored["alertThreshold"] = float(trig["alertThreshold"])
            stored["resolveThreshold"] = body.get("resolveThreshold")
            stored["thresholdType"] = body.get("thresholdType", 0)
            stored["actions"] = [
                dict(
                    a,
                    id=a.get("id") or str(next(self.ids)),
                    alertRuleTriggerId=stored["id"],
                    targetIdentifier=str(a.get("targetIdentifier")),
                    integrationId=None,
                    sentryAppId=None,
                    desc=f"Send a notification to {a.get('targetType')}",
                )
                for a in trig.get("actions") or []
            ]
            rule["triggers"].append(stored)
        return rule
