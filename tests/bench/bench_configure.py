"""Bench: what a no-op deploy/configure.yml costs against the Sentry double.

Converges a fresh double once, then runs configure.yml again (nothing to change) and reports the
wall time of both runs and the number and kinds of API requests of the no-op run. Targets: the
no-op run writes nothing and makes at most one GET per managed object (plus pagination).
"""

from __future__ import annotations

import re
import tempfile
import time
from collections import Counter
from pathlib import Path

from tests.unit.configure.runner import run_configure, start_double_backend

# organization + team + 2 projects + 2 keys + 2x3 issue alerts + 2 metric alerts (role defaults)
MANAGED_OBJECTS = 14

KINDS = (
    ("alert-rules", re.compile(r"/alert-rules/")),
    ("issue-rules", re.compile(r"/rules/")),
    ("keys", re.compile(r"/keys/")),
    ("teams", re.compile(r"/teams/")),
    ("projects", re.compile(r"^/api/0/projects/[^/]+/[^/]+/(\?.*)?$")),
    ("organization", re.compile(r"^/api/0/organizations/[^/]+/(\?.*)?$")),
)


def kind_of(path: str) -> str:
    return next((name for name, pattern in KINDS if pattern.search(path)), "other")


def metric(name, value, unit, target=None, ok=None) -> dict:
    return {"metric": name, "value": float(value), "unit": unit, "target": target, "ok": ok}


def run() -> list[dict]:
    backend = start_double_backend()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            env_dir = Path(tmp) / "env"
            env_dir.mkdir()
            token = Path(tmp) / "token"
            start = time.monotonic()
            first = run_configure(backend, env_dir, token)
            first_wall = time.monotonic() - start
            if first.rc != 0:
                raise RuntimeError(f"configure failed:\n{first.stdout[-3000:]}")
            before = len(backend.requests_log())
            start = time.monotonic()
            second = run_configure(backend, env_dir, token)
            noop_wall = time.monotonic() - start
            if second.rc != 0:
                raise RuntimeError(f"configure (no-op) failed:\n{second.stdout[-3000:]}")
            log = backend.requests_log()[before:]
    finally:
        backend.server.stop()

    writes = sum(1 for method, _, _ in log if method != "GET")
    pages = sum(1 for _, path, _ in log if "cursor=" in path)
    budget = MANAGED_OBJECTS + pages
    results = [
        metric("configure first run wall time", first_wall, "s"),
        metric("configure no-op wall time", noop_wall, "s", "< 60 s", noop_wall < 60),
        metric("configure no-op changed tasks", second.changed, "tasks", "0", second.changed == 0),
        metric("configure no-op API requests", len(log), "requests", f"<= {budget}", len(log) <= budget),
        metric("configure no-op write requests", writes, "requests", "0", writes == 0),
    ]
    # Each project's issue rules and the organization's metric rules are listed once per run (the alert
    # modules take a batch of rules per call: `rules:`); more listings mean one call per rule.
    listings = Counter(path.split("?")[0] for method, path, _ in log if method == "GET" and "cursor=" not in path)
    rule_lists = [n for path, n in listings.items() if re.search(r"/projects/[^/]+/[^/]+/rules/$", path)]
    alert_lists = sum(n for path, n in listings.items() if re.search(r"/organizations/[^/]+/alert-rules/$", path))
    worst = max(rule_lists, default=0)
    results.append(metric("configure no-op issue-rule listings per project", worst, "requests", "<= 1", worst <= 1))
    results.append(metric("configure no-op metric-rule listings", alert_lists, "requests", "<= 1", alert_lists <= 1))
    for kind, count in sorted(Counter(kind_of(path) for _, path, _ in log).items()):
        results.append(metric(f"configure no-op GET {kind}", count, "requests"))
    return results


if __name__ == "__main__":
    for row in run():
        print(f"{row['metric']:<45} {row['value']:>10.2f} {row['unit']:<9} {row['target'] or '':<10} {row['ok']}")
