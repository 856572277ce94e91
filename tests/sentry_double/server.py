"""HTTP front of the Sentry double: a threaded standard-library server.

Use in-process::

    from tests.sentry_double.server import start_double
    double = start_double()            # 127.0.0.1, free port, fresh state
    double.url, double.token           # base URL (append /api/0/...), admin token (all scopes)
    double.requests                    # [(method, path, status), ...] of API and ingest calls
    double.stop()

Test-only endpoints (not Sentry's) live under ``/__double__/``: ``GET /__double__/requests``
returns the request log as JSON, ``DELETE /__double__/requests`` clears it; ``POST /__double__/faults``
with ``{"method": "PUT", "path": "regex", "status": 503, "count": 2, "delay": 0, "headers": {}, "body": {},
"drop": false, "apply": false}`` makes the next ``count`` matching API calls fail that way
(``double.inject_fault(...)`` in-process): ``delay`` seconds before the answer (a client timeout),
``drop`` closes the connection without an answer, ``apply`` carries the call out first (the server did the
work, the answer got lost). ``DELETE /__double__/faults`` removes pending faults. A dead server is
``double.stop()`` (connections refused).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import ssl
import sys
import threading
import time
import traceback
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .api import Api, ApiError, Request
from .ingest import Ingest, IngestError
from .state import ALL_SCOPES, DEFAULT_ORG_SLUG, State, new_token

DEFAULT_PAGE_SIZE = 5
INGEST_PREFIXES = ("store", "envelope")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, handler, double: Double):
        super().__init__(address, handler)
        self.double = double


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "sentry-double/1"

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.double.verbose:
            super().log_message(format, *args)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None, raw: bytes | None = None) -> None:
        payload = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        self.send_response(status)
        if raw is None and body is not None:
            self.send_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _control(self, what: str, raw: bytes) -> None:
        """The test-control endpoints: DELETE clears the faults or the request log; POST /__double__/faults
        arms a fault; GET /__double__/requests reads the log."""
        double = self.server.double
        if self.command == "DELETE":
            (double.clear_faults if what == "faults" else double.clear_requests)()
            self._send(204, None)
        elif what == "requests":
            self._send(200, [list(entry) for entry in double.requests])
        else:
            try:
                spec = json.loads(raw or b"{}")
                double.inject_fault(**spec)
            except (TypeError, ValueError, re.error) as exc:
                self._send(400, {"detail": f"bad fault: {exc}"})
                return
            self._send(201, spec)

    def _handle(self) -> None:
        double = self.server.double
        parts = urlsplit(self.path)
        path = parts.path
        raw = self._read_body()
        if path == "/_health/":
            self._send(200, None, {"Content-Type": "text/plain"}, raw=b"ok")
            return
        if path in ("/__double__/faults", "/__double__/requests"):
            self._control(path.rsplit("/", 1)[1], raw)
            return
        if self.command in ("POST", "PUT", "DELETE") and path.startswith("/api/0/"):
            double.log_body(self.command, path, raw)
        fault = double.take_fault(self.command, path)
        if fault is not None:
            if fault["apply"]:
                try:
                    self._route(path, parts.query, raw)
                except Exception:  # the fault's answer is sent whatever the route did
                    traceback.print_exc(file=sys.stderr)
            time.sleep(fault["delay"])
            if fault["drop"]:
                double.log(self.command, path, None)
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                return
            status, body, headers = fault["status"], fault["body"], fault["headers"]
        else:
            try:
                status, body, headers = self._route(path, parts.query, raw)
            except Exception:  # a bug in the double must still answer, visibly
                traceback.print_exc(file=sys.stderr)
                status, body, headers = 500, {"detail": "Internal Error"}, {}
        double.log(self.command, path, status)
        self._send(status, body, headers)

    # every verb goes through one path
    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _handle

    def _route(self, path: str, query: str, raw: bytes) -> tuple[int, Any, dict[str, str]]:
        double = self.server.double
        segments = path.strip("/").split("/")
        if len(segments) == 3 and segments[0] == "api" and segments[1].isdigit() and segments[2] in INGEST_PREFIXES:
            if self.command != "POST":
                return 405, {"detail": f'Method "{self.command}" not allowed.'}, {}
            try:
                return double.ingest.handle(segments[2], segments[1], query, self.headers, raw, self.client_address[0])
            except IngestError as exc:
                return exc.status, {"detail": exc.detail}, exc.headers
        if not path.startswith("/api/0/"):
            return 404, {"detail": "Not found."}, {}
        body: Any = None
        multipart = self.headers.get("Content-Type", "").lower().startswith("multipart/")
        if raw.strip() and not multipart:  # multipart bodies (chunk uploads) stay raw
            try:
                body = json.loads(raw)
            except ValueError as exc:
                return 400, {"detail": f"JSON parse error - {exc}"}, {}
        request = Request(
            method=self.command,
            path=path,
            query=parse_qs(query, keep_blank_values=True),
            headers=self.headers,
            body=body,
            raw=raw,
        )
        try:
            return double.api.dispatch(request)
        except ApiError as exc:
            return exc.status, exc.body, exc.headers


class Double:
    """A running double. ``url`` is where it listens; DSNs use ``url_prefix``."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        url_prefix: str | None = None,
        token: str | None = None,
        state_file: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        extra_tokens: dict[str, Iterable[str]] | None = None,
        verbose: bool = False,
        tls: tuple[str, str] | None = None,
        release: str | None = None,
    ):
        self.verbose = verbose
        self.state = State(state_file)
        self.token = token or new_token()
        self.state.add_token(self.token, ALL_SCOPES, name="admin")
        for extra, scopes in (extra_tokens or {}).items():
            self.state.add_token(extra, list(scopes), name="limited")
        self.org_slug = DEFAULT_ORG_SLUG
        self._log_lock = threading.Lock()
        self.requests: list[tuple[str, str, int | None]] = []
        self.bodies: list[tuple[str, str, Any]] = []  # (method, path, parsed JSON body) of every API write
        self._faults: list[dict[str, Any]] = []
        self._server = _Server((host, port), _Handler, self)
        scheme = "http"
        if tls is not None:  # (certificate file, key file): HTTPS, for the clients' certificate checks
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            scheme = "https"
        bound_host, bound_port = self._server.server_address[:2]
        self.url = f"{scheme}://{bound_host}:{bound_port}"
        self.url_prefix = (url_prefix or self.url).rstrip("/")
        self.page_size = page_size
        self.api = Api(self.state, self.url_prefix, page_size)
        if release is not None:
            self.set_release(release)
        self.ingest = Ingest(self.state)
        self.state.save()
        self._thread: threading.Thread | None = None

    # request log
    def log(self, method: str, path: str, status: int | None) -> None:
        with self._log_lock:
            self.requests.append((method, path, status))

    def clear_requests(self) -> None:
        with self._log_lock:
            self.requests.clear()
            self.bodies.clear()

    def log_body(self, method: str, path: str, raw: bytes) -> None:
        try:
            body = json.loads(raw) if raw.strip() else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        with self._log_lock:
            self.bodies.append((method, path, body))

    # fault injection (retries, timeouts, 5xx/429 handling in clients)
    def inject_fault(
        self,
        status: int = 503,
        count: int = 1,
        method: str | None = None,
        path: str | None = None,
        delay: float = 0,
        headers: dict[str, str] | None = None,
        body: Any = None,
        drop: bool = False,
        apply: bool = False,
    ) -> None:
        """Make the next ``count`` requests matching ``method``/``path`` (regex) answer ``status``
        (``drop``: close the connection instead; ``apply``: carry the request out first)."""
        if body is None:
            body = {"detail": "Internal Error"} if status >= 500 else {"detail": "injected fault"}
        with self._log_lock:
            self._faults.append(
                {
                    "status": int(status),
                    "count": int(count),
                    "method": method.upper() if method else None,
                    "path": re.compile(path) if path else None,
                    "delay": float(delay),
                    "headers": {str(k): str(v) for k, v in (headers or {}).items()},
                    "body": body,
                    "drop": bool(drop),
                    "apply": bool(apply),
                }
            )

    def take_fault(self, method: str, path: str) -> dict[str, Any] | None:
        with self._log_lock:
            for fault in self._faults:
                if fault["method"] not in (None, method):
                    continue
                if fault["path"] is not None and not fault["path"].search(path):
                    continue
                fault["count"] -= 1
                if fault["count"] <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def clear_faults(self) -> None:
        with self._log_lock:
            self._faults.clear()

    def set_release(self, release: str) -> None:
        """Imitate this Sentry release: from 26.7.0 on, alerts run on the workflow engine (tests/sentry_double/
        workflows.py); an upgrade in place (23.7.1 -> 26.8.0) leaves the rules made before it unmigrated."""
        from .workflows import set_release

        set_release(self.state, release)

    def add_token(self, token: str, scopes: Iterable[str]) -> None:
        self.state.add_token(token, list(scopes), name="limited")

    def dsn(self, project_slug: str, org_slug: str = DEFAULT_ORG_SLUG) -> str:
        """Public DSN of the oldest active key of a project (convenience for tests)."""
        from .serializers import dsn_block

        with self.state.lock:
            project = self.state.find_project(org_slug, project_slug)
            if project is None:
                raise KeyError(project_slug)
            key = next(k for k in reversed(self.state.keys_of(project["id"])) if k["isActive"])
            return dsn_block(self.url_prefix, project["id"], key["public"], key["secret"])["public"]

    # lifecycle
    def start(self) -> Double:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="sentry-double", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Double:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_double(**options: Any) -> Double:
    """Start the double (keyword options: those of ``Double``) in a background thread and return its handle."""
    return Double(**options).start()


def read_or_create_token(path: str) -> str:
    """Read the admin token from ``path``; create it (0600) with a fresh token when absent."""
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            token = handle.read().strip()
        if token:
            return token
    token = new_token()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(token + "\n")
    return token
