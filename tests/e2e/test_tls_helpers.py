"""Shared helpers of the tests/e2e/test_tls_*.py probes (this module holds no tests).

The probes run on this machine and reach the VM "from outside" through `outside(host,
port)` (tests/verify/conftest.py, loaded with `-p tests.verify.conftest`): on the local VM
that is 127.0.0.1 and the published port; the https name is given as SNI / Host.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import ssl
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FACTS = "/etc/ansible/facts.d/tls_proxy.fact"

# Mozilla server-side TLS guideline 6.0: TLS 1.2 ciphers of the intermediate profile, in the profile's order
# (tests/verify/test_tls_proxy.py checks nginx's ssl_ciphers against it).
MOZILLA_INTERMEDIATE_CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-CHACHA20-POLY1305",
)
# TLS 1.3 cipher suites both profiles accept (OpenSSL's defaults, which Mozilla keeps).
TLS13_SUITES = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}


def tls_facts(host) -> dict:
    """What the tls_proxy role recorded on the host (ansible_local.tls_proxy)."""
    return json.loads(host.file(FACTS).content_string)


def https_endpoint(host, outside) -> tuple[str, int, str]:
    """(address, port, server name) of the proxy's https listener, seen from this machine."""
    facts = tls_facts(host)
    address, port = outside(host, int(facts["https_port"]))
    return address, port, facts["fqdn"]


def fetch_served_certificate(address: str, port: int, server_name: str) -> bytes:
    """DER of the certificate the proxy presents for `server_name` (no verification)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection((address, port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=server_name) as tls,
    ):
        return tls.getpeercert(binary_form=True)


def verify_served_certificate(address: str, port: int, server_name: str, cafile: str) -> str:
    """Handshake verifying chain and name against `cafile`; returns the negotiated protocol."""
    context = ssl.create_default_context(cafile=cafile)
    with (
        socket.create_connection((address, port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=server_name) as tls,
    ):
        return tls.version()


def curl(
    address: str, port: int, server_name: str, path: str, *options: str, scheme: str = "https"
) -> subprocess.CompletedProcess:
    """curl to https://server_name:port/path, connecting to address (SNI and Host = server_name)."""
    url = f"{scheme}://{server_name}:{port}{path}"
    command = ["curl", "-sS", "--max-time", "15", "--resolve", f"{server_name}:{port}:{address}", *options, url]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def ansible_env() -> dict[str, str]:
    """The venv's Ansible with this checkout's ansible.cfg (unless ANSIBLE_CONFIG is set), output without colour."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    plain = {"ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"}
    return {"ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), **os.environ, "PATH": path, **plain}


def inventory_dir() -> str:
    return os.environ.get("INVENTORY", "inventories/local")


def converge_tls_proxy(limit: str, extra_vars: dict | None = None, check: bool = False) -> subprocess.CompletedProcess:
    """Converge only the tls_proxy role of deploy/site.yml on `limit`, with extra variables."""
    command = ["ansible-playbook", "-i", inventory_dir(), "deploy/site.yml", "--tags", "tls_proxy", "--limit", limit]
    if extra_vars:
        command += ["-e", json.dumps(extra_vars)]
    if check:
        command += ["--check", "--diff"]
    return subprocess.run(command, capture_output=True, text=True, env=ansible_env(), cwd=REPO, check=False)


def recap(output: str, name: str) -> dict[str, int]:
    """Counters of `name` in a PLAY RECAP (the last one if several plays ran)."""
    lines = re.findall(r"^" + re.escape(name) + r"\s+:\s+(.*)$", output, re.MULTILINE)
    assert lines, f"no PLAY RECAP line for {name}:\n{output[-3000:]}"
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", lines[-1])}


def inventory_name(host) -> str:
    return host.backend.host


def snapshot(host, *paths: str) -> str:
    """Fingerprint of every file under `paths` on the host: names, modes, sizes, mtimes and checksums."""
    quoted = " ".join(shlex.quote(p) for p in paths)
    return host.check_output(
        f'for p in {quoted}; do [ -e "$p" ] && find "$p" -xdev -printf \'%p %m %s %T@\\n\''
        f" -type f -exec sha256sum {{}} +; done 2>/dev/null | sort; true"
    )
