"""Fixtures for the dermai.sentry module tests.

Backends (SENTRY_TEST_BACKEND):
  double (default) - the project's Sentry double (tests/sentry_double), one per test;
  real   - an already running Sentry: SENTRY_TEST_URL + SENTRY_TEST_TOKEN (org slug `sentry`).
Client-fault tests (5xx, 429, timeouts, dropped answers, small pages) always use the double through the
`fake` fixture, which arms its fault injection and seeds its state directly.
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
import time
from pathlib import Path
from unittest import mock

import pytest

# This collection lives in the deployment bundle at deploy/collections/; the tests use the bundle's Sentry
# double (tests/sentry_double), so they run from the bundle's checkout (`pytest` at its root).
REPO = next(p for p in Path(__file__).resolve().parents if (p / "tests" / "sentry_double").is_dir())
COLLECTIONS = REPO / "deploy" / "collections"
for _path in (str(COLLECTIONS), str(REPO)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from tests.sentry_double.serializers import dsn_block
from tests.sentry_double.server import start_double

MODULES = "ansible_collections.dermai.sentry.plugins.modules."
API = importlib.import_module("ansible_collections.dermai.sentry.plugins.module_utils.sentry_api")


def backend_kind():
    return os.environ.get("SENTRY_TEST_BACKEND") or "double"


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
    server = start_double(host="127.0.0.1", port=0)
    try:
        yield Backend(kind, server.url, server.token, server)
    finally:
        server.stop()


class Fault:
    """A fault to arm on the double: answer `times` matching calls with `status` (None: drop the connection),
    after `delay` seconds; apply=True carries the call out first (the answer got lost, the work was done)."""

    def __init__(self, method, path_re, status, body=None, headers=None, times=1, delay=0.0, apply=False):
        self.spec = dict(
            method=method,
            path=path_re,
            status=status or 599,
            body=body,
            headers=headers,
            count=times,
            delay=delay,
            drop=status is None,
            apply=apply,
        )


class _Faults:
    def __init__(self, server):
        self.server = server

    def append(self, fault):
        self.server.inject_fault(**fault.spec)


class FaultyDouble:
    """The Sentry double with the helpers of the client-fault tests: faults, page size, seeded objects."""

    def __init__(self, **kwargs):
        self.server = start_double(host="127.0.0.1", port=0, **kwargs)
        self.url, self.token = self.server.url, self.server.token
        self.state = self.server.state
        self.faults = _Faults(self.server)

    def stop(self):
        self.server.stop()

    @property
    def requests(self):
        return self.server.requests

    @property
    def bodies(self):
        return self.server.bodies

    def writes(self):
        return [r for r in self.server.requests if r[0] in ("POST", "PUT", "DELETE")]

    @property
    def page_size(self):
        return self.server.api.page_size

    @page_size.setter
    def page_size(self, value):
        self.server.api.page_size = value

    def get(self, path):
        """GET through the collection's own client (the double's view of an object)."""
        return API.SentryClient(self.url, self.token).get(path)

    def add_team(self, slug, name=None):
        with self.state.lock:
            return self.state.create_team("sentry", slug, name or slug)

    def add_project(self, slug, team="sentry"):
        with self.state.lock:
            team_id = self.state.find_team("sentry", team)["id"]
            return self.state.create_project("sentry", team_id, slug, slug, None, default_rules=False)

    def add_key(self, project, name):
        """A key made outside the module; returns its public DSN."""
        time.sleep(0.002)  # keys are ordered by their millisecond creation time
        with self.state.lock:
            key = self.state.create_key(project["id"], name, None)
        return dsn_block(self.server.url_prefix, project["id"], key["public"], key["secret"])["public"]

    def keys(self, project):
        """(name, public DSN, active) of the project's keys, oldest first."""
        with self.state.lock:
            rows = sorted(self.state.keys_of(project["id"]), key=lambda k: k["pk"])
            return [
                (
                    k["label"],
                    dsn_block(self.server.url_prefix, project["id"], k["public"], k["secret"])["public"],
                    k["isActive"],
                )
                for k in rows
            ]

    def add_rule(self, project, body):
        with self.state.lock:
            return self.state.create_rule(project["id"], body, None)

    def rule_names(self, project):
        with self.state.lock:
            return [r["name"] for r in reversed(self.state.rules_of(project["id"]))]

    def alert_rule_names(self):
        with self.state.lock:
            rows = sorted(self.state.data["alert_rules"].values(), key=lambda a: int(a["id"]))
            return [a["name"] for a in rows]


def issue_rule(server, project="web", name="r", **extra):
    """sentry_issue_alert arguments of a minimal rule on `server`: first seen event -> e-mail the issue owners."""
    args = dict(url=server.url, token=server.token, organization="sentry", project=project, name=name)
    args.update(conditions=[{"id": "sentry.rules.conditions.first_seen_event.FirstSeenEventCondition"}])
    args.update(actions=[{"id": "sentry.mail.actions.NotifyEmailAction", "targetType": "IssueOwners"}])
    args.update(extra)
    return args


@pytest.fixture
def fake():
    """The Sentry double armed for client faults (5xx, 429, timeouts, lost answers) and small pages."""
    server = FaultyDouble()
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


def refused_before_any_request(fake, module, args, message):
    """`module` run with `args` on the double fails with `message` and has sent no request at all."""
    result = run_module(module, dict(args, url=fake.url, token=fake.token))
    assert result["failed"]
    assert message in result["msg"]
    assert fake.requests == []


def deletes_then_no_op(backend, module, args, gone):
    """Made from `args`, state=absent deletes the object (changed, gone() is true), and again changes and writes
    nothing."""
    run_module(module, args)
    assert run_module(module, dict(args, state="absent"))["changed"]
    assert gone()
    mark = backend.mark()
    assert run_module(module, dict(args, state="absent"))["changed"] is False
    assert backend.writes_since(mark) in (None, [])


def converges(tmp_path, backend, task):
    """Run `task` twice with real ansible-playbook: the first run (with --diff) changes, the second changes nothing.
    Returns the first run's task result and output."""
    rc, results, _stats, out = run_playbook(tmp_path, backend, [task], diff=True)
    assert rc == 0 and results[0]["changed"], out
    rc, _results, stats, again = run_playbook(tmp_path, backend, [task])
    assert rc == 0 and stats["changed"] == 0, again
    return results[0], out


def dedent_yaml(text):
    return textwrap.dedent(text)
