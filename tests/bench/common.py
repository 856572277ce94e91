"""What the benchmarks that drive the local VM share: the repository, the inventory, the
environment of an ansible command, and running one (tests/bench/bench_converge.py, bench_proxy.py)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
INVENTORY = "inventories/local"


def ansible_env(vm_name: str | None = None, offset: str | None = None) -> dict[str, str]:
    """This environment with the repository's .venv and ansible.cfg; LOCAL_VM_* set when a VM is named."""
    env = dict(os.environ)
    env["PATH"] = f"{REPO / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["ANSIBLE_CONFIG"] = str(REPO / "ansible.cfg")
    env["ANSIBLE_NOCOLOR"] = "1"
    if vm_name:
        env["LOCAL_VM_NAME"] = vm_name
        env["LOCAL_VM_PORT_OFFSET"] = offset or "0"
    return env


def capture(argv: list[str], env: dict[str, str], timeout: float | None = None) -> subprocess.CompletedProcess:
    """Run `argv` in the repository with `env`, output captured as text; the caller reads the exit code."""
    return subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False)
