"""tests/real_sentry/up.sh stops early with a message naming what is missing (no build, no server)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

UP = Path(__file__).resolve().parents[3] / "tests" / "real_sentry" / "up.sh"


def run_up(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("REAL_SENTRY_")}
    # An empty cache and ports nobody uses: nothing of a running test server is touched.
    environ.update(
        REAL_SENTRY_HOME=str(tmp_path / "home"),
        REAL_SENTRY_WEB_PORT="19299",
        REAL_SENTRY_PG_PORT="15499",
        REAL_SENTRY_REDIS_PORT="16399",
        **env,
    )
    return subprocess.run([str(UP)], env=environ, capture_output=True, text=True, timeout=120, check=False)


def test_without_python_38_up_fails_naming_it(tmp_path):
    proc = run_up(tmp_path, REAL_SENTRY_PYTHON="/bin/false")
    assert proc.returncode != 0
    assert "Python 3.8 not found" in proc.stderr and "REAL_SENTRY_PYTHON" in proc.stderr
    assert proc.stdout == ""
    assert not (tmp_path / "home" / "venv").exists()


def test_without_postgresql_up_fails_naming_the_package(tmp_path):
    proc = run_up(tmp_path, REAL_SENTRY_PG_BINDIR=str(tmp_path / "no-such-dir"))
    assert proc.returncode != 0
    assert "missing system packages: postgresql" in proc.stderr
    assert "apt-get install" in proc.stderr
