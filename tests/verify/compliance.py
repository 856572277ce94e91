"""HIPAA compliance report of a `make verify` run: .artifacts/verify/compliance.md and .html.

Each technical safeguard of 45 CFR 164.312 and the contingency plan of 164.308(a)(7) is mapped
to the verify checks that serve it (mapping from docs/hipaa.md, after the safeguard -> control ->
check table of the HIPAA notes). A check belongs to a safeguard by its marker
(``@pytest.mark.hipaa("164.312(b)")``) or by the name table below (for the suites of other
roles, which carry no marker). The report lists, per safeguard, every such check with its
outcome (passed / failed / skipped, with the reason), the hosts, the date and the bundle's
version, and says NOT VERIFIED where no check ran.

Registered by tests/verify/conftest.py (`register(config)`); `--compliance-dir` moves the output.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# id -> (title, what the bundle does for it)
SAFEGUARDS: dict[str, tuple[str, str]] = {
    "164.312(a)(1)": (
        "Access control",
        "Host firewall denies inbound except SSH/HTTP(S); Sentry and Docker bind to loopback; root-only secrets.",
    ),
    "164.312(a)(2)(i)": (
        "Unique user identification",
        "Named SSH users only (AllowUsers, no root login); Sentry registration off; per-purpose API tokens.",
    ),
    "164.312(a)(2)(iii)": (
        "Automatic logoff",
        "sshd ClientAlive timeouts end idle sessions; Sentry session cookie age set in sentry.conf.py.",
    ),
    "164.312(a)(2)(iv)": (
        "Encryption and decryption",
        "Secrets root-only at rest; TLS keys 0600; disk encryption (LUKS) is the operator's (docs/hipaa.md).",
    ),
    "164.312(b)": (
        "Audit controls",
        "Sentry audit log exported to a separate restic repository (6 y); journald, sshd VERBOSE, sudo and a "
        "query-string-free proxy access log with stated retention.",
    ),
    "164.312(c)(1)": (
        "Integrity",
        "Pinned self-hosted release, unmodified upstream files, root-owned configuration, Ansible drift checks.",
    ),
    "164.312(d)": (
        "Person or entity authentication",
        "SSH public keys only, no passwords, limited tries; TLS certificate verifies for the FQDN.",
    ),
    "164.312(e)(1)": (
        "Transmission security",
        "nginx on the Mozilla intermediate profile, HSTS, 308 to HTTPS, HTTP/2; Sentry's TLS settings on.",
    ),
    "164.308(a)(7)": (
        "Contingency plan",
        "Retention stated and proven (events, Kafka, logs, backups); Sentry restarts at boot; live-restore.",
    ),
}

# (test-function regex, safeguards) for checks without a `hipaa` marker; first match wins per row,
# every matching row adds its safeguards.
BY_NAME: list[tuple[str, tuple[str, ...]]] = [
    (r"^test_ufw_|^test_port_the_firewall_closes|^test_probe_listener", ("164.312(a)(1)",)),
    (
        r"^test_sentry_bind_is_on_loopback|^test_dockerd_listens_on_no_tcp_port|^test_daemon_json_opens_no_tcp",
        ("164.312(a)(1)",),
    ),
    (
        r"^test_docker_socket_is_not_world|readable_by_root_only|^test_env_files_exist_with|root_owned",
        ("164.312(a)(1)", "164.312(a)(2)(iv)"),
    ),
    (
        r"^test_private_key_is_readable_by_root_only|^test_secrets_are_not_upstream_placeholders|"
        r"^test_config_yml_keeps_no_placeholder_secret_key|^test_env_files_hold_no_api_token",
        ("164.312(a)(2)(iv)",),
    ),
    (r"^test_sshd_allow_list|^test_sshd_refuses_root|^test_config_yml_turns_registration_off", ("164.312(a)(2)(i)",)),
    (r"^test_sshd_effective_setting", ("164.312(d)", "164.312(a)(2)(iii)", "164.312(b)")),
    (r"^test_sshd_|^test_password_login_is_not_offered|^test_allowed_ssh_port", ("164.312(d)",)),
    (r"^test_served_certificate_verifies", ("164.312(d)", "164.312(e)(1)")),
    (
        r"^test_protocols_follow|^test_tls12_ciphers|^test_server_lets_the_client|^test_hsts_|^test_http2_|"
        r"^test_plain_http_redirects|^test_proxy_tls_settings_are_on|^test_csrf_trusts|^test_served_certificate_|"
        r"^test_https_port_is_listening|^test_acme_|^test_expiry_check|^test_exported_ca|^test_config_yml_sets_the_url",
        ("164.312(e)(1)",),
    ),
    (
        r"^test_checkout_is_at_the_pinned|^test_tracked_upstream_files|^test_sentry_conf_py_|^test_nginx_configuration_"
        r"|not_writable_by_others|^test_baseline_package|^test_unattended_upgrades|^test_apt_daily",
        ("164.312(c)(1)",),
    ),
    (
        r"^test_journald_|^test_journal_is_persistent|^test_log_format_has_no_query|^test_access_log_|"
        r"^test_daemon_json_rotates|^test_running_daemon_uses_the_configured_logging|^test_new_container_inherits_log",
        ("164.312(b)",),
    ),
    (
        r"^test_boot_unit_|^test_running_daemon_has_live_restore|^test_docker_service_is|^test_nginx_service_is|"
        r"^test_event_retention_is_set|^test_kafka_segments_roll|^test_health_endpoint",
        ("164.308(a)(7)",),
    ),
    (r"^test_clock_is_synchronised|^test_chrony_", ("164.312(b)",)),
]


@dataclass
class Check:
    nodeid: str
    safeguards: tuple[str, ...]
    outcome: str = "not run"
    reason: str = ""
    hosts: set[str] = field(default_factory=set)


def safeguards_of(item: pytest.Item) -> tuple[str, ...]:
    marked = [a for mark in item.iter_markers("hipaa") for a in mark.args]
    if marked:
        unknown = [m for m in marked if m not in SAFEGUARDS]
        if unknown:
            raise pytest.UsageError(f"{item.nodeid}: unknown HIPAA safeguard {unknown}; known: {list(SAFEGUARDS)}")
        return tuple(dict.fromkeys(marked))
    name = getattr(item, "originalname", None) or item.name.split("[", 1)[0]
    found: list[str] = []
    for pattern, ids in BY_NAME:
        if re.search(pattern, name):
            found += [i for i in ids if i not in found]
    return tuple(found)


def bundle_version() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO), "describe", "--tags", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        return out.stdout.strip() or "unknown (no git metadata)"
    except (OSError, subprocess.TimeoutExpired):
        return "unknown (git unavailable)"


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Reporter:
    """pytest plugin: collects the outcome of every mapped check, writes the report at the end."""

    def __init__(self, config: pytest.Config, out_dir: Path, inventory: str):
        self.config = config
        self.out_dir = out_dir
        self.inventory = inventory
        self.checks: dict[str, Check] = {}
        self.hosts: set[str] = set()
        self.started = dt.datetime.now(dt.UTC)

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            if "/tests/verify/" not in Path(str(item.path)).resolve().as_posix():
                continue  # only the verify suite reports (tests/e2e loads this conftest too)
            ids = safeguards_of(item)
            if ids:
                check = Check(item.nodeid, ids)
                params = getattr(getattr(item, "callspec", None), "params", {})
                for value in params.values():
                    name = getattr(getattr(value, "backend", None), "host", None)
                    if name:
                        check.hosts.add(str(name))
                        self.hosts.add(str(name))
                self.checks[item.nodeid] = check

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        check = self.checks.get(report.nodeid)
        if check is None:
            return
        if report.skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            check.outcome, check.reason = "skipped", _short(reason.removeprefix("Skipped: "))
        elif report.failed:
            where = "setup" if report.when == "setup" else ("teardown" if report.when == "teardown" else "")
            message = getattr(report.longrepr, "reprcrash", None)
            text = message.message if message is not None else str(report.longrepr)
            check.outcome = "failed"
            check.reason = _short(f"{where + ': ' if where else ''}{text}")
        elif report.when == "call" and check.outcome != "failed":
            check.outcome = "passed"

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not self.checks:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        summary = self.summary()
        (self.out_dir / "compliance.md").write_text(self.markdown(summary))
        (self.out_dir / "compliance.html").write_text(self.html(summary))

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if self.checks:
            terminalreporter.write_line(f"HIPAA compliance report: {self.out_dir}/compliance.md, compliance.html")

    # ------------------------------------------------------------------ rendering
    def summary(self) -> list[tuple[str, str, str, str, list[Check]]]:
        rows = []
        for sid, (title, control) in SAFEGUARDS.items():
            checks = sorted((c for c in self.checks.values() if sid in c.safeguards), key=lambda c: c.nodeid)
            outcomes = {c.outcome for c in checks}
            if "failed" in outcomes:
                status = "FAILED"
            elif "passed" in outcomes:
                status = "PASSED"
            else:
                status = "NOT VERIFIED"
            rows.append((sid, title, control, status, checks))
        return rows

    def _meta(self) -> list[tuple[str, str]]:
        return [
            ("Hosts", ", ".join(sorted(self.hosts)) or "(none)"),
            ("Inventory", self.inventory),
            ("Date (UTC)", self.started.strftime("%Y-%m-%d %H:%M:%S")),
            ("Bundle version", bundle_version()),
        ]

    def markdown(self, summary) -> str:
        lines = ["# HIPAA compliance report (make verify)", ""]
        lines += [f"- **{k}:** {v}" for k, v in self._meta()]
        lines += ["", "| Safeguard | Title | Status | Passed | Failed | Skipped |", "|---|---|---|---|---|---|"]
        for sid, title, _control, status, checks in summary:
            count = {o: sum(1 for c in checks if c.outcome == o) for o in ("passed", "failed", "skipped")}
            lines.append(f"| {sid} | {title} | {status} | {count['passed']} | {count['failed']} | {count['skipped']} |")
        for sid, title, control, status, checks in summary:
            lines += ["", f"## {sid} {title}: {status}", "", control, ""]
            if not checks:
                lines.append("No automated check ran for this safeguard (see docs/hipaa.md for the record to keep).")
                continue
            lines += ["| Check | Outcome | Reason |", "|---|---|---|"]
            for c in checks:
                reason = c.reason.replace("|", "\\|")
                lines.append(f"| `{c.nodeid}` | {c.outcome} | {reason} |")
        return "\n".join(lines) + "\n"

    def html(self, summary) -> str:
        esc = html.escape
        colour = {"PASSED": "#1a7f37", "FAILED": "#cf222e", "NOT VERIFIED": "#9a6700"}
        parts = [
            "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
            "<title>HIPAA compliance report</title><style>",
            "body{font-family:sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse;width:100%}"
            "td,th{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top}"
            "code{font-size:.85em}.status{font-weight:bold;color:#fff;padding:.1em .4em;border-radius:.2em}"
            "dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dt{font-weight:bold}dd{margin:0}"
            ".failed{background:#ffebe9}.skipped{color:#57606a}",
            "</style></head><body><h1>HIPAA compliance report (make verify)</h1><dl>",
        ]
        parts += [f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in self._meta()]
        parts.append(
            "</dl><table id='summary'><tr><th>Safeguard</th><th>Title</th><th>Status</th>"
            "<th>Passed</th><th>Failed</th><th>Skipped</th></tr>"
        )
        for sid, title, _control, status, checks in summary:
            count = {o: sum(1 for c in checks if c.outcome == o) for o in ("passed", "failed", "skipped")}
            parts.append(
                f"<tr class='safeguard-row' data-safeguard='{esc(sid)}'><td><a href='#{esc(sid)}'>{esc(sid)}</a></td>"
                f"<td>{esc(title)}</td>"
                f"<td><span class='status' style='background:{colour[status]}'>{esc(status)}</span></td>"
                f"<td>{count['passed']}</td><td>{count['failed']}</td><td>{count['skipped']}</td></tr>"
            )
        parts.append("</table>")
        for sid, title, control, status, checks in summary:
            parts.append(
                f"<section id='{esc(sid)}'><h2>{esc(sid)} {esc(title)}: {esc(status)}</h2><p>{esc(control)}</p>"
            )
            if not checks:
                parts.append("<p>No automated check ran for this safeguard (see docs/hipaa.md).</p></section>")
                continue
            parts.append("<table><tr><th>Check</th><th>Outcome</th><th>Reason</th></tr>")
            parts += [
                f"<tr class='{esc(c.outcome)}'><td><code>{esc(c.nodeid)}</code></td><td>{esc(c.outcome)}</td>"
                f"<td>{esc(c.reason)}</td></tr>"
                for c in checks
            ]
            parts.append("</table></section>")
        parts.append("</body></html>")
        return "\n".join(parts) + "\n"


def add_option(parser: pytest.Parser) -> None:
    parser.addoption(
        "--compliance-dir",
        default=str(REPO / ".artifacts" / "verify"),
        help="where the HIPAA compliance report (compliance.md, compliance.html) is written",
    )


def register(config: pytest.Config, inventory: str) -> None:
    config.addinivalue_line("markers", "hipaa(*safeguards): HIPAA safeguards (e.g. '164.312(b)') a check serves")
    if config.pluginmanager.has_plugin("compliance-report"):
        return
    reporter = Reporter(config, Path(config.getoption("compliance_dir")), inventory)
    config.pluginmanager.register(reporter, "compliance-report")
