"""Run a role against this machine in --check mode and read what happened.

The roles' preflight must refuse bad input before any task changes anything. These tests run
``ansible-playbook -c local --check`` with one bad variable and read the JSON callback's
per-task results: the run must fail, the failing task must be an argument-spec validation or a
preflight assert, its message must name the variable and what it accepts, and no task may have
reported a change before it. --check keeps this machine untouched even if a guard were missing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


@dataclass
class RoleRun:
    rc: int
    tasks: list[dict] = field(default_factory=list)  # [{"name", "changed", "failed", "messages"}] in run order
    stats: dict = field(default_factory=dict)
    output: str = ""

    @property
    def failed_task(self) -> dict | None:
        return next((t for t in self.tasks if t["failed"]), None)

    def changed_before_failure(self) -> list[str]:
        changed = []
        for task in self.tasks:
            if task["failed"]:
                break
            if task["changed"]:
                changed.append(task["name"])
        return changed

    @property
    def failure_message(self) -> str:
        task = self.failed_task
        return " ".join(task["messages"]) if task else ""


def _messages(result: dict) -> list[str]:
    found = []
    if isinstance(result.get("msg"), str):
        found.append(result["msg"])
    for item in result.get("results", []) or []:
        if isinstance(item, dict) and item.get("failed"):
            found.extend(_messages(item))
    return found


def _parse(stdout: str) -> tuple[list[dict], dict]:
    data = json.loads(stdout[stdout.index("{") :])
    tasks = []
    for play in data.get("plays", []):
        for task in play.get("tasks", []):
            result = task.get("hosts", {}).get("localhost", {})
            tasks.append(
                {
                    "name": task["task"]["name"],
                    "changed": bool(result.get("changed")),
                    "failed": bool(result.get("failed")) and not result.get("ignore_errors"),
                    "messages": _messages(result),
                }
            )
    return tasks, data.get("stats", {}).get("localhost", {})


@pytest.fixture
def run_role(tmp_path):
    """run_role(role, variables, tags=None) -> RoleRun; --check against localhost."""

    def _run(role: str, variables: dict, tags: str | None = None) -> RoleRun:
        playbook = tmp_path / "play.yml"
        playbook.write_text(
            f"- name: Run role {role}\n  hosts: localhost\n  gather_facts: false\n  roles:\n    - role: {role}\n"
        )
        extra = tmp_path / "vars.json"
        extra.write_text(json.dumps({"ansible_python_interpreter": sys.executable, **variables}))
        # The repository's settings, minus its human-oriented callbacks: only the JSON result on stdout.
        config = tmp_path / "ansible.cfg"
        config.write_text(
            "[defaults]\n"
            f"roles_path = {REPO / 'roles'}\n"
            f"collections_path = {REPO / 'deploy' / 'collections'}\n"
            "stdout_callback = ansible.posix.json\n"
            "error_on_undefined_vars = true\n"
            "retry_files_enabled = false\n"
            "localhost_warning = false\n"
            "[inventory]\n"
            "inventory_unparsed_warning = false\n"
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
        env.update(ANSIBLE_CONFIG=str(config), ANSIBLE_NOCOLOR="1")
        cmd = [
            str(REPO / ".venv" / "bin" / "ansible-playbook"),
            "-i",
            "localhost,",
            "-c",
            "local",
            "--check",
            str(playbook),
            "-e",
            f"@{extra}",
        ]
        if tags:
            cmd += ["--tags", tags]
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
        try:
            tasks, stats = _parse(proc.stdout)
        except ValueError:
            tasks, stats = [], {}
        return RoleRun(rc=proc.returncode, tasks=tasks, stats=stats, output=proc.stdout + proc.stderr)

    return _run


def fake_facts(distribution: str, version: str) -> dict:
    """ansible_facts of another platform (the roles gather facts only when none are given)."""
    return {
        "ansible_facts": {
            "distribution": distribution,
            "distribution_version": version,
            "distribution_major_version": version.split(".")[0],
            "distribution_release": "unknown",
            "os_family": "Debian" if distribution in ("Debian", "Ubuntu") else distribution,
            "architecture": "x86_64",
        }
    }


def evaluate_role_vars(tmp_path: Path, role: str, msg, variables: dict, check: bool = False):
    """Render `msg` (Jinja over the role's defaults and vars, plus `variables`) with ansible-playbook.

    Runs `-c local` with one debug task, so nothing is changed; returns the rendered value.
    """
    playbook = tmp_path / "evaluate.yml"
    playbook.write_text(
        "- name: Evaluate the role's expressions\n"
        "  hosts: localhost\n"
        "  gather_facts: false\n"
        "  vars_files:\n"
        f"    - {REPO / 'roles' / role / 'defaults/main.yml'}\n"
        f"    - {REPO / 'roles' / role / 'vars/main.yml'}\n"
        "  tasks:\n"
        "    - name: Show the value\n"
        "      ansible.builtin.debug:\n"
        f"        msg: {json.dumps(msg)}\n"
    )
    extra = tmp_path / "vars.json"
    extra.write_text(json.dumps(variables))
    config = tmp_path / "ansible.cfg"
    config.write_text("[defaults]\nstdout_callback = ansible.posix.json\nlocalhost_warning = false\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_CONFIG=str(config), ANSIBLE_NOCOLOR="1")
    cmd = [str(REPO / ".venv/bin/ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook)]
    cmd += ["-e", f"@{extra}"] + (["--check"] if check else [])
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    data = json.loads(proc.stdout[proc.stdout.index("{") :])
    return data["plays"][0]["tasks"][0]["hosts"]["localhost"]["msg"]
