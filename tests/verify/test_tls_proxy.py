"""The TLS reverse proxy on the Sentry host (role tls_proxy), checked on the host itself.

The role records what it set up in /etc/ansible/facts.d/tls_proxy.fact; the tests read
that file, so the same suite runs against the local VM and any other inventory. Probes
that must come from outside the host live in tests/e2e/test_tls_*.py.
"""

from __future__ import annotations

import json
import re
import shlex
import uuid

import pytest

# The facts file and Mozilla's intermediate TLS 1.2 cipher list, as the outside probes use them.
from tests.e2e.test_tls_helpers import FACTS, MOZILLA_INTERMEDIATE_CIPHERS

# Variables whose values can carry query strings, referrers or cookies (PHI) into a log.
PHI_LOG_VARIABLES = [
    "$request ",
    '$request"',
    "$request_uri",
    "$args",
    "$query_string",
    "$http_referer",
    "$http_cookie",
]


@pytest.fixture(scope="module")
def tls(host) -> dict:
    facts = host.file(FACTS)
    assert facts.exists, f"{FACTS} is missing: the tls_proxy role has not run on this host"
    return json.loads(facts.content_string)


@pytest.fixture(scope="module")
def nginx_config(host) -> str:
    """The whole configuration nginx loads (nginx -T)."""
    return host.check_output("nginx -T 2>/dev/null")


def _https_server_block(config: str, fqdn: str) -> str:
    """The text of the server block that serves `fqdn` over TLS."""
    match = re.search(r"server\s*\{[^{}]*?listen\s+\d+\s+ssl[^{}]*?server_name\s+" + re.escape(fqdn) + r";", config)
    assert match, f"no TLS server block with server_name {fqdn} in nginx -T"
    depth, end = 0, match.start()
    for end in range(match.start(), len(config)):
        depth += {"{": 1, "}": -1}.get(config[end], 0)
        if depth == 0 and config[end] == "}":
            break
    return config[match.start() : end + 1]


def _directive(block: str, name: str) -> list[str]:
    return [m.strip() for m in re.findall(r"^\s*" + re.escape(name) + r"\s+([^;]*);", block, re.MULTILINE)]


def _curl(host, url: str, *options: str) -> str:
    command = ["curl", "-sS", "--max-time", "10", *options, url]
    return host.check_output(shlex.join(command))


def _resolve(tls: dict) -> list[str]:
    return ["--resolve", f"{tls['fqdn']}:{tls['https_port']}:127.0.0.1"]


def _trust(tls: dict) -> list[str]:
    """curl options to trust the exported CA (private CAs) or the system store (public CAs)."""
    return ["--cacert", tls["ca_export_path"]] if tls["ca_export_path"] else []


def _https_url(tls: dict, path: str) -> str:
    port = "" if int(tls["https_port"]) == 443 else f":{tls['https_port']}"
    return f"https://{tls['fqdn']}{port}{path}"


# ---- nginx package and service ------------------------------------------------------------


def test_nginx_package_is_installed(host):
    assert host.package("nginx").is_installed


def test_nginx_service_is_running_and_enabled(host):
    service = host.service("nginx")
    assert service.is_running and service.is_enabled


def test_nginx_configuration_passes_nginx_t(host):
    assert host.run("nginx -t").rc == 0


def test_https_port_is_listening(host, tls):
    assert host.socket(f"tcp://0.0.0.0:{tls['https_port']}").is_listening


def test_distribution_default_site_is_disabled(host):
    assert not host.file("/etc/nginx/sites-enabled/default").exists


# ---- TLS profile -------------------------------------------------------------------------


def test_protocols_follow_the_mozilla_profile(tls, nginx_config):
    expected = "TLSv1.3" if tls["mozilla_profile"] == "modern" else "TLSv1.2 TLSv1.3"
    assert _directive(_https_server_block(nginx_config, tls["fqdn"]), "ssl_protocols") == [expected]


def test_tls12_ciphers_are_exactly_the_intermediate_list(tls, nginx_config):
    if tls["mozilla_profile"] != "intermediate":
        pytest.skip("the modern profile has no TLS 1.2 ciphers")
    ciphers = _directive(_https_server_block(nginx_config, tls["fqdn"]), "ssl_ciphers")
    assert ciphers == [":".join(MOZILLA_INTERMEDIATE_CIPHERS)]


def test_server_lets_the_client_choose_among_the_profile_ciphers(tls, nginx_config):
    assert _directive(_https_server_block(nginx_config, tls["fqdn"]), "ssl_prefer_server_ciphers") == ["off"]


def test_hsts_header_is_configured_with_always(tls, nginx_config):
    block = _https_server_block(nginx_config, tls["fqdn"])
    lines = re.findall(r"^\s*add_header\s+Strict-Transport-Security\s+(.*)$", block, re.MULTILINE)
    assert lines and all(line.rstrip().endswith("always;") for line in lines)


def test_http2_is_enabled_on_the_tls_listener(tls, nginx_config):
    block = _https_server_block(nginx_config, tls["fqdn"])
    listens = _directive(block, "listen")
    assert _directive(block, "http2") == ["on"] or all("http2" in listen for listen in listens)


def test_server_version_is_hidden(nginx_config):
    assert "server_tokens off;" in nginx_config


# ---- proxying ----------------------------------------------------------------------------


def test_client_max_body_size_is_at_least_100m(tls, nginx_config):
    (size,) = _directive(_https_server_block(nginx_config, tls["fqdn"]), "client_max_body_size")
    number, unit = re.fullmatch(r"(\d+)([kKmMgG]?)", size).groups()
    assert int(number) * {"": 1, "k": 2**10, "m": 2**20, "g": 2**30}[unit.lower()] >= 100 * 2**20


def test_host_and_forwarded_headers_are_passed_to_sentry(tls, nginx_config):
    headers = _directive(_https_server_block(nginx_config, tls["fqdn"]), "proxy_set_header")
    assert {"Host $host", "X-Forwarded-For $remote_addr", "X-Forwarded-Proto https"} <= set(headers)


def test_upstream_connections_are_kept_alive(tls, nginx_config):
    block = _https_server_block(nginx_config, tls["fqdn"])
    upstream = re.search(r"upstream\s+tls_proxy_sentry\s*\{([^}]*)\}", nginx_config)
    assert upstream and re.search(r"keepalive\s+[1-9]\d*;", upstream.group(1))
    assert _directive(block, "proxy_http_version") == ["1.1"]
    assert 'Connection ""' in _directive(block, "proxy_set_header")


def test_upstream_is_the_configured_sentry_bind(tls, nginx_config):
    upstream = re.search(r"upstream\s+tls_proxy_sentry\s*\{([^}]*)\}", nginx_config)
    assert upstream and _directive(upstream.group(1), "server") == [tls["upstream"]]


def test_health_endpoint_answers_through_the_proxy(host, tls):
    status = _curl(
        host, _https_url(tls, "/_health/"), *_resolve(tls), *_trust(tls), "-o", "/dev/null", "-w", "%{http_code}"
    )
    assert status == "200"


def test_hsts_header_is_sent_with_two_years_max_age(host, tls):
    headers = _curl(host, _https_url(tls, "/_health/"), *_resolve(tls), *_trust(tls), "-D", "-", "-o", "/dev/null")
    hsts = re.search(r"^strict-transport-security:\s*(.+?)\s*$", headers, re.IGNORECASE | re.MULTILINE)
    assert hsts, headers
    assert int(re.search(r"max-age=(\d+)", hsts.group(1)).group(1)) >= 63072000
    assert ("includesubdomains" in hsts.group(1).lower()) == bool(tls["hsts_include_subdomains"])


def test_ingest_paths_send_cors_headers(host, tls):
    if not tls["ingest_cors"]:
        pytest.skip("tls_proxy_ingest_cors is off")
    headers = _curl(
        host,
        _https_url(tls, "/api/1/envelope/"),
        *_resolve(tls),
        *_trust(tls),
        "-X",
        "OPTIONS",
        "-D",
        "-",
        "-o",
        "/dev/null",
    )
    origins = re.findall(r"^access-control-allow-origin:\s*(\S+)", headers, re.IGNORECASE | re.MULTILINE)
    assert origins == ["*"], headers


# ---- port 80 -----------------------------------------------------------------------------


def test_plain_http_redirects_with_308_to_https(host, tls):
    out = _curl(
        host,
        f"http://127.0.0.1:{tls['http_port']}/organizations/?q=1",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{redirect_url}",
    )
    assert out == f"308 {_https_url(tls, '/organizations/?q=1')}"


def test_plain_http_serves_acme_challenges_without_redirect(host, tls):
    url = f"http://127.0.0.1:{tls['http_port']}/.well-known/acme-challenge/not-a-token-{uuid.uuid4().hex}"
    assert _curl(host, url, "-o", "/dev/null", "-w", "%{http_code}") == "404"


# ---- access log --------------------------------------------------------------------------


def test_log_format_has_no_query_string_referrer_or_cookie(nginx_config):
    formats = re.findall(r"log_format\s+tls_proxy_privacy\s+(.*?);", nginx_config, re.DOTALL)
    assert formats and "$uri" in formats[0]
    assert not [v for v in PHI_LOG_VARIABLES if v in formats[0]]


def test_access_log_uses_the_privacy_format(tls, nginx_config):
    logs = _directive(_https_server_block(nginx_config, tls["fqdn"]), "access_log")
    # Every log the server writes uses the format; only /_health/ is not logged at all.
    assert set(logs) == {f"{tls['access_log']} tls_proxy_privacy", "off"}


def test_access_log_does_not_record_query_strings(host, tls):
    marker = f"phi-{uuid.uuid4().hex}"
    _curl(host, _https_url(tls, f"/_health/?patient={marker}"), *_resolve(tls), *_trust(tls), "-o", "/dev/null")
    # /_health/ is not logged; the redirect on port 80 is.
    _curl(host, f"http://127.0.0.1:{tls['http_port']}/issues/?query={marker}", "-o", "/dev/null")
    log = host.file(tls["access_log"]).content_string
    assert "/issues/" in log and marker not in log


# ---- certificate -------------------------------------------------------------------------


def test_private_key_is_readable_by_root_only(host, tls):
    key = host.file(tls["private_key_path"])
    assert key.user == "root" and key.mode & 0o077 == 0


def test_served_certificate_verifies_for_the_fqdn(host, tls):
    trust = f"-CAfile {shlex.quote(tls['ca_export_path'])}" if tls["ca_export_path"] else ""
    result = host.run(
        f"openssl s_client -connect 127.0.0.1:{tls['https_port']} -servername {tls['fqdn']} "
        f"-verify_hostname {tls['fqdn']} -verify_return_error {trust} </dev/null"
    )
    assert result.rc == 0 and "Verify return code: 0 (ok)" in result.stdout, result.stdout[-800:]


def test_served_certificate_is_the_configured_file(host, tls):
    served = host.check_output(
        f"openssl s_client -connect 127.0.0.1:{tls['https_port']} -servername {tls['fqdn']} </dev/null 2>/dev/null"
        " | openssl x509 -noout -fingerprint -sha256"
    )
    on_disk = host.check_output(f"openssl x509 -in {shlex.quote(tls['certificate_path'])} -noout -fingerprint -sha256")
    assert served == on_disk


def test_served_certificate_outlives_the_alert_window(host, tls):
    result = host.run(tls["expiry_check_command"])
    assert result.rc == 0, result.stderr


def test_expiry_check_fails_for_a_certificate_about_to_expire(host, tls):
    workdir = host.check_output("mktemp -d")
    try:
        host.check_output(
            f"openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN={tls['fqdn']} "
            f"-keyout {workdir}/k.pem -out {workdir}/c.pem 2>/dev/null"
        )
        result = host.run(f"{tls['expiry_check_command']} {workdir}/c.pem")
    finally:
        host.run(f"rm -rf {shlex.quote(workdir)}")
    assert result.rc == 1 and "within" in result.stderr


def test_expiry_check_timer_is_enabled_and_active(host):
    timer = host.service("tls-proxy-cert-expiry.timer")
    assert timer.is_enabled and timer.is_running


def test_exported_ca_is_a_ca_certificate(host, tls):
    if not tls["ca_export_path"]:
        pytest.skip("this mode exports no CA (a public CA issued the certificate)")
    exported = host.file(tls["ca_export_path"])
    assert exported.mode == 0o644
    text = host.check_output(f"openssl x509 -in {shlex.quote(tls['ca_export_path'])} -noout -text")
    assert re.search(r"CA:TRUE", text)


def test_acme_renewal_timer_is_enabled_and_active(host, tls):
    if tls["certificate_mode"] != "acme":
        pytest.skip("not in acme mode")
    timer = host.service("certbot.timer")
    assert timer.is_enabled and timer.is_running


def test_acme_renewal_reloads_nginx(host, tls):
    if tls["certificate_mode"] != "acme":
        pytest.skip("not in acme mode")
    hook = host.file("/etc/letsencrypt/renewal-hooks/deploy/tls-proxy-reload-nginx")
    assert hook.is_file and hook.mode & 0o111 and "systemctl reload nginx" in hook.content_string


def test_acme_lineage_renews_against_the_configured_directory(host, tls):
    if tls["certificate_mode"] != "acme":
        pytest.skip("not in acme mode")
    conf = host.file(f"/etc/letsencrypt/renewal/{tls['fqdn']}.conf").content_string
    assert re.search(r"^server = (\S+)$", conf, re.MULTILINE).group(1) == tls["acme_directory_url"]
    assert re.search(r"^authenticator = webroot$", conf, re.MULTILINE)
