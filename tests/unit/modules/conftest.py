"""Fixtures for the dermai.sentry module tests.

Backends (SENTRY_TEST_BACKEND):
  double (default when tests/sentry_double is importable) - the project's Sentry double, one per test;
  fake   - tests/unit/modules/fake_sentry.py (fallback, and always the server of client-fault tests);
  real   - an already running Sentry: SENTRY_TEST_URL + SENTRY_TEST_TOKEN (org slug `sentry`).
Modules run in-process (AnsibleModule with patched exit/fail) for speed, and through real
`ansible-playbook` in the test_*_playbook tests.
"""

from __future__ import annotations

import importlib
import json
import os
import secrets
import subprocess
import sys
import textwrap
from pathlib import Path
from unittest import mock

import pytest

REPO = Path(__file__).resolve().parents[3]
COLLECTIONS = REPO / "deploy" / "collections"
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from tests.unit.modules.fake_sentry import FakeSentry

MODULES = "ansible_collections.dermai.sentry.plugins.modules."
API = importlib.import_module("ansible_collections.dermai.sentry.plugins.module_utils.sentry_api")


def _double_available():
    try:
        importlib.import_module("tests.sentry_double.server")
    except ImportError:
        return False
    return True


def backend_kind():
    kind = os.environ.get("SENTRY_TEST_BACKEND")
    if kind:
        return kind
    return "double" if _double_available() else "fake"


class Backend:
    """url + token of a Sentry to test against, and its request log when it has one."""

    def __init__(self, kind, url, token, server=None):
        self.kind, self.url, self.token, self.server = kind, url.rstrip("/"), token, server

    @property
    def logged(self):
        return self.server is not None and hasattr(self.server, "requests")

    def mark(self):
        return len(self.server.requests) if self.logged else 0

    def writes_since(self, mark):
        """Write requests (POST/PUT/DELETE) since `mark`; None when the backend keeps no log (real Sentry)."""
        if not self.logged:
            return None
        return [(r[0], r[1]) for r in list(self.server.requests)[mark:] if r[0] in ("POST", "PUT", "DELETE")]

    def conn(self):
        return {"url": self.url, "token": self.token}


@pytest.fixture
def backend():
    kind = backend_kind()
    if kind == "real":
        url, token = os.environ.get("SENTRY_TEST_URL"), os.environ.get("SENTRY_TEST_TOKEN")
        if not url or not token:
            pytest.skip("SENTRY_TEST_BACKEND=real needs SENTRY_TEST_URL and SENTRY_TEST_TOKEN")
        yield Backend(kind, url, token)
        return
    if kind == "double":
        start_double = importlib.import_module("tests.sentry_double.server").start_double
        server = start_double(host="127.0.0.1", port=0)
    else:
        server = FakeSentry()
    try:
        yield Backend(kind, server.url, server.token, server)
    finally:
        server.stop()


@pytest.fixture
def fake():
    """The controllable fake (fault injection, small pages) - client-fault tests always use it."""
    server = FakeSentry()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def uid():
    """A suffix that keeps names unique on a shared (real) backend."""
    return secrets.token_hex(3)


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    """Retries never wait in tests; the delays asked for are recorded."""
    delays = []
    monkeypatch.setattr(API, "SLEEP", delays.append)
    return delays


class _Exit(Exception):
    def __init__(self, result):
        super().__init__(result)
        self.result = result


def run_module(name, args, check=False, diff=True):
    """Run a module in-process like Ansible would; returns its result dict (failed=True on fail_json)."""
    module = importlib.import_module(MODULES + name)
    args = dict(args, _ansible_check_mode=check, _ansible_diff=diff)

    def exit_json(self, **kwargs):
        raise _Exit(dict(kwargs, failed=False))

    def fail_json(self, msg, **kwargs):
        raise _Exit(dict(kwargs, msg=msg, failed=True))

    with (
        patch_module_args(args),
        mock.patch.object(basic.AnsibleModule, "exit_json", exit_json),
        mock.patch.object(basic.AnsibleModule, "fail_json", fail_json),
    ):
        try:
            module.main()
        except _Exit as done:
            return done.result
    raise AssertionError(f"{name} returned without exit_json/fail_json")


def run_playbook(tmp_path, backend, tasks, check=False, diff=False):
    """Run `tasks` on localhost with real ansible-playbook; returns (rc, per-task results, stats, output)."""
    play = [
        {
            "name": "Module test",
            "hosts": "localhost",
            "gather_facts": False,
            "module_defaults": {"group/dermai.sentry.sentry": {"url": backend.url}},
            "tasks": tasks,
        }
    ]
    book = tmp_path / "play.yml"
    book.write_text(json.dumps(play))
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
        ANSIBLE_LOCALHOST_WARNING="false",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
        SENTRY_AUTH_TOKEN=backend.token,
    )
    cmd = [
        str(Path(sys.executable).with_name("ansible-playbook")),
        "-i",
        "localhost,",
        "-c",
        "local",
        "-e",
        f"ansible_python_interpreter={sys.executable}",
        str(book),
    ]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    try:
        # ansible.cfg's profile_tasks callback prints a recap after the JSON document.
        out, _end = json.JSONDecoder().raw_decode(proc.stdout[proc.stdout.index("{") :])
    except ValueError:
        raise AssertionError(f"ansible-playbook output is not JSON:\n{proc.stdout}\n{proc.stderr}") from None
    results = [t["hosts"]["localhost"] for t in out["plays"][0]["tasks"]]
    return proc.returncode, results, out["stats"]["localhost"], proc.stdout + proc.stderr


def dedent_yaml(text):
    return textwrap.dedent(text)
