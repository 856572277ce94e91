"""Role base: ufw denies incoming traffic except the listed TCP ports, proven from outside."""

from __future__ import annotations

import re
import socket
import time

import pytest

from tests.verify._roles_settings import setting

PROBE_PORT = 9999
PROBE_UNIT = "dermai-firewall-probe"


def test_ufw_is_active(host):
    assert "Status: active" in host.run("ufw status verbose").stdout


def test_ufw_denies_incoming_by_default(host):
    assert "deny (incoming)" in host.run("ufw status verbose").stdout


def test_ufw_allows_exactly_the_listed_tcp_ports(host, inventory_var):
    expected = {int(p) for p in setting(inventory_var, host, "base_firewall_allowed_tcp_ports")}
    rules = host.run("ufw status verbose").stdout
    allowed = {int(m.group(1)) for m in re.finditer(r"^(\d+)/tcp\s+ALLOW IN", rules, re.MULTILINE)}
    assert allowed == expected


def test_ufw_loads_its_rules_at_boot(host):
    assert host.service("ufw").is_enabled
    assert re.search(r"^ENABLED=yes$", host.file("/etc/ufw/ufw.conf").content_string, re.MULTILINE)


@pytest.fixture
def probe_listener(host):
    """An HTTP server on PROBE_PORT inside the host, on every address, for the duration of a test."""
    host.run(f"systemctl stop {PROBE_UNIT}")
    started = host.run(f"systemd-run --unit={PROBE_UNIT} --collect python3 -m http.server {PROBE_PORT} --bind 0.0.0.0")
    assert started.rc == 0, started.stderr
    for _ in range(50):
        if host.socket(f"tcp://0.0.0.0:{PROBE_PORT}").is_listening:
            break
        time.sleep(0.2)
    yield
    host.run(f"systemctl stop {PROBE_UNIT}")


def http_answer(address: str, port: int, timeout: float = 4.0) -> bytes:
    """First bytes of an HTTP answer, b'' when the connection gives none (refused, dropped, closed)."""
    try:
        with socket.create_connection((address, port), timeout=timeout) as conn:
            conn.settimeout(timeout)
            conn.sendall(b"GET / HTTP/1.0\r\nHost: probe\r\n\r\n")
            return conn.recv(64)
    except OSError:
        return b""


def test_probe_listener_answers_inside_the_host(host, probe_listener):
    assert "HTTP/1.0 200" in host.run(f"curl -sS -i --max-time 5 http://127.0.0.1:{PROBE_PORT}/").stdout


def test_port_the_firewall_closes_is_unreachable_from_outside(host, outside, probe_listener, inventory_var):
    assert PROBE_PORT not in {int(p) for p in setting(inventory_var, host, "base_firewall_allowed_tcp_ports")}
    address, port = outside(host, PROBE_PORT)
    assert http_answer(address, port) == b""


def test_allowed_ssh_port_is_reachable_from_outside(host, outside):
    address, port = outside(host, 22)
    with socket.create_connection((address, port), timeout=10) as conn:
        conn.settimeout(10)
        assert conn.recv(64).startswith(b"SSH-2.0-")
