"""acme mode: the certificate from the ACME server (pebble in the local VM) renews.

Renewals run with the environment of Debian's certbot.service (the unit certbot.timer
starts, with the role's drop-in), and the deploy hook puts the new certificate in
service: the certificate seen from outside changes.
"""

from __future__ import annotations

import hashlib
import re
import shlex

import pytest

from tests.e2e.test_tls_helpers import fetch_served_certificate, https_endpoint, tls_facts, verify_served_certificate


@pytest.fixture(scope="module")
def facts(host) -> dict:
    facts = tls_facts(host)
    if facts["certificate_mode"] != "acme":
        pytest.skip(f"the proxy is in {facts['certificate_mode']} mode, not acme")
    return facts


@pytest.fixture(scope="module")
def renewal_env(host, facts) -> str:
    """The environment certbot.service gives renewals, as shell assignments."""
    shown = host.check_output("systemctl show certbot.service --property Environment --value")
    return " ".join(shlex.quote(item) for item in shown.split())


def _certbot(host, renewal_env: str, *args: str):
    # certbot sleeps up to 8 minutes before a renewal without a terminal unless told not to.
    command = ["certbot", *args, "--non-interactive", "--no-random-sleep-on-renew"]
    return host.run(f"env {renewal_env} {shlex.join(command)}")


def test_renewal_environment_trusts_the_acme_server(host, facts, renewal_env):
    bundle = re.search(r"REQUESTS_CA_BUNDLE=(\S+)", renewal_env)
    trust = f"--cacert {bundle.group(1)}" if bundle else ""
    result = host.run(f"curl -sS -o /dev/null -w '%{{http_code}}' {trust} {shlex.quote(facts['acme_directory_url'])}")
    assert result.stdout == "200", result.stderr


def test_renewal_dry_run_passes(host, facts, renewal_env):
    # certbot sends a dry run to Let's Encrypt staging unless --server names the CA.
    result = _certbot(
        host, renewal_env, "renew", "--dry-run", "--cert-name", facts["fqdn"], "--server", facts["acme_directory_url"]
    )
    assert result.rc == 0, result.stdout + result.stderr
    assert "simulated renewals succeeded" in result.stdout + result.stderr


def test_forced_renewal_is_served_after_the_deploy_hook(host, outside, facts, renewal_env, tmp_path):
    address, port, name = https_endpoint(host, outside)
    before = hashlib.sha256(fetch_served_certificate(address, port, name)).hexdigest()
    result = _certbot(host, renewal_env, "renew", "--force-renewal", "--cert-name", facts["fqdn"])
    assert result.rc == 0, result.stdout + result.stderr
    after = hashlib.sha256(fetch_served_certificate(address, port, name)).hexdigest()
    assert after != before
    on_disk = host.check_output(
        f"openssl x509 -in {shlex.quote(facts['certificate_path'])} -outform DER | sha256sum | cut -d' ' -f1"
    )
    assert after == on_disk
    if facts["ca_export_path"]:
        ca = tmp_path / "ca.crt"
        ca.write_text(host.file(facts["ca_export_path"]).content_string)
        assert verify_served_certificate(address, port, name, str(ca)) in ("TLSv1.2", "TLSv1.3")
