"""The real Sentry's web UI, seen through the sandbox VM's TLS proxy with headless Chromium.

Run after `make sandbox-real` (same LOCAL_VM_NAME / LOCAL_VM_PORT_OFFSET):

    .venv/bin/pytest tests/sandbox -p no:cacheprovider

Skips, saying why, when no real-mode sandbox runs. Screenshots go to .artifacts/sandbox/.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import socket
import ssl
from pathlib import Path

import pytest
import requests
import urllib3.util.connection
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.sandbox.browser import CHROMIUM, Browser

ROOT = Path(__file__).resolve().parents[2]
FQDN = "sentry.dermai.test"
VM = os.environ.get("LOCAL_VM_NAME", "dermai-sentry-vm")
PORT = 8443 + int(os.environ.get("LOCAL_VM_PORT_OFFSET", "0"))
STATE = ROOT / ".local-vm"
CA = STATE / f"{VM}-ca.crt"
PASSWORD_FILE = STATE / "secrets" / "sentry_admin_password"
ADMIN = "admin@dermai.test"
ORG = os.environ.get("SANDBOX_ORG", "sentry")
PROJECTS = ("dermai-api", "dermai-web")
SHOTS = ROOT / ".artifacts" / "sandbox"


def sandbox_mode() -> str:
    mode = STATE / f"{VM}-sandbox-mode"
    return mode.read_text().strip() if mode.exists() else ""


@pytest.fixture(scope="module")
def sandbox():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (Debian's chromium; make test-deps)")
    if sandbox_mode() != "real":
        pytest.skip(f"no real-mode sandbox for VM {VM} (run make sandbox-real first)")
    try:
        socket.create_connection(("127.0.0.1", PORT), timeout=5).close()
    except OSError:
        pytest.skip(f"the sandbox VM {VM} does not answer on 127.0.0.1:{PORT} (make sandbox-real)")
    if not CA.exists() or not PASSWORD_FILE.exists():
        pytest.skip(f"sandbox state missing: {CA} / {PASSWORD_FILE}")
    SHOTS.mkdir(parents=True, exist_ok=True)
    # The URL without a port, as on a real host: Sentry's CSRF check compares the Referer with the
    # Host nginx passes on ($host, no port). The connection goes to 127.0.0.1:PORT (resolve_fqdn).
    return {"url": f"https://{FQDN}"}


def served_certificate() -> x509.Certificate:
    context = ssl.create_default_context(cafile=str(CA))
    # The handshake verifies the chain against the exported CA and the name.
    with (
        socket.create_connection(("127.0.0.1", PORT), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=FQDN) as tls,
    ):
        return x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))


def spki_hash(cert: x509.Certificate) -> str:
    spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


@pytest.fixture(autouse=True)
def resolve_fqdn(monkeypatch):
    """FQDN resolves to 127.0.0.1 in this process (as --resolve does for curl); SNI and the
    certificate check still use FQDN."""
    original = urllib3.util.connection.create_connection

    def create_connection(address, *args, **kwargs):
        host, port = address
        if host == FQDN:
            host, port = "127.0.0.1", PORT
        return original((host, port), *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", create_connection)


def https_session() -> requests.Session:
    """requests to https://FQDN (connected to 127.0.0.1:PORT), verified against the sandbox's CA."""
    http = requests.Session()
    http.trust_env = False  # REQUESTS_CA_BUNDLE would replace the sandbox's CA
    http.verify = str(CA)
    return http


def signed_in_session(base: str) -> requests.Session:
    """Sign in through the proxy with Sentry's own login form, as a browser would."""
    http = https_session()
    page = http.get(f"{base}/auth/login/", timeout=60)
    page.raise_for_status()
    csrf = http.cookies.get("sc") or re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    answer = http.post(
        f"{base}/auth/login/",
        data={
            "op": "login",
            "username": ADMIN,
            "password": PASSWORD_FILE.read_text().strip(),
            "csrfmiddlewaretoken": csrf,
        },
        headers={"Referer": f"{base}/auth/login/"},
        allow_redirects=False,
        timeout=60,
    )
    assert answer.status_code == 302, f"sign-in answered {answer.status_code}: {answer.text[:300]}"
    # Signed in: the session (not a token) may read the organization.
    me = http.get(f"{base}/api/0/organizations/{ORG}/", timeout=60)
    assert me.status_code == 200, f"the signed-in session cannot read organization {ORG}: {me.status_code}"
    return http


def test_proxy_serves_sentry_with_a_certificate_the_exported_ca_verifies(sandbox):
    cert = served_certificate()
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert FQDN in names
    health = https_session().get(f"{sandbox['url']}/_health/", timeout=30)
    assert health.status_code == 200
    assert "strict-transport-security" in {k.lower() for k in health.headers}


def test_login_page_and_projects_page_over_https(sandbox):
    base = sandbox["url"]
    trust = [spki_hash(served_certificate())]
    http = signed_in_session(base)
    with Browser(resolve={FQDN: f"127.0.0.1:{PORT}"}, trust_spki=trust) as browser:
        browser.navigate(f"{base}/auth/login/")
        browser.wait_for_text("Sign in to continue", "Account", "Password")
        assert browser.url().startswith(f"https://{FQDN}")
        assert "Sentry" in browser.evaluate("document.title")
        browser.screenshot(SHOTS / "login.png")

        browser.set_cookie("sentrysid", http.cookies["sentrysid"], FQDN)
        browser.navigate(f"{base}/organizations/{ORG}/projects/")
        browser.wait_for_text(*PROJECTS)
        assert "/auth/login" not in browser.url()
        browser.screenshot(SHOTS / "projects.png")
    for shot in ("login.png", "projects.png"):
        data = (SHOTS / shot).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 10_000, shot
    shutil.copy(CA, SHOTS / "ca.crt")
