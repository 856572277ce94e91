"""Role base: the SSH server accepts keys only, with modern algorithms, and admits the operator."""

from __future__ import annotations

import subprocess

import pytest

from tests.verify._roles_settings import setting

WEAK_MARKERS = ("sha1", "cbc", "3des", "arcfour", "md5", "nistp", "group1-", "group14-")


@pytest.fixture(scope="module")
def sshd_effective(host) -> dict[str, str]:
    out = host.run("/usr/sbin/sshd -T")
    assert out.rc == 0, out.stderr
    effective = {}
    for line in out.stdout.splitlines():
        key, _, value = line.partition(" ")
        effective.setdefault(key, value)
    return effective


@pytest.mark.parametrize(
    ("keyword", "value"),
    [
        ("passwordauthentication", "no"),
        ("kbdinteractiveauthentication", "no"),
        ("permitemptypasswords", "no"),
        ("pubkeyauthentication", "yes"),
        ("authenticationmethods", "publickey"),
        ("x11forwarding", "no"),
        ("allowagentforwarding", "no"),
        ("permittunnel", "no"),
        ("loglevel", "VERBOSE"),
    ],
)
def test_sshd_effective_setting(sshd_effective, keyword, value):
    assert sshd_effective[keyword] == value


def test_sshd_refuses_root_password_login(sshd_effective):
    # sshd -T spells prohibit-password as without-password.
    assert sshd_effective["permitrootlogin"] in ("no", "without-password", "prohibit-password")


@pytest.mark.parametrize(
    ("keyword", "variable"),
    [
        ("maxauthtries", "base_ssh_max_auth_tries"),
        ("clientaliveinterval", "base_ssh_client_alive_interval"),
        ("clientalivecountmax", "base_ssh_client_alive_count_max"),
        ("logingracetime", "base_ssh_login_grace_time"),
    ],
)
def test_sshd_limit_follows_the_role_setting(sshd_effective, host, inventory_var, keyword, variable):
    assert int(sshd_effective[keyword]) == int(setting(inventory_var, host, variable))


@pytest.mark.parametrize("keyword", ["kexalgorithms", "ciphers", "macs"])
def test_sshd_offers_no_weak_algorithm(sshd_effective, keyword):
    offered = sshd_effective[keyword].split(",")
    assert offered
    assert [a for a in offered if any(marker in a for marker in WEAK_MARKERS)] == []


def test_sshd_allow_list_admits_the_ansible_user(sshd_effective, host, inventory_var):
    allowed = setting(inventory_var, host, "base_ssh_allow_users")
    if not allowed:
        pytest.skip("no AllowUsers list in this inventory")
    user = inventory_var(host, "ansible_user")
    assert user in [entry.split("@")[0] for entry in sshd_effective["allowusers"].split()]


def test_sshd_config_is_readable_by_root_only(host):
    config = host.file("/etc/ssh/sshd_config")
    assert config.user == "root"
    assert config.mode == 0o600


def test_ssh_service_is_enabled_and_running(host):
    assert host.service("ssh").is_enabled
    assert host.service("ssh").is_running


def test_password_login_is_not_offered_from_outside(host, outside):
    address, port = outside(host, 22)
    probe = subprocess.run(
        [
            "ssh", "-p", str(port),
            "-o", "BatchMode=yes", "-o", "PubkeyAuthentication=no",
            "-o", "PreferredAuthentications=password,keyboard-interactive",
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "ConnectTimeout=10",
            f"nobody-probe@{address}", "true",
        ],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert probe.returncode == 255
    assert "Permission denied (publickey)" in probe.stderr
