"""The bundled nginx, run for real (Debian's nginx) with the configuration the role renders,
passes on the X-Forwarded-Proto the TLS proxy sends, so Django sees https behind the proxy.

An echo server stands where web:9000 (Django) listens and answers with the X-Forwarded-Proto
it received and whether Django's SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
would call the request secure. The configuration is the fixture's nginx.conf and, when a
clone of getsentry/self-hosted is there, upstream's nginx.conf at the pinned tag, each through
the role's filter (nginx_forwarded_proto); upstream's unchanged file is the control.
"""

from __future__ import annotations

import http.server
import importlib.util
import os
import re
import shutil
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.fixtures.self_hosted.build_repo import NGINX_CONF

ROOT = Path(__file__).resolve().parents[3]
_spec = importlib.util.spec_from_file_location(
    "sentry_upgrade", ROOT / "roles" / "sentry" / "filter_plugins" / "sentry_upgrade.py"
)
planner = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(planner)
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
UPSTREAM_REPO = Path(
    os.environ.get("SENTRY_SELF_HOSTED_MIRROR")
    or os.environ.get("SELF_HOSTED_REPO")
    or "/nonexistent-self-hosted-clone"
)
ECHO_PORT, NGINX_PORT = 22011, 22012

pytestmark = pytest.mark.skipif(not Path(NGINX).exists(), reason="Debian's nginx is not installed (make test-deps)")


class Echo(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        proto = self.headers.get("X-Forwarded-Proto", "")
        body = f"proto={proto} secure={proto == 'https'}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def echo():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", ECHO_PORT), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield
    server.shutdown()
    server.server_close()


def _local(conf: str, tmp: Path) -> str:
    """The same configuration, runnable here: loopback ports, files under tmp, no nginx user."""
    conf = re.sub(r"^\s*user\s+\S+;\s*$", "", conf, flags=re.M)
    conf = re.sub(r"^\s*(pid|error_log|access_log)\s+[^;]*;\s*$", "", conf, flags=re.M)
    conf = re.sub(r"server\s+(web:9000|relay:3000);", f"server 127.0.0.1:{ECHO_PORT};", conf)
    conf = re.sub(r"listen\s+80;", f"listen 127.0.0.1:{NGINX_PORT};", conf)
    names = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    temp = "".join(f"\t{name}_temp_path {tmp}/{name};\n" for name in names)
    conf = re.sub(r"^(\s*)http\s*\{", lambda m: f"{m.group(0)}\n\taccess_log off;\n{temp}", conf, count=1, flags=re.M)
    return f"pid {tmp}/nginx.pid;\nerror_log {tmp}/error.log;\n{conf}"


def _serve_and_ask(conf: str, tmp: Path, headers: dict) -> str:
    path = tmp / "nginx.conf"
    path.write_text(_local(conf, tmp))
    test = subprocess.run([NGINX, "-t", "-c", str(path), "-p", str(tmp)], capture_output=True, text=True)
    assert test.returncode == 0, test.stderr
    proc = subprocess.Popen([NGINX, "-c", str(path), "-p", str(tmp), "-g", "daemon off;"], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                request = urllib.request.Request(f"http://127.0.0.1:{NGINX_PORT}/api/0/", headers=headers)
                with urllib.request.urlopen(request, timeout=5) as response:
                    return response.read().decode()
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _confs() -> list[tuple[str, str]]:
    confs = [("fixture", NGINX_CONF)]
    shown = subprocess.run(
        ["git", "-C", str(UPSTREAM_REPO), "show", "26.8.0:nginx.conf"], capture_output=True, text=True
    )
    if shown.returncode == 0:
        confs.append(("upstream 26.8.0", shown.stdout))
    return confs


@pytest.mark.parametrize(("name", "conf"), _confs(), ids=[name for name, _ in _confs()])
def test_https_from_the_tls_proxy_reaches_django_through_the_rendered_conf(echo, tmp_path, name, conf):
    answer = _serve_and_ask(planner.nginx_forwarded_proto(conf), tmp_path, {"X-Forwarded-Proto": "https"})
    assert answer == "proto=https secure=True"


@pytest.mark.parametrize(("name", "conf"), _confs(), ids=[name for name, _ in _confs()])
def test_without_a_forwarded_proto_the_bundled_nginx_still_sends_its_own_scheme(echo, tmp_path, name, conf):
    answer = _serve_and_ask(planner.nginx_forwarded_proto(conf), tmp_path, {})
    assert answer == "proto=http secure=False"


@pytest.mark.parametrize(("name", "conf"), _confs(), ids=[name for name, _ in _confs()])
def test_upstream_s_unchanged_conf_loses_the_https_the_control(echo, tmp_path, name, conf):
    answer = _serve_and_ask(conf, tmp_path, {"X-Forwarded-Proto": "https"})
    assert answer == "proto=http secure=False"
