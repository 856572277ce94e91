"""From outside the Sentry host only SSH, HTTP (ACME + redirect) and HTTPS answer.

The base role's firewall (base_firewall_allowed_tcp_ports) and SENTRY_BIND on loopback
together keep everything else, Sentry's plain-HTTP port above all, unreachable. Every
port the local VM publishes on 127.0.0.1 is probed; on a real inventory `outside()` is
the host's own address.
"""

from __future__ import annotations

import socket
import ssl

import pytest

from tests.e2e.test_tls_helpers import tls_facts

ANSWERING = (22, 80, 443)
# Ports that must not answer: SENTRY_BIND's port and a port nothing is allowed on.
SILENT = (9000, 9999)


def _exchange(address: str, port: int, payload: bytes, timeout: float = 3.0) -> bytes:
    """Send `payload` and return what comes back; b"" when the port is closed, filtered or drops us."""
    try:
        with socket.create_connection((address, port), timeout=timeout) as conn:
            conn.sendall(payload)
            return conn.recv(256)
    except OSError:  # refused, reset or timed out
        return b""


def test_ssh_answers(host, outside):
    address, port = outside(host, 22)
    assert _exchange(address, port, b"").startswith(b"SSH-2.0-")


def test_http_answers(host, outside):
    address, port = outside(host, int(tls_facts(host)["http_port"]))
    assert _exchange(address, port, b"GET / HTTP/1.0\r\nHost: x\r\n\r\n").startswith(b"HTTP/1.1 308")


def test_https_answers_with_a_tls_handshake(host, outside):
    facts = tls_facts(host)
    address, port = outside(host, int(facts["https_port"]))
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection((address, port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=facts["fqdn"]) as tls,
    ):
        assert tls.version() in ("TLSv1.2", "TLSv1.3")


@pytest.mark.parametrize("vm_port", SILENT)
def test_port_gives_no_answer_from_outside(host, outside, vm_port):
    address, port = outside(host, vm_port)
    assert _exchange(address, port, b"GET /_health/ HTTP/1.0\r\n\r\n") == b""


def test_sentry_answers_inside_the_host_on_loopback_only(host):
    # The control for the SENTRY_BIND probe above: Sentry does run, on loopback.
    upstream = tls_facts(host)["upstream"]
    assert host.run(f"curl -sS -o /dev/null -w '%{{http_code}}' http://{upstream}/_health/").stdout == "200"
    assert upstream.startswith("127.")
