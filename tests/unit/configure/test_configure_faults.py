"""A Sentry that dies, does not exist or never answered: the run fails fast, names the URL, writes nothing.

Times are measured against a baseline measured in the same session: a run that stops at the first
controller-side check (Ansible's start-up and the preflight, which any run pays on this machine). The
fault may cost at most 15 s on top of it (issue 12, item 4: a dead Sentry fails the run in <= 15 s).
"""

from __future__ import annotations

import json
import socket
import subprocess
import time

import pytest

from tests.unit.configure.runner import (
    REPO,
    Backend,
    playbook_command,
    run_configure,
    start_double_backend,
    write_token,
)

pytestmark = pytest.mark.slow

FAULT_BUDGET = 15.0


def _free_port() -> int:
    with socket.socket() as sock:  # a free port that nothing listens on afterwards
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _dead(url: str) -> Backend:
    """A Sentry nobody answers for at `url` (a well-formed token, metric alerts off)."""
    return Backend(url=url, token="sntryu_" + "0" * 64, url_prefix=url, metric_alerts=False)


def _timed(backend: Backend, tmp_path, *args, **kwargs):
    start = time.monotonic()
    run = run_configure(backend, tmp_path, tmp_path / "token", *args, **kwargs)
    return run, time.monotonic() - start


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """Seconds of a run that fails at the first controller-side check (no request)."""
    tmp = tmp_path_factory.mktemp("baseline")
    run, elapsed = _timed(
        _dead(f"http://127.0.0.1:{_free_port()}"), tmp, extra_vars={"sentry_config_org_safe_fields": "not-a-list"}
    )
    assert run.rc != 0 and "sentry_config_org_safe_fields" in run.stdout
    return elapsed


@pytest.fixture
def nobody_listening() -> Backend:
    return _dead(f"http://127.0.0.1:{_free_port()}")


def _fails_fast_naming_the_url(backend: Backend, tmp_path, baseline: float, capsys, fault: str):
    run, elapsed = _timed(backend, tmp_path)
    with capsys.disabled():
        print(f"\n{fault}: run failed after {elapsed:.1f} s (baseline {baseline:.1f} s)")
    assert run.rc != 0
    assert f"Sentry does not answer at {backend.url}/api/0/" in run.stdout
    assert elapsed - baseline <= FAULT_BUDGET
    return run


def test_unreachable_sentry_fails_fast_naming_the_url(nobody_listening, tmp_path, baseline, capsys):
    run = _fails_fast_naming_the_url(nobody_listening, tmp_path, baseline, capsys, "unreachable Sentry")
    assert not list(tmp_path.glob(".env*"))
    assert nobody_listening.token not in run.stdout + run.stderr


def test_a_name_that_does_not_resolve_fails_fast_without_retrying(tmp_path, baseline, capsys):
    backend = _dead("http://sentry.dermai.invalid")  # .invalid never resolves (RFC 6761)
    _fails_fast_naming_the_url(backend, tmp_path, baseline, capsys, "DNS failure")


def test_check_mode_against_an_unreachable_sentry_reports_and_writes_nothing(nobody_listening, tmp_path):
    run, _ = _timed(nobody_listening, tmp_path, "--check", "--diff")
    assert run.rc == 0, run.stdout[-3000:]
    assert "Check mode: Sentry's API at" in run.stdout
    assert not list(tmp_path.glob(".env*"))
    assert nobody_listening.token not in run.stdout


def test_sentry_killed_mid_run_fails_the_run_fast_and_writes_no_env_file(tmp_path, capsys):
    backend = start_double_backend()
    token_file = tmp_path / "token"
    write_token(backend, token_file)
    env_dir = tmp_path / "env"
    env_dir.mkdir()
    cmd, environ = playbook_command(backend, env_dir, token_file)
    proc = subprocess.Popen(cmd, cwd=REPO, env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 300
        # Kill Sentry once the first project exists: the keys and alerts are still to come.
        while not any(m == "POST" and p.endswith("/projects/") for m, p, _ in backend.requests_log()):
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < deadline, "the run never created a project"
            time.sleep(0.05)
        backend.server.stop()
        killed = time.monotonic()
        out, _ = proc.communicate(timeout=300)
        elapsed = time.monotonic() - killed
    finally:
        if proc.poll() is None:
            proc.kill()
    with capsys.disabled():
        print(f"\nSentry killed mid-run: the run failed {elapsed:.1f} s later")
    assert proc.returncode != 0
    assert f"The Sentry API step failed at {backend.url}" in out
    assert elapsed <= FAULT_BUDGET, out[-4000:]
    assert not list(env_dir.iterdir())
    assert backend.token not in out
    assert json.dumps(backend.token) not in out
