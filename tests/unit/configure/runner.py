"""Run the real deploy/configure.yml against a Sentry backend (used by the configure tests and the bench).

The backend is the Sentry API double started in-process on a free loopback port (its request log
lets tests assert which requests a run made). `configure` runs `ansible-playbook -i
inventories/standalone deploy/configure.yml` exactly as an operator would (`make configure` with
SENTRY_URL and SENTRY_TOKEN_FILE), writing the env files into a temporary directory.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[3]
PLAYBOOK = REPO / "deploy" / "configure.yml"
INVENTORY = REPO / "inventories" / "standalone"
ORG = "sentry"
RECAP = re.compile(r"^localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


@dataclass
class Backend:
    """A Sentry to configure: base URL, token, and (for the double) its request log."""

    url: str
    token: str
    url_prefix: str
    server: object = None
    metric_alerts: bool | None = True

    def requests_log(self) -> list[tuple[str, str, int]] | None:
        log = getattr(self.server, "requests", None)
        return None if log is None else [tuple(r) for r in log]

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(
            method,
            f"{self.url}/api/0/{path.lstrip('/')}",
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
            **kwargs,
        )


def start_double_backend(url_prefix: str | None = None) -> Backend:
    from tests.sentry_double.server import start_double

    server = start_double(host="127.0.0.1", port=0, url_prefix=url_prefix)
    return Backend(url=server.url.rstrip("/"), token=server.token, url_prefix=url_prefix or server.url, server=server)


@dataclass
class Run:
    rc: int
    stdout: str
    stderr: str
    env_dir: Path
    recap: dict = field(default_factory=dict)

    @property
    def changed(self) -> int:
        return self.recap["changed"]

    def changed_tasks(self) -> list[str]:
        """Names of the tasks that reported a change (for failure messages)."""
        tasks, current = [], None
        for line in self.stdout.splitlines():
            if line.startswith("TASK ["):
                current = line[6:].split("]", 1)[0]
            elif line.startswith("changed:") and current and current not in tasks:
                tasks.append(current)
        return tasks

    def env_file(self, name: str = "production") -> Path:
        return self.env_dir / f".env.{name}"

    def env_values(self, name: str = "production") -> dict[str, str]:
        values = {}
        for line in self.env_file(name).read_text().splitlines():
            if line and not line.startswith("#") and "=" in line:
                key, _, value = line.partition("=")
                values[key] = value
        return values


def playbook_command(
    backend: Backend, env_dir: Path, token: Path, *args: str, extra_vars: dict | None = None, env: dict | None = None
) -> tuple[list, dict]:
    """The ansible-playbook command line and its environment for `backend` (`token`: its token file, existing).

    extra_vars go in as one -e JSON; env is added to the environment last.
    """
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SENTRY_", "ANSIBLE_")) or k in ("ANSIBLE_HOME", "ANSIBLE_LOCAL_TEMP")
    }
    environ.update(
        PATH=f"{Path(sys.executable).parent}:{environ.get('PATH', '')}",
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        SENTRY_URL=backend.url,
        SENTRY_TOKEN_FILE=str(token),
        SENTRY_ENV_DIR=str(env_dir),
    )
    if backend.metric_alerts is not None:  # None: the inventory's default
        environ["SENTRY_METRIC_ALERTS"] = "true" if backend.metric_alerts else "false"
    environ.update(env or {})
    cmd = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(INVENTORY), str(PLAYBOOK), *args]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    return cmd, environ


def run_playbook(backend: Backend, env_dir: Path, token_file: Path, *args: str, timeout: int = 600, **options) -> Run:
    """Run deploy/configure.yml with the standalone inventory against `backend`, its token read from token_file."""
    cmd, environ = playbook_command(backend, env_dir, token_file, *args, **options)
    proc = subprocess.run(cmd, cwd=REPO, env=environ, capture_output=True, text=True, timeout=timeout, check=False)
    match = RECAP.search(proc.stdout)
    recap = {}
    if match:
        recap = dict(zip(("ok", "changed", "unreachable", "failed"), map(int, match.groups()), strict=True))
    return Run(proc.returncode, proc.stdout, proc.stderr, env_dir, recap)


def write_token(backend: Backend, token_file: Path) -> None:
    """The backend's token in a 0600 file, as the operator keeps it."""
    token_file.write_text(backend.token + "\n")
    token_file.chmod(0o600)


def run_configure(backend: Backend, env_dir: Path, token_file: Path, *args: str, **options) -> Run:
    """Run deploy/configure.yml against `backend` after writing its token into token_file (see run_playbook)."""
    write_token(backend, token_file)
    return run_playbook(backend, env_dir, token_file, *args, **options)


@contextmanager
def double_session(base: Path):
    """A fresh double for one module's runs: (backend, env_dir, configure(*args, **options) -> Run).

    The env files go to base/env, the token to base/token; the double is stopped on exit.
    """
    backend = start_double_backend()
    env_dir = base / "env"
    env_dir.mkdir()
    try:
        yield backend, env_dir, functools.partial(run_configure, backend, env_dir, base / "token")
    finally:
        backend.server.stop()


def assert_ok(run: Run) -> None:
    assert run.rc == 0 and run.recap.get("failed") == 0, f"configure failed\n{run.stdout[-6000:]}\n{run.stderr[-3000:]}"
