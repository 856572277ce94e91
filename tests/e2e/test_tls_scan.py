"""The TLS proxy scanned from outside the VM (testssl.sh, sslscan, Python's ssl, curl).

testssl.sh tests protocols with its own sockets, so TLS 1.0/1.1 are really offered to the
server; sslscan lists the accepted cipher suites; Python's ssl with SECLEVEL=0 proves the
legacy handshake is refused by the server, not by this machine's OpenSSL policy.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import ssl
import subprocess
import xml.etree.ElementTree as ET

import pytest

from tests.e2e.test_tls_helpers import (
    MOZILLA_INTERMEDIATE_CIPHERS,
    TLS13_SUITES,
    curl,
    https_endpoint,
    tls_facts,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def endpoint(host, outside):
    return https_endpoint(host, outside)


@pytest.fixture(scope="module")
def testssl_protocols(endpoint, tmp_path_factory) -> dict[str, str]:
    """testssl.sh --protocols: protocol id -> finding."""
    binary = shutil.which("testssl") or shutil.which("testssl.sh")
    assert binary, "testssl.sh is not installed (Debian package testssl.sh)"
    address, port, name = endpoint
    report = tmp_path_factory.mktemp("testssl") / "protocols.json"
    options = ["--quiet", "--color", "0", "--warnings", "off", "--ip", address, "--protocols"]
    subprocess.run(
        [binary, *options, "--jsonfile", str(report), f"https://{name}:{port}"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return {item["id"]: item["finding"] for item in json.loads(report.read_text())}


@pytest.fixture(scope="module")
def sslscan_ciphers(endpoint) -> dict[str, set[str]]:
    """sslscan: protocol -> accepted cipher suites."""
    assert shutil.which("sslscan"), "sslscan is not installed (Debian package sslscan)"
    address, port, name = endpoint
    out = subprocess.run(
        ["sslscan", "--no-colour", f"--sni-name={name}", "--xml=-", f"{address}:{port}"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    # sslscan's own report, produced on this machine: not untrusted XML.
    root = ET.fromstring(out[out.index("<?xml") :])  # noqa: S314
    accepted: dict[str, set[str]] = {}
    for cipher in root.iter("cipher"):
        if cipher.get("status") in ("accepted", "preferred"):
            accepted.setdefault(cipher.get("sslversion"), set()).add(cipher.get("cipher"))
    return accepted


def test_tls10_is_refused(testssl_protocols):
    assert testssl_protocols["TLS1"] == "not offered"


def test_tls11_is_refused(testssl_protocols):
    assert testssl_protocols["TLS1_1"] == "not offered"


def test_ssl2_and_ssl3_are_refused(testssl_protocols):
    assert testssl_protocols["SSLv2"] == "not offered" and testssl_protocols["SSLv3"] == "not offered"


def test_tls12_follows_the_profile(host, testssl_protocols):
    expected = "not offered" if tls_facts(host)["mozilla_profile"] == "modern" else "offered"
    assert testssl_protocols["TLS1_2"] == expected


def test_tls13_is_accepted(testssl_protocols):
    assert testssl_protocols["TLS1_3"].startswith("offered")


def test_http2_is_offered_by_alpn(testssl_protocols):
    assert "h2" in testssl_protocols.get("ALPN_HTTP2", "")


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
def test_legacy_handshake_fails_even_when_the_client_allows_it(endpoint):
    address, port, name = endpoint
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    # Without SECLEVEL=0 this machine's OpenSSL would refuse TLS 1.0/1.1 itself.
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    context.minimum_version = ssl.TLSVersion.TLSv1
    context.maximum_version = ssl.TLSVersion.TLSv1_1
    with socket.create_connection((address, port), timeout=10) as raw, pytest.raises(ssl.SSLError):
        context.wrap_socket(raw, server_hostname=name)


def test_tls12_ciphers_are_only_the_profile_ciphers(host, sslscan_ciphers):
    tls12 = sslscan_ciphers.get("TLSv1.2", set())
    if tls_facts(host)["mozilla_profile"] == "modern":
        assert tls12 == set()
    else:
        assert tls12 and tls12 <= set(MOZILLA_INTERMEDIATE_CIPHERS), tls12


def test_tls13_suites_are_the_standard_aead_suites(sslscan_ciphers):
    tls13 = sslscan_ciphers.get("TLSv1.3", set())
    assert tls13 and tls13 <= TLS13_SUITES, tls13


def test_no_protocol_below_tls12_has_ciphers(sslscan_ciphers):
    assert not {p for p in sslscan_ciphers if p in {"SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1"}}


def test_hsts_header_is_sent_from_outside(endpoint):
    address, port, name = endpoint
    result = curl(address, port, name, "/_health/", "-k", "-D", "-", "-o", "/dev/null")
    hsts = re.search(r"^strict-transport-security:\s*max-age=(\d+)", result.stdout, re.IGNORECASE | re.MULTILINE)
    assert hsts and int(hsts.group(1)) >= 63072000, result.stdout


def test_port_80_answers_only_with_a_308_redirect(host, outside):
    facts = tls_facts(host)
    address, port = outside(host, int(facts["http_port"]))
    result = curl(
        address,
        port,
        facts["fqdn"],
        "/auth/login/",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{redirect_url}",
        scheme="http",
    )
    assert result.stdout.startswith("308 https://" + facts["fqdn"]), result.stdout + result.stderr
