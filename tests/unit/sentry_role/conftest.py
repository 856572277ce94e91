"""Run the sentry role for real with `ansible-playbook -c local` against a temporary tree.

The role checks out the fixture repository (tests/fixtures/self_hosted), applies its overlays
in a temporary sentry_install_dir and, for the image-based phases, calls bin/fake-docker
instead of the Docker CLI (no registry is reachable here), through community.docker's compose
modules as in production. roles/backup here stands in for the bundle's backup role. The systemd phase is skipped
(no systemd as PID 1 on this machine); the VM e2e and tests/verify cover it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.fixtures.self_hosted.build_repo import build

ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
FAKE_DOCKER = HERE / "bin" / "fake-docker"
VENV_BIN = Path(sys.executable).parent

PLAYBOOK = """\
- name: Apply the sentry role to this machine (unit test)
  hosts: localhost
  gather_facts: true
  roles:
    - role: sentry
"""


@dataclass
class Run:
    rc: int
    stdout: str
    stderr: str
    results: list = field(default_factory=list)
    stats: dict = field(default_factory=dict)

    def task(self, name: str) -> list[dict]:
        """Host results of every task whose name contains `name`."""
        return [r for r in self.results if name in r["task"]]

    def status(self, name: str) -> str:
        found = self.task(name)
        assert found, f"no task named like {name!r}; ran: {[r['task'] for r in self.results]}"
        res = found[-1]["result"]
        if res.get("skipped"):
            return "skipped"
        if res.get("failed"):
            return "failed"
        return "changed" if res.get("changed") else "ok"

    @property
    def changed(self) -> int:
        return self.stats.get("localhost", {}).get("changed", -1)

    def failure_messages(self) -> list[str]:
        """Messages of failed tasks, and of the failed items of failed loops."""
        messages = []
        for r in self.results:
            if not r["result"].get("failed"):
                continue
            messages.append(r["result"].get("msg", ""))
            messages += [item.get("msg", "") for item in r["result"].get("results", []) if item.get("failed")]
        return messages


@dataclass
class Env:
    tmp: Path
    repo: Path
    install_dir: Path

    def base_vars(self) -> dict:
        return {
            "sentry_repo_url": f"file://{self.repo}",
            "sentry_install_dir": str(self.install_dir),
            "sentry_marker_file": str(self.tmp / "state" / "install-marker.json"),
            "sentry_api_token_file": str(self.tmp / "etc" / "api-token"),
            "sentry_url_prefix": "https://sentry.dermai.test",
            "sentry_admin_email": "admin@dermai.test",
            "sentry_system_secret_key": "k" * 20 + "unit-test-secret-key-0123456789",
            "sentry_launchpad_rpc_shared_secret": "launchpad-unit-test-secret",
            "sentry_admin_password": "unit-test-admin-password",
            "sentry_compose_profile": "errors-only",
            "sentry_disk_check_paths": [str(self.tmp)],
            "sentry_min_free_disk_gb": 1,
            "sentry_compose_command": f"{FAKE_DOCKER} compose",
            "sentry_check_registry": False,
            "sentry_pre_upgrade_backup_command": f"echo backup >> {self.tmp}/backup.log",
            "sentry_alerts_resave_marker": str(self.tmp / "state" / "alerts-resave-pending"),
            "sentry_install_timeout": 120,
            "sentry_up_timeout": 60,
            "sentry_poll_interval": 1,
        }

    def run(
        self,
        extra: dict | None = None,
        *,
        skip_tags=("sentry_service",),
        tags=(),
        check=False,
        diff=False,
        extra_env=None,
    ) -> Run:
        variables = self.base_vars()
        variables.update(extra or {})
        vars_file = self.tmp / "vars.json"
        vars_file.write_text(json.dumps(variables))
        playbook = self.tmp / "play.yml"
        playbook.write_text(PLAYBOOK)
        cmd = [
            str(VENV_BIN / "ansible-playbook"),
            "-i",
            "localhost,",
            "-c",
            "local",
            str(playbook),
            "-e",
            f"@{vars_file}",
        ]
        cmd += ["-e", f"ansible_python_interpreter={sys.executable}"]
        if skip_tags:
            cmd += ["--skip-tags", ",".join(skip_tags)]
        if tags:
            cmd += ["--tags", ",".join(tags)]
        if check:
            cmd.append("--check")
        if diff:
            cmd.append("--diff")
        env = dict(os.environ)
        env.update(
            ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
            # The stand-in backup role first, then the bundle's roles.
            ANSIBLE_ROLES_PATH=f"{HERE / 'roles'}:{ROOT / 'roles'}",
            # Async job files in a directory of this test, whatever HOME is (the job status
            # must be found where the job wrote it).
            ANSIBLE_ASYNC_DIR=str(self.tmp / ".ansible_async"),
            ANSIBLE_LOCAL_TEMP=str(self.tmp / ".ansible_tmp"),
            ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
            ANSIBLE_CALLBACKS_ENABLED="ansible.builtin.junit",
            JUNIT_OUTPUT_DIR=str(self.tmp / "junit"),
            ANSIBLE_LOCALHOST_WARNING="false",
            ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
            PATH=f"{VENV_BIN}:{env.get('PATH', '')}",
        )
        env.update(extra_env or {})
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
        results, stats = [], {}
        try:
            data = json.loads(proc.stdout)
        except json.JSONDecodeError:
            data = {}
        for play in data.get("plays", []):
            for task in play.get("tasks", []):
                for host, result in task.get("hosts", {}).items():
                    results.append({"task": task["task"]["name"], "host": host, "result": result})
        stats = data.get("stats", {})
        return Run(proc.returncode, proc.stdout, proc.stderr, results, stats)


@pytest.fixture(scope="session")
def fixture_repo(tmp_path_factory) -> Path:
    return build(tmp_path_factory.mktemp("fixture") / "self-hosted.git")


@pytest.fixture
def env(tmp_path, fixture_repo) -> Env:
    return Env(tmp=tmp_path, repo=fixture_repo, install_dir=tmp_path / "opt" / "sentry")
