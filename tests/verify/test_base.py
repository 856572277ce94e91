"""Role base: packages, time synchronisation, unattended upgrades, kernel parameters, journald."""

from __future__ import annotations

import pytest

from tests.verify._roles_settings import is_container, setting

SYSCTL_FILE = "/etc/sysctl.d/60-dermai-base.conf"
JOURNALD_DROPIN = "/etc/systemd/journald.conf.d/60-dermai-base.conf"


def sysctl_file_values(host) -> dict[str, str]:
    values = {}
    for line in host.file(SYSCTL_FILE).content_string.splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            values[key.strip()] = " ".join(value.split())
    return values


@pytest.mark.parametrize("package", ["chrony", "unattended-upgrades", "openssh-server", "ufw", "ca-certificates"])
def test_baseline_package_is_installed(host, package):
    assert host.package(package).is_installed


def test_chrony_is_the_only_time_daemon(host):
    assert not host.package("systemd-timesyncd").is_installed or not host.service("systemd-timesyncd").is_running


def test_chrony_is_enabled_at_boot(host):
    assert host.service("chrony").is_enabled


def test_chrony_runs_where_the_host_owns_its_clock(host):
    if is_container(host):
        pytest.skip("container target: the clock belongs to the machine running it")
    assert host.service("chrony").is_running


def test_chrony_leaves_a_shared_clock_alone_in_a_container(host):
    if not is_container(host):
        pytest.skip("the host owns its clock")
    assert not host.service("chrony").is_running


def test_clock_is_synchronised_where_the_host_owns_it(host):
    if is_container(host):
        pytest.skip("container target: the clock belongs to the machine running it")
    assert host.run("timedatectl show -p NTPSynchronized --value").stdout.strip() == "yes"


def test_chrony_configuration_parses_and_names_time_sources(host):
    parsed = host.run("chronyd -p -f /etc/chrony/chrony.conf")
    assert parsed.rc == 0, parsed.stderr
    assert any(line.split()[0] in ("pool", "server") for line in parsed.stdout.splitlines() if line.strip())


def test_chrony_serves_no_command_port(host):
    assert "cmdport 0" in host.run("chronyd -p -f /etc/chrony/chrony.conf").stdout.splitlines()


def test_unattended_upgrades_run_daily(host):
    dump = host.run("apt-config dump APT::Periodic").stdout
    assert 'APT::Periodic::Unattended-Upgrade "1";' in dump
    assert 'APT::Periodic::Update-Package-Lists "1";' in dump


def test_apt_daily_upgrade_timer_is_enabled(host):
    assert host.service("apt-daily-upgrade.timer").is_enabled


def test_sysctl_file_is_root_owned_and_not_writable_by_others(host):
    sysctl = host.file(SYSCTL_FILE)
    assert (sysctl.user, sysctl.group, sysctl.mode) == ("root", "root", 0o644)


def test_sysctl_file_keeps_the_documented_docker_ip_forward_exception(host, inventory_var):
    expected = "1" if setting(inventory_var, host, "base_sysctl_ip_forward") else "0"
    assert sysctl_file_values(host)["net.ipv4.ip_forward"] == expected


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("net.ipv4.tcp_syncookies", "1"),
        ("net.ipv4.conf.all.rp_filter", "1"),
        ("net.ipv4.conf.all.accept_redirects", "0"),
        ("net.ipv4.conf.all.send_redirects", "0"),
        ("net.ipv4.conf.all.accept_source_route", "0"),
        ("net.ipv6.conf.all.accept_redirects", "0"),
        ("kernel.kptr_restrict", "2"),
        ("kernel.randomize_va_space", "2"),
        ("fs.suid_dumpable", "0"),
    ],
)
def test_sysctl_file_sets_hardening_value(host, key, value):
    assert sysctl_file_values(host).get(key) == value


def test_live_kernel_parameters_match_the_file_where_the_host_owns_its_kernel(host):
    if is_container(host):
        pytest.skip("container target: the kernel belongs to the machine running it (base_sysctl_apply_live false)")
    for key, value in sysctl_file_values(host).items():
        live = host.run(f"sysctl -n -e {key}")
        if live.stdout.strip():
            assert " ".join(live.stdout.split()) == value, key


def test_journald_dropin_limits_size_and_retention(host, inventory_var):
    content = host.file(JOURNALD_DROPIN).content_string
    assert f"SystemMaxUse={setting(inventory_var, host, 'base_journald_system_max_use')}" in content
    assert f"MaxRetentionSec={setting(inventory_var, host, 'base_journald_max_retention_sec')}" in content


def test_journald_reads_the_dropin(host):
    merged = host.run("systemd-analyze cat-config systemd/journald.conf").stdout
    assert f"# {JOURNALD_DROPIN}" in merged


def test_journal_is_persistent(host):
    assert host.file("/var/log/journal").is_directory
