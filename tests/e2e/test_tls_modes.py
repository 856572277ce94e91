"""The tls_proxy role's other certificate modes and its input checks, on the running host.

Only the tls_proxy role is re-converged (deploy/site.yml --tags tls_proxy) with extra
variables: bad input must fail before anything on the host changes; the provided and
internal_ca modes must converge and serve; internal_ca must not regenerate on a rerun.
The last test converges back to the inventory's own settings.
"""

from __future__ import annotations

import datetime
import hashlib
import socket
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.e2e.test_tls_helpers import (
    converge_tls_proxy,
    fetch_served_certificate,
    https_endpoint,
    inventory_name,
    recap,
    snapshot,
    tls_facts,
    verify_served_certificate,
)

pytestmark = pytest.mark.slow

# Everything the role may write: a failed preflight must leave all of it untouched.
WATCHED = (
    "/etc/nginx",
    "/etc/tls_proxy",
    "/etc/letsencrypt",
    "/etc/sentry-bundle",
    "/etc/systemd/system",
    "/usr/local/sbin",
)


def _pem_key(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _pem_cert(cert) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


class OperatorCA:
    """A throwaway CA on this machine that issues the operator's certificate for provided mode."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tls_proxy e2e operator CA")])
        now = datetime.datetime.now(datetime.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(self.key, hashes.SHA256())
        )

    def issue(self, dns_name: str, days: int = 90, key=None) -> tuple[str, str]:
        """(certificate PEM, key PEM) for dns_name; `key` overrides the key returned (not the certified one)."""
        certified = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns_name)]))
            .issuer_name(self.cert.subject)
            .public_key(certified.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns_name)]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        return _pem_cert(cert), _pem_key(key or certified)


@pytest.fixture(scope="module")
def operator_ca() -> OperatorCA:
    return OperatorCA()


@pytest.fixture(scope="module")
def fqdn(host) -> str:
    return tls_facts(host)["fqdn"]


@pytest.fixture(scope="module", autouse=True)
def back_to_the_inventory(host):
    """Whatever happens, leave the host in the inventory's own mode."""
    state = {"restored": False}
    yield state
    if not state["restored"]:
        converge_tls_proxy(inventory_name(host))


def _served_sha256(host, outside) -> str:
    return hashlib.sha256(fetch_served_certificate(*https_endpoint(host, outside))).hexdigest()


def _pem_sha256(pem: str) -> str:
    return hashlib.sha256(
        x509.load_pem_x509_certificate(pem.encode()).public_bytes(serialization.Encoding.DER)
    ).hexdigest()


# ---- bad input: fails before any change ----------------------------------------------------


def _provided(cert: str, key: str, **more: str) -> dict[str, str]:
    """Extra vars of provided mode with this certificate and private key (and `more` variables)."""
    mode = {"tls_proxy_certificate_mode": "provided"}
    return {**mode, "tls_proxy_provided_certificate": cert, "tls_proxy_provided_private_key": key, **more}


def _bad_inputs(ca: OperatorCA, fqdn: str) -> dict[str, tuple[dict, list[str]]]:
    good_cert, _ = ca.issue(fqdn)
    _, other_key = ca.issue(fqdn)
    other_name_cert, other_name_key = ca.issue("other." + fqdn)
    short_cert, short_key = ca.issue(fqdn, days=10)
    provided = {"tls_proxy_certificate_mode": "provided"}
    return {
        "unknown_mode": (
            {"tls_proxy_certificate_mode": "letsencrypt"},
            ["tls_proxy_certificate_mode", "acme", "provided", "internal_ca"],
        ),
        "malformed_fqdn": ({"tls_proxy_fqdn": "Sentry_DermAI..test"}, ["tls_proxy_fqdn"]),
        "unknown_profile": (
            {"tls_proxy_mozilla_profile": "old"},
            ["tls_proxy_mozilla_profile", "intermediate", "modern"],
        ),
        "key_not_matching_certificate": (
            _provided(good_cert, other_key),
            ["tls_proxy_provided_private_key does not match"],
        ),
        "certificate_for_another_fqdn": (_provided(other_name_cert, other_name_key), ["does not name tls_proxy_fqdn"]),
        "certificate_expiring_soon": (_provided(short_cert, short_key), ["tls_proxy_min_days_valid"]),
        "provided_without_certificate": ({**provided}, ["tls_proxy_provided_certificate"]),
        "acme_without_email": (
            {"tls_proxy_certificate_mode": "acme", "tls_proxy_acme_email": ""},
            ["tls_proxy_acme_email"],
        ),
        "body_size_below_100m": ({"tls_proxy_client_max_body_size": "10m"}, ["tls_proxy_client_max_body_size"]),
    }


@pytest.mark.parametrize(
    "case",
    [
        "unknown_mode",
        "malformed_fqdn",
        "unknown_profile",
        "key_not_matching_certificate",
        "certificate_for_another_fqdn",
        "certificate_expiring_soon",
        "provided_without_certificate",
        "acme_without_email",
        "body_size_below_100m",
    ],
)
def test_bad_input_fails_before_any_change(host, operator_ca, fqdn, case):
    extra_vars, expected = _bad_inputs(operator_ca, fqdn)[case]
    before = snapshot(host, *WATCHED)
    result = converge_tls_proxy(inventory_name(host), extra_vars)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    for text in expected:
        assert text in output, f"{text!r} not in the error:\n{output[-3000:]}"
    assert recap(output, inventory_name(host))["changed"] == 0
    assert snapshot(host, *WATCHED) == before


def test_provided_private_key_never_appears_in_the_output(host, operator_ca, fqdn):
    cert, _ = operator_ca.issue(fqdn)
    _, key = operator_ca.issue(fqdn)
    result = converge_tls_proxy(inventory_name(host), _provided(cert, key))
    body = key.splitlines()[1]
    assert result.returncode != 0 and body not in result.stdout + result.stderr


# ---- provided ---------------------------------------------------------------------------------


def test_provided_mode_serves_the_operators_certificate(host, outside, operator_ca, fqdn, tmp_path):
    cert, key = operator_ca.issue(fqdn)
    ca = _pem_cert(operator_ca.cert)
    result = converge_tls_proxy(inventory_name(host), _provided(cert, key, tls_proxy_provided_ca_certificate=ca))
    assert result.returncode == 0, result.stdout[-4000:]
    assert key.splitlines()[1] not in result.stdout + result.stderr
    assert _served_sha256(host, outside) == _pem_sha256(cert)
    exported = tls_facts(host)["ca_export_path"]
    ca_file = tmp_path / "ca.crt"
    ca_file.write_text(host.file(exported).content_string)
    assert _pem_sha256(ca_file.read_text()) == _pem_sha256(_pem_cert(operator_ca.cert))
    assert verify_served_certificate(*https_endpoint(host, outside), str(ca_file)) == "TLSv1.3"


# ---- internal_ca (with the modern profile and ingest rate limiting) ---------------------------

INTERNAL_CA = {
    "tls_proxy_certificate_mode": "internal_ca",
    "tls_proxy_mozilla_profile": "modern",
    "tls_proxy_ingest_rate_limit": True,
    "tls_proxy_ingest_rate": "1r/m",
    "tls_proxy_ingest_burst": 5,
}


@pytest.fixture(scope="module")
def internal_ca_converged(host):
    result = converge_tls_proxy(inventory_name(host), INTERNAL_CA)
    assert result.returncode == 0, result.stdout[-4000:]
    return result


def test_internal_ca_certificate_verifies_with_the_exported_ca(host, outside, internal_ca_converged, tmp_path):
    facts = tls_facts(host)
    assert facts["certificate_mode"] == "internal_ca"
    ca_file = tmp_path / "ca.crt"
    ca_file.write_text(host.file(facts["ca_export_path"]).content_string)
    assert verify_served_certificate(*https_endpoint(host, outside), str(ca_file)) == "TLSv1.3"


def test_modern_profile_refuses_tls12(host, outside, internal_ca_converged):
    address, port, name = https_endpoint(host, outside)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection((address, port), timeout=10) as raw, pytest.raises(ssl.SSLError):
        context.wrap_socket(raw, server_hostname=name)


def _status_codes(host, count: int, request: str) -> list[str]:
    """The HTTP status of `count` curl requests the host makes to its own proxy; `request` ends curl's
    arguments, with {fqdn} for the proxy's name."""
    fqdn = tls_facts(host)["fqdn"]
    return host.check_output(
        f"for i in $(seq {count}); do curl -sk -o /dev/null -w '%{{http_code}} ' --resolve {fqdn}:443:127.0.0.1"
        f" {request.format(fqdn=fqdn)}; done"
    ).split()


def test_ingest_rate_limit_answers_429(host, internal_ca_converged):
    codes = _status_codes(host, 40, "-X POST https://{fqdn}/api/1/envelope/")
    # 40 requests within a minute against 1r/m with a burst of 5: all but about 6 are refused.
    assert codes.count("429") >= 30 and len(codes) == 40, codes


def test_rate_limit_leaves_other_paths_alone(host, internal_ca_converged):
    codes = _status_codes(host, 20, "https://{fqdn}/_health/")
    assert set(codes) == {"200"}, codes


def test_internal_ca_rerun_changes_nothing(host, outside, internal_ca_converged):
    before = _served_sha256(host, outside)
    result = converge_tls_proxy(inventory_name(host), INTERNAL_CA)
    assert result.returncode == 0, result.stdout[-4000:]
    assert recap(result.stdout, inventory_name(host))["changed"] == 0, result.stdout[-6000:]
    assert _served_sha256(host, outside) == before


# ---- back to the inventory's mode ---------------------------------------------------------------


def test_inventory_mode_converges_back(host, outside, back_to_the_inventory):
    result = converge_tls_proxy(inventory_name(host))
    back_to_the_inventory["restored"] = True
    assert result.returncode == 0, result.stdout[-4000:]
    facts = tls_facts(host)
    if facts["ca_export_path"]:
        ca = host.file(facts["ca_export_path"]).content_string
        assert ca.startswith("-----BEGIN CERTIFICATE-----")
    assert https_endpoint(host, outside)[2] == facts["fqdn"]
