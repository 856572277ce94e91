"""Requests through the TLS proxy reach Sentry (on the local VM: the API double at SENTRY_BIND).

From this machine, over https with the proxy's certificate verified against the CA the
role exported: an authenticated REST API call, and an event that the real Python SDK
sends to the DSN's https URL, then read back through the API.
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest
import sentry_sdk

from tests.e2e.test_tls_helpers import curl, https_endpoint, tls_facts

ORG = "sentry"
PROJECT = "internal"


@pytest.fixture(scope="module")
def cafile(host, tmp_path_factory) -> str | None:
    """The CA that clients trust for this proxy (None: the system store, a public CA)."""
    exported = tls_facts(host)["ca_export_path"]
    if not exported:
        return None
    path = tmp_path_factory.mktemp("ca") / "ca.crt"
    path.write_text(host.file(exported).content_string)
    return str(path)


@pytest.fixture(scope="module")
def token(host, inventory_var) -> str:
    """The admin token the sentry role (on the local VM: the double) writes on the host."""
    try:
        path = inventory_var(host, "sentry_api_token_file")
    except pytest.UsageError:  # the sentry role's variables are not in this inventory
        path = inventory_var(host, "sentry_config_api_token_file")
    return host.file(path).content_string.strip()


@pytest.fixture(scope="module")
def endpoint(host, outside):
    return https_endpoint(host, outside)


def _api(endpoint, cafile, token, path: str, *options: str) -> tuple[int, str]:
    address, port, name = endpoint
    trust = ["--cacert", cafile] if cafile else []
    result = curl(
        address, port, name, path, *trust, "-H", f"Authorization: Bearer {token}", "-w", "\n%{http_code}", *options
    )
    assert result.returncode == 0, result.stderr
    body, _, status = result.stdout.rpartition("\n")
    return int(status), body


def test_authenticated_api_call_through_the_proxy(endpoint, cafile, token):
    status, body = _api(endpoint, cafile, token, f"/api/0/organizations/{ORG}/")
    assert status == 200 and json.loads(body)["slug"] == ORG


def test_api_call_without_a_token_is_rejected_by_sentry(endpoint, cafile):
    address, port, name = endpoint
    trust = ["--cacert", cafile] if cafile else []
    result = curl(address, port, name, f"/api/0/organizations/{ORG}/", *trust, "-o", "/dev/null", "-w", "%{http_code}")
    assert result.stdout == "401"


def test_sdk_event_sent_to_the_dsn_https_url_arrives(endpoint, cafile, token, monkeypatch):
    address, port, name = endpoint
    status, body = _api(endpoint, cafile, token, f"/api/0/projects/{ORG}/{PROJECT}/keys/")
    assert status == 200
    dsn = next(key["dsn"]["public"] for key in json.loads(body) if key["isActive"])
    parts = urlsplit(dsn)
    assert parts.scheme == "https" and parts.hostname == name
    # The DSN names the proxy's https URL; this machine reaches it at address:port.
    dsn = urlunsplit(parts._replace(netloc=f"{parts.username}@{name}:{port}"))
    real_getaddrinfo = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        return real_getaddrinfo(address if host == name else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    marker = f"tls-proxy-e2e-{uuid.uuid4().hex}"
    sentry_sdk.init(dsn=dsn, ca_certs=cafile, default_integrations=False)
    try:
        event_id = sentry_sdk.capture_message(marker)
        sentry_sdk.flush(timeout=10)
    finally:
        sentry_sdk.init(dsn=None)
    deadline = time.monotonic() + 20
    while True:
        status, body = _api(endpoint, cafile, token, f"/api/0/projects/{ORG}/{PROJECT}/events/{event_id}/")
        if status == 200 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert status == 200 and marker in body
