"""Role base refuses bad input before it changes anything (run in --check against localhost)."""

from __future__ import annotations

import subprocess

import pytest

from .conftest import fake_facts

pytestmark = pytest.mark.slow

PREFLIGHT_TASK_PREFIXES = ("Assert ", "Validating arguments against arg spec")


def assert_refused_in_preflight(run, *words: str) -> None:
    assert run.rc != 0, run.output[-3000:]
    task = run.failed_task
    assert task is not None, run.output[-3000:]
    assert task["name"].split(" : ", 1)[-1].startswith(PREFLIGHT_TASK_PREFIXES), task
    assert run.changed_before_failure() == []
    assert run.stats.get("changed", 0) == 0
    for word in words:
        assert word in run.failure_message, (word, run.failure_message)


def test_valid_input_passes_preflight(run_role):
    run = run_role("base", {"base_sysctl_apply_live": False}, tags="base_preflight")
    assert run.rc == 0, run.output[-3000:]
    assert run.failed_task is None


@pytest.mark.parametrize("port", [0, 70000, -22])
def test_firewall_port_out_of_range_is_refused(run_role, port):
    run = run_role("base", {"base_firewall_allowed_tcp_ports": [22, port]})
    assert_refused_in_preflight(run, "base_firewall_allowed_tcp_ports", str(port), "1 to 65535")


def test_firewall_port_that_is_not_a_number_is_refused(run_role):
    run = run_role("base", {"base_firewall_allowed_tcp_ports": [22, "https"]})
    assert_refused_in_preflight(run, "base_firewall_allowed_tcp_ports", "int")


def test_firewall_without_the_ssh_port_is_refused(run_role):
    run = run_role("base", {"base_firewall_allowed_tcp_ports": [443]})
    assert_refused_in_preflight(run, "base_firewall_allowed_tcp_ports", "base_ssh_port", "22")


@pytest.mark.parametrize("entry", ["Deploy", "bad user", "deploy@host name", "-deploy", "x" * 40, "deploy;reboot"])
def test_malformed_allow_users_entry_is_refused(run_role, entry):
    run = run_role("base", {"ansible_user": "deploy", "base_ssh_allow_users": ["deploy", entry]})
    assert_refused_in_preflight(run, "base_ssh_allow_users", entry, "USER@HOST")


def test_malformed_allow_groups_entry_is_refused(run_role):
    run = run_role("base", {"base_ssh_allow_groups": ["ssh users"]})
    assert_refused_in_preflight(run, "base_ssh_allow_groups", "ssh users", "group name")


def test_allow_users_without_the_connecting_user_is_refused(run_role):
    run = run_role("base", {"ansible_user": "deploy", "base_ssh_allow_users": ["alice", "bob@192.0.2.0/24"]})
    assert_refused_in_preflight(run, "base_ssh_allow_users", "'deploy'", "lock itself out")


def test_allow_groups_without_a_group_of_the_connecting_user_is_refused(run_role):
    run = run_role("base", {"ansible_user": "root", "base_ssh_allow_groups": ["no-such-group-here"]})
    assert_refused_in_preflight(run, "base_ssh_allow_groups", "no-such-group-here", "'root'")


def test_unknown_permit_root_login_value_is_refused(run_role):
    run = run_role("base", {"base_ssh_permit_root_login": "yes"})
    assert_refused_in_preflight(run, "base_ssh_permit_root_login", "no", "prohibit-password")


def test_malformed_sysctl_key_is_refused(run_role):
    run = run_role("base", {"base_sysctl_extra": {"Net.IPv4 forward": 1}})
    assert_refused_in_preflight(run, "base_sysctl_extra", "Net.IPv4 forward")


def test_sysctl_value_that_is_a_list_is_refused(run_role):
    run = run_role("base", {"base_sysctl_extra": {"net.core.somaxconn": [1024]}})
    assert_refused_in_preflight(run, "base_sysctl_extra", "net.core.somaxconn")


@pytest.mark.parametrize(("distribution", "version"), [("Debian", "11"), ("Ubuntu", "20.04"), ("Fedora", "40")])
def test_unsupported_platform_is_refused(run_role, distribution, version):
    run = run_role("base", fake_facts(distribution, version))
    assert_refused_in_preflight(run, f"{distribution} {version}", "Debian 12", "Ubuntu 24.04")


def _this_machine_is_a_container() -> bool:
    try:
        probe = subprocess.run(["systemd-detect-virt", "--container"], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        return False
    return probe.stdout.strip() not in ("", "none")


@pytest.mark.skipif(not _this_machine_is_a_container(), reason="needs a container target (systemd-detect-virt -c)")
def test_live_sysctl_on_a_container_target_is_refused(run_role):
    run = run_role("base", {"base_sysctl_apply_live": True})
    assert_refused_in_preflight(run, "base_sysctl_apply_live", "false", "not namespaced")
