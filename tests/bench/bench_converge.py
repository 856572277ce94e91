"""Converge benchmark: deploy/site.yml on a fresh local VM, then the no-op re-converge.

    make bench                              # with the other benchmarks (tests/bench/run.py)
    .venv/bin/python -m tests.bench.bench_converge   # alone, prints the results as JSON

Starts its own VM (LOCAL_VM_NAME=dermai-vm-bench, ports offset by BENCH_VM_PORT_OFFSET,
default 900, so it never touches a VM someone works on), prepares it like `make e2e`
(tests/e2e/prepare-local.sh), times the first converge and the second one, reads the
task counts from each PLAY RECAP and removes the VM. The image cache is reused, so VM
creation is not part of the converge times.

The floor: 100 trivial tasks (ansible.builtin.ping) over the same SSH connection, the same
ansible.cfg and the same VM, timed in the same run. It is the cost of one task round trip on
this machine, so the no-op re-converge is also shown as "tasks x floor" (what it would cost if
every task were trivial) and as a ratio to that.

The mitogen strategy (an opt-in, `make deploy FAST=1`) is timed on the same no-op re-converge
when the `mitogen` package is installed in .venv; ansible-core deprecates third-party strategy
plugins, so it stays an opt-in.

Targets: the no-op re-converge takes at most 25 s and at most 100 tasks, at most 25 % of the
first converge, and changes nothing (changed=0 on every host).
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

from tests.bench.common import INVENTORY, REPO, ansible_env, capture

SKIP_TAGS = "sentry_stack"
# Targets of the no-op re-converge: seconds, tasks, share of the first converge.
NOOP_TARGETS = {"seconds": 25.0, "tasks": 100, "ratio": 0.25}
FLOOR_TASKS = 100

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
    return ansible_env(
        os.environ.get("BENCH_VM_NAME", "dermai-vm-bench"), os.environ.get("BENCH_VM_PORT_OFFSET", "900")
    )


def floor_playbook(tasks: int = FLOOR_TASKS) -> str:
    """A playbook of `tasks` trivial tasks against the sentry hosts, with the site's connection settings."""
    body = "".join(f"    - name: Trivial task {i}\n      ansible.builtin.ping:\n" for i in range(tasks))
    return f"---\n- name: Floor\n  hosts: sentry\n  become: true\n  gather_facts: false\n  tasks:\n{body}"


def mitogen_env(env: dict[str, str]) -> dict[str, str] | None:
    """The environment that turns on the mitogen_linear strategy, or None when mitogen is not installed."""
    where = "import ansible_mitogen, os; print(os.path.dirname(ansible_mitogen.__file__))"
    probe = capture([str(REPO / ".venv" / "bin" / "python"), "-c", where], env)
    if probe.returncode != 0:
        return None
    plugins = Path(probe.stdout.strip()) / "plugins" / "strategy"
    return dict(env, ANSIBLE_STRATEGY_PLUGINS=str(plugins), ANSIBLE_STRATEGY="mitogen_linear")


def _timed(argv: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.monotonic()
    result = capture(argv, env)
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
    floor_file = REPO / ".artifacts" / "bench" / "floor.yml"
    floor_file.parent.mkdir(parents=True, exist_ok=True)
    floor_file.write_text(floor_playbook())
    fast_env = mitogen_env(env)
    fast_seconds = fast_floor_seconds = None
    fast_out = ""
    try:
        _timed(destroy, env)
        vm_seconds, _ = _timed(["ansible-playbook", "deploy/local_vm.yml"], env)
        _timed(["tests/e2e/prepare-local.sh"], env)
        first_seconds, first_out = _timed(converge, env)
        noop_seconds, noop_out = _timed(converge, env)
        floor_seconds, _ = _timed(["ansible-playbook", "-i", INVENTORY, str(floor_file)], env)
        if fast_env is not None:
            fast_seconds, fast_out = _timed(converge, fast_env)
            fast_floor_seconds, _ = _timed(["ansible-playbook", "-i", INVENTORY, str(floor_file)], fast_env)
    finally:
        capture(destroy, env)

    first, noop = totals(parse_recap(first_out)), totals(parse_recap(noop_out))
    ratio = noop_seconds / first_seconds
    noop_tasks = noop["ok"] + noop["skipped"]
    per_task = floor_seconds / FLOOR_TASKS
    rows = [
        _metric(f"floor: {FLOOR_TASKS} trivial tasks, same SSH connection", floor_seconds, "s"),
        _metric("floor: one trivial task", per_task * 1000, "ms"),
        _metric(
            "converge: no-op re-converge, tasks run",
            noop_tasks,
            "tasks",
            f"<= {NOOP_TARGETS['tasks']}",
            noop_tasks <= NOOP_TARGETS["tasks"],
        ),
        _metric("converge: no-op at the floor (tasks x floor)", noop_tasks * per_task, "s"),
        _metric("converge: no-op / (tasks x floor)", noop_seconds / (noop_tasks * per_task), "x"),
        _metric(
            "converge: no-op re-converge wall time",
            noop_seconds,
            "s",
            f"<= {NOOP_TARGETS['seconds']:.0f} s",
            noop_seconds <= NOOP_TARGETS["seconds"],
        ),
    ]
    if fast_seconds is not None and fast_floor_seconds is not None:
        fast = totals(parse_recap(fast_out))
        rows += [
            _metric("converge: no-op with FAST=1 (mitogen_linear, opt-in)", fast_seconds, "s"),
            _metric("converge: mitogen speed-up on the no-op", noop_seconds / fast_seconds, "x"),
            _metric("converge: no-op with FAST=1 changed tasks", fast["changed"], "tasks", "0", fast["changed"] == 0),
            _metric(f"floor with FAST=1: {FLOOR_TASKS} trivial tasks", fast_floor_seconds, "s"),
            _metric(
                "converge: no-op with FAST=1 / (tasks x its floor)",
                fast_seconds / (noop_tasks * fast_floor_seconds / FLOOR_TASKS),
                "x",
            ),
        ]
    rows += [
        _metric("local VM start (cached image)", vm_seconds, "s"),
        _metric("converge: first, fresh VM", first_seconds, "s"),
        _metric(
            "converge: no-op re-converge",
            noop_seconds,
            "s",
            f"<= {NOOP_TARGETS['ratio']:.0%} of first",
            ratio <= NOOP_TARGETS["ratio"],
        ),
        _metric(
            "converge: no-op / first",
            ratio * 100,
            "%",
            f"<= {NOOP_TARGETS['ratio']:.0%}",
            ratio <= NOOP_TARGETS["ratio"],
        ),
        _metric("converge: no-op changed tasks", noop["changed"], "tasks", "0", noop["changed"] == 0),
        _metric("converge: first ok tasks", first["ok"], "tasks"),
        _metric("converge: first changed tasks", first["changed"], "tasks"),
        _metric("converge: first skipped tasks", first["skipped"], "tasks"),
        _metric("converge: no-op ok tasks", noop["ok"], "tasks"),
        _metric("converge: no-op skipped tasks", noop["skipped"], "tasks"),
    ]
    return rows


if __name__ == "__main__":
    json.dump(run(), sys.stdout, indent=2)
    print()
