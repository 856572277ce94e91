"""Role docker refuses bad input before it changes anything (run in --check against localhost)."""

from __future__ import annotations

import pytest

from .conftest import fake_facts
from .test_base_preflight import assert_refused_in_preflight

pytestmark = pytest.mark.slow


def test_valid_input_passes_preflight(run_role):
    run = run_role("docker", {"docker_install_source": "distro"}, tags="docker_preflight")
    assert run.rc == 0, run.output[-3000:]
    assert run.failed_task is None


@pytest.mark.parametrize("source", ["snap", "docker-ce", ""])
def test_unknown_install_source_is_refused(run_role, source):
    run = run_role("docker", {"docker_install_source": source})
    assert_refused_in_preflight(run, "docker_install_source", "docker_ce", "distro")


@pytest.mark.parametrize("hosts", [["unix:///var/run/docker.sock", "tcp://0.0.0.0:2375"], "TCP://127.0.0.1:2376"])
def test_daemon_tcp_socket_is_refused(run_role, hosts):
    run = run_role("docker", {"docker_daemon_options": {"hosts": hosts}})
    assert_refused_in_preflight(run, "docker_daemon_options.hosts", "unix://")


def test_unknown_log_driver_is_refused(run_role):
    run = run_role("docker", {"docker_daemon_log_driver": "syslog"})
    assert_refused_in_preflight(run, "docker_daemon_log_driver", "local", "json-file")


@pytest.mark.parametrize("size", ["10 MB", "0m", "big"])
def test_malformed_log_max_size_is_refused(run_role, size):
    run = run_role("docker", {"docker_daemon_log_max_size": size})
    assert_refused_in_preflight(run, "docker_daemon_log_max_size", "10m")


def test_log_max_file_below_one_is_refused(run_role):
    run = run_role("docker", {"docker_daemon_log_max_file": 0})
    assert_refused_in_preflight(run, "docker_daemon_log_max_file", ">= 1")


@pytest.mark.parametrize(("distribution", "version"), [("Debian", "11"), ("Ubuntu", "23.10"), ("CentOS", "9")])
def test_unsupported_platform_is_refused(run_role, distribution, version):
    run = run_role("docker", fake_facts(distribution, version))
    assert_refused_in_preflight(run, f"{distribution} {version}", "Debian 12", "Ubuntu 22.04")
