"""Role base calls ufw only for what differs from what ufw reports (roles/base/vars/main.yml).

Each ufw call reloads the firewall, so configure_firewall.yml reads `ufw status verbose` and
`ufw show added` once and loops only over missing rules, stale rules and policies that differ.
These tests feed that read canned ufw output and evaluate the role's own expressions with
ansible-playbook (-c local, nothing is changed), then check the plan they give.
"""

from __future__ import annotations

import pytest

from tests.unit.roles.conftest import evaluate_role_vars

COMMENT = "managed by ansible role base"

ACTIVE_LOW = """Status: active
Logging: on (low)
Default: deny (incoming), allow (outgoing), deny (routed)
New profiles: skip
"""

PLAN = {
    "missing": "{{ _base_firewall_missing_ports }}",
    "stale": "{{ _base_firewall_stale_ports }}",
    "active": "{{ _base_ufw_active }}",
    "logging_set": "{{ _base_ufw_logging == _base_ufw_logging_wanted }}",
    "incoming_set": "{{ 'deny (incoming)' in _base_ufw_defaults }}",
    "outgoing_set": "{{ 'allow (outgoing)' in _base_ufw_defaults }}",
    "usable": "{{ _base_ufw_usable | bool }}",
}


def added(*ports: int, comment: str = COMMENT) -> str:
    rules = "".join(f"ufw allow {port}/tcp comment '{comment}'\n" for port in ports)
    return "Added user rules (see 'ufw status' for running firewall):\n" + rules


def plan(tmp_path, status: str, show_added: str, rc: int = 0, check: bool = False, **variables) -> dict:
    read = {
        "results": [
            {"rc": rc, "stdout_lines": status.splitlines()},
            {"rc": rc, "stdout_lines": show_added.splitlines()},
        ]
    }
    return evaluate_role_vars(tmp_path, "base", PLAN, {"__base_ufw_read": read, **variables}, check=check)


def test_a_settled_firewall_needs_no_ufw_call(tmp_path):
    got = plan(tmp_path, ACTIVE_LOW, added(22, 80, 443), base_firewall_allowed_tcp_ports=[22, 80, 443])
    assert (got["missing"], got["stale"]) == ([], [])
    assert got["active"] and got["logging_set"] and got["incoming_set"] and got["outgoing_set"]


def test_a_listed_port_without_the_roles_rule_is_added_and_an_unlisted_one_deleted(tmp_path):
    show = added(22, 8080) + "ufw allow 443/tcp\n"  # 443 added by hand, without the role's comment
    got = plan(tmp_path, ACTIVE_LOW, show, base_firewall_allowed_tcp_ports=[22, 443])
    assert got["missing"] == ["443"]
    assert got["stale"] == ["8080"]


def test_rules_of_other_tools_are_never_deleted(tmp_path):
    show = added(22) + added(9000, comment="someone else")
    got = plan(tmp_path, ACTIVE_LOW, show, base_firewall_allowed_tcp_ports=[22])
    assert got["stale"] == []


@pytest.mark.parametrize(
    ("level", "status_line", "settled"),
    [
        ("low", "Logging: on (low)", True),
        ("medium", "Logging: on (low)", False),
        ("off", "Logging: off", True),
        ("off", "Logging: on (full)", False),
        ("full", "Logging: on (full)", True),
    ],
)
def test_the_log_level_is_compared_as_ufw_prints_it(tmp_path, level, status_line, settled):
    status = ACTIVE_LOW.replace("Logging: on (low)", status_line)
    got = plan(tmp_path, status, added(22), base_firewall_allowed_tcp_ports=[22], base_firewall_logging=level)
    assert got["logging_set"] is settled


def test_an_inactive_firewall_shows_no_policies_so_every_call_runs(tmp_path):
    got = plan(tmp_path, "Status: inactive\n", added(22), base_firewall_allowed_tcp_ports=[22])
    assert not got["active"]
    assert not got["incoming_set"] and not got["outgoing_set"]


def test_another_default_policy_is_seen(tmp_path):
    status = ACTIVE_LOW.replace("deny (incoming)", "allow (incoming)")
    got = plan(tmp_path, status, added(22), base_firewall_allowed_tcp_ports=[22])
    assert not got["incoming_set"] and got["outgoing_set"]


def test_without_ufw_a_check_run_skips_the_firewall_and_a_real_run_adds_every_port(tmp_path):
    checked = plan(tmp_path, "", "", rc=2, check=True, base_firewall_allowed_tcp_ports=[22, 443])
    assert checked["usable"] is False
    real = plan(tmp_path, "", "", rc=2, base_firewall_allowed_tcp_ports=[22, 443])
    assert real["usable"] is True
    assert real["missing"] == ["22", "443"]
