"""Converge benchmark: deploy/site.yml on a fresh local VM, then the no-op re-converge.

    make bench                              # with the other benchmarks (tests/bench/run.py)
    .venv/bin/python tests/bench/bench_converge.py   # alone, prints the results as JSON

Starts its own VM (LOCAL_VM_NAME=dermai-vm-bench, ports offset by BENCH_VM_PORT_OFFSET,
default 900, so it never touches a VM someone works on), prepares it like `make e2e`
(tests/e2e/prepare-local.sh), times the first converge and the second one, reads the
task counts from each PLAY RECAP and removes the VM. The image cache is reused, so VM
creation is not part of the converge times.

Targets: the no-op re-converge takes at most 25 % of the first converge and changes
nothing (changed=0 on every host).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
INVENTORY = "inventories/local"
SKIP_TAGS = "sentry_stack"
NOOP_TARGET_RATIO = 0.25

_RECAP_LINE = re.compile(
    r"^(?P<host>\S+)\s+:\s+ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)"
    r"\s+failed=(?P<failed>\d+)\s+skipped=(?P<skipped>\d+)",
    re.MULTILINE,
)


def parse_recap(output: str) -> dict[str, dict[str, int]]:
    """Per-host counters of the PLAY RECAP in an ansible-playbook output."""
    marker = output.rfind("PLAY RECAP")
    if marker < 0:
        raise ValueError("no PLAY RECAP in the output")
    return {
        match["host"]: {key: int(value) for key, value in match.groupdict().items() if key != "host"}
        for match in _RECAP_LINE.finditer(output, marker)
    }


def totals(recap: dict[str, dict[str, int]]) -> dict[str, int]:
    """Counters summed over hosts."""
    keys = ("ok", "changed", "unreachable", "failed", "skipped")
    return {key: sum(host[key] for host in recap.values()) for key in keys}


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{REPO / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["ANSIBLE_CONFIG"] = str(REPO / "ansible.cfg")
    env["ANSIBLE_NOCOLOR"] = "1"
    env["LOCAL_VM_NAME"] = env.get("BENCH_VM_NAME", "dermai-vm-bench")
    env["LOCAL_VM_PORT_OFFSET"] = env.get("BENCH_VM_PORT_OFFSET", "900")
    return env


def _timed(argv: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.monotonic()
    result = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} failed ({result.returncode}):\n{result.stdout[-3000:]}{result.stderr[-2000:]}"
        )
    return seconds, result.stdout


def _metric(metric: str, value: float, unit: str, target: str | None = None, ok: bool | None = None) -> dict:
    return {"metric": metric, "value": round(value, 2), "unit": unit, "target": target, "ok": ok}


def run() -> list[dict]:
    env = _env()
    converge = ["ansible-playbook", "-i", INVENTORY, "deploy/site.yml", "--skip-tags", SKIP_TAGS]
    destroy = ["ansible-playbook", "deploy/local_vm.yml", "-e", "local_vm_state=absent"]
    try:
        _timed(destroy, env)
        vm_seconds, _ = _timed(["ansible-playbook", "deploy/local_vm.yml"], env)
        _timed(["tests/e2e/prepare-local.sh"], env)
        first_seconds, first_out = _timed(converge, env)
        noop_seconds, noop_out = _timed(converge, env)
    finally:
        subprocess.run(destroy, cwd=REPO, env=env, capture_output=True, check=False)

    first, noop = totals(parse_recap(first_out)), totals(parse_recap(noop_out))
    ratio = noop_seconds / first_seconds
    return [
        _metric("local VM start (cached image)", vm_seconds, "s"),
        _metric("converge: first, fresh VM", first_seconds, "s"),
        _metric(
            "converge: no-op re-converge",
            noop_seconds,
            "s",
            f"<= {NOOP_TARGET_RATIO:.0%} of first",
            ratio <= NOOP_TARGET_RATIO,
        ),
        _metric("converge: no-op / first", ratio * 100, "%", f"<= {NOOP_TARGET_RATIO:.0%}", ratio <= NOOP_TARGET_RATIO),
        _metric("converge: no-op changed tasks", noop["changed"], "tasks", "0", noop["changed"] == 0),
        _metric("converge: first ok tasks", first["ok"], "tasks"),
        _metric("converge: first changed tasks", first["changed"], "tasks"),
        _metric("converge: first skipped tasks", first["skipped"], "tasks"),
        _metric("converge: no-op ok tasks", noop["ok"], "tasks"),
        _metric("converge: no-op skipped tasks", noop["skipped"], "tasks"),
    ]


if __name__ == "__main__":
    json.dump(run(), sys.stdout, indent=2)
    print()
