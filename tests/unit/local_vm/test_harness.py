"""Pieces of the local VM harness: the playbook's input checks, `outside()`, recap parsing."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

REPO = Path(__file__).resolve().parents[3]


def load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def verify_conftest(monkeypatch):
    module = load("verify_conftest_under_test", REPO / "tests/verify/conftest.py")
    monkeypatch.setattr(module, "_HOSTS", {})
    return module


@pytest.fixture(scope="module")
def bench():
    return load("bench_converge_under_test", REPO / "tests/bench/bench_converge.py")


def fake_host(name: str):
    return SimpleNamespace(backend=SimpleNamespace(host=name))


def test_outside_maps_a_local_vm_port_to_its_published_loopback_port(verify_conftest):
    verify_conftest._HOSTS["dermai-vm"] = {"ansible_host": "127.0.0.1", "local_vm_published_ports": {443: 8743}}
    assert verify_conftest.outside(fake_host("dermai-vm"), 443) == ("127.0.0.1", 8743)


def test_outside_refuses_a_port_the_local_vm_does_not_publish(verify_conftest):
    verify_conftest._HOSTS["dermai-vm"] = {"ansible_host": "127.0.0.1", "local_vm_published_ports": {443: 8443}}
    with pytest.raises(LookupError, match="not published"):
        verify_conftest.outside(fake_host("dermai-vm"), 5432)


def test_outside_is_the_identity_for_a_real_host(verify_conftest):
    verify_conftest._HOSTS["sentry1"] = {"ansible_host": "sentry.example.com", "local_vm_published_ports": {}}
    assert verify_conftest.outside(fake_host("sentry1"), 443) == ("sentry.example.com", 443)


def test_resolved_inventory_runs_commands_as_root_and_drops_unset_values(verify_conftest):
    inventory = verify_conftest._resolved_inventory(
        {"h": {"ansible_host": "10.0.0.5", "ansible_port": None, "local_vm_published_ports": {22: 2222}}}
    )
    assert inventory == {
        "all": {"children": {"sentry": {"hosts": {"h": {"ansible_host": "10.0.0.5", "ansible_become": True}}}}}
    }


RECAP = """\
PLAY RECAP *********************************************************************
dermai-vm                  : ok=74   changed=3    unreachable=0    failed=0    skipped=8    rescued=0    ignored=0
localhost                  : ok=5    changed=1    unreachable=0    failed=0    skipped=2    rescued=0    ignored=0

TASKS RECAP ********************************************************************
"""


def test_recap_parsing_reads_every_host(bench):
    recap = bench.parse_recap("TASK [x]\nok: [dermai-vm]\n\n" + RECAP)
    assert recap["dermai-vm"] == {"ok": 74, "changed": 3, "unreachable": 0, "failed": 0, "skipped": 8}
    assert bench.totals(recap)["changed"] == 4


def test_recap_parsing_fails_without_a_recap(bench):
    with pytest.raises(ValueError, match="PLAY RECAP"):
        bench.parse_recap("ERROR! the playbook could not be parsed")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"LOCAL_VM_RELEASE": "buster"}, "local_vm_release (env LOCAL_VM_RELEASE) must be bookworm or trixie"),
        ({"LOCAL_VM_PORT_OFFSET": "-5"}, "local_vm_port_offset (env LOCAL_VM_PORT_OFFSET) must be a whole number"),
        ({"LOCAL_VM_NAME": "two words"}, "local_vm_name (env LOCAL_VM_NAME) must be a container name"),
    ],
)
def test_local_vm_playbook_rejects_bad_settings_before_touching_docker(env, expected):
    run_env = {**os.environ, **env, "DOCKER_HOST": "unix:///nonexistent/docker.sock", "ANSIBLE_NOCOLOR": "1"}
    run_env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{run_env['PATH']}"
    run_env["ANSIBLE_CONFIG"] = str(REPO / "ansible.cfg")
    result = subprocess.run(
        ["ansible-playbook", "deploy/local_vm.yml"], cwd=REPO, env=run_env, capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert expected in result.stdout
    assert "ok=0" in result.stdout  # failed in the first task, nothing else ran


def test_bench_floor_playbook_has_the_asked_number_of_trivial_tasks_and_passes_the_syntax_check(bench, tmp_path):
    import yaml

    plays = yaml.safe_load(bench.floor_playbook(7))
    tasks = plays[0]["tasks"]
    assert len(tasks) == 7
    assert all(set(task) == {"name", "ansible.builtin.ping"} for task in tasks)
    assert plays[0]["hosts"] == "sentry"
    playbook = tmp_path / "floor.yml"
    playbook.write_text(bench.floor_playbook())
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"))
    done = subprocess.run(
        [str(REPO / ".venv/bin/ansible-playbook"), "--syntax-check", "-i", "inventories/local", str(playbook)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_bench_turns_on_mitogen_only_when_it_is_installed(bench, monkeypatch):
    env = bench.mitogen_env({"PATH": "/usr/bin"})
    try:
        import ansible_mitogen  # noqa: F401
    except ImportError:
        assert env is None
    else:
        assert env["ANSIBLE_STRATEGY"] == "mitogen_linear"
        assert Path(env["ANSIBLE_STRATEGY_PLUGINS"], "mitogen_linear.py").is_file()


def test_bench_static_responder_is_a_valid_nginx_config_that_answers_200(tmp_path):
    import shutil
    import time
    import urllib.request

    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        pytest.skip("nginx is not installed (make test-deps installs it)")
    proxy_bench = load("bench_proxy_under_test", REPO / "tests/bench/bench_proxy.py")
    pid = tmp_path / "static.pid"
    conf = tmp_path / "static.conf"
    conf.write_text(proxy_bench.static_responder_conf("127.0.0.1:29017", str(pid)))
    started = subprocess.run([nginx, "-c", str(conf)], capture_output=True, text=True, check=False)
    assert started.returncode == 0, started.stderr
    try:
        for _ in range(50):
            if pid.exists():
                break
            time.sleep(0.1)
        request = urllib.request.Request("http://127.0.0.1:29017/api/1/envelope/", data=b"{}", method="POST")
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200
            assert b'"id"' in response.read()
    finally:
        subprocess.run(["kill", pid.read_text().strip()], check=False)
