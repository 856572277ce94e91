"""Fixtures of the audit-log exporter tests: the exporter module, a Sentry double, restic repositories.

The exporter (roles/audit_log/files/sentry_audit_export.py) is imported from the role's file, the
very file the role installs on the host. Destinations are real restic repositories: a local one in
the test's directory and a REST one served by `rclone serve restic` on 127.0.0.1 (a remote
repository as the host sees it).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.sentry_double.server import start_double
from tests.unit.real_sentry.conftest import real_api, real_sentry  # noqa: F401 (fixtures of the real-Sentry tests)
from tests.unit.roles.conftest import run_role  # noqa: F401 (the preflight tests' fixture)

REPO = Path(__file__).resolve().parents[3]
EXPORTER = REPO / "roles" / "audit_log" / "files" / "sentry_audit_export.py"
EXPORT_SCOPES = ["org:write"]
EXPORT_TOKEN = "sntryu_" + "a" * 64


def load_exporter():
    spec = importlib.util.spec_from_file_location("sentry_audit_export", EXPORTER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def exporter():
    return load_exporter()


@pytest.fixture
def double():
    # Its public URL is not where the exporter reaches it (as on a host behind the TLS proxy):
    # the exporter must page on its own address, not follow the Link URLs.
    handle = start_double(url_prefix="https://sentry.dermai.invalid", extra_tokens={EXPORT_TOKEN: EXPORT_SCOPES})
    yield handle
    handle.stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Repository:
    """A restic repository and the commands to read it back."""

    def __init__(self, location: str, password_file: Path):
        self.location = location
        self.password_file = password_file

    def restic(self, *args: str) -> subprocess.CompletedProcess:
        env = {
            "RESTIC_REPOSITORY": self.location,
            "RESTIC_PASSWORD_FILE": str(self.password_file),
            "PATH": "/usr/bin:/bin",
        }
        return subprocess.run(["restic", "--no-cache", *args], capture_output=True, text=True, env=env, check=True)

    def snapshots(self) -> list[dict]:
        return json.loads(self.restic("snapshots", "--json").stdout or "[]")

    def rows(self) -> list[dict]:
        """Every exported row, in the order of the batches (snapshot time), then of the lines."""
        rows = []
        for snap in sorted(self.snapshots(), key=lambda s: s["time"]):
            name = next(t for t in snap["tags"] if t.startswith("batch:"))[len("batch:") :]
            text = self.restic("dump", snap["short_id"], f"/{name}.jsonl").stdout
            rows += [json.loads(line) for line in text.splitlines() if line]
        return rows


@pytest.fixture
def password_file(tmp_path) -> Path:
    path = tmp_path / "restic-password"
    path.write_text("audit-test-password\n")
    path.chmod(0o600)
    return path


@pytest.fixture
def local_repo(tmp_path, password_file) -> Repository:
    return Repository(str(tmp_path / "repo"), password_file)


@pytest.fixture
def rest_repo(tmp_path, password_file):
    """A REST restic repository on 127.0.0.1 (rclone serve restic), append-only like a hardened one."""
    if shutil.which("rclone") is None:
        pytest.fail("rclone is missing (deploy/bin/test-packages.txt lists it)")
    port = _free_port()
    root = tmp_path / "rest-root"
    root.mkdir()
    proc = subprocess.Popen(
        ["rclone", "serve", "restic", "--append-only", "--addr", f"127.0.0.1:{port}", str(root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    yield Repository(f"rest:http://127.0.0.1:{port}/", password_file)
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def make_config(tmp_path, password_file):
    """Write an exporter configuration for `sentry_url`/`orgs`/`repository`; returns its path."""

    def make(sentry_url: str, orgs: list[str], repository: str, token: str = EXPORT_TOKEN, **extra) -> Path:
        token_file = tmp_path / "token"
        token_file.write_text(token + "\n")
        token_file.chmod(0o600)
        destination = {
            "type": "restic",
            "repository": repository,
            "password_file": str(password_file),
            "keep_within": "6y",
            "tag": "sentry-audit-log",
        }
        destination.update(extra.pop("destination", {}))
        config = {
            "sentry_url": sentry_url,
            "organizations": orgs,
            "token_file": str(token_file),
            "state_dir": str(tmp_path / "state"),
            "per_page": 100,
            "overlap_seconds": 900,
            "timeout": 10,
            "retries": 2,
            "backoff": 0.05,
            "destination_timeout": 60,
            "destination": destination,
        }
        config.update(extra)
        path = tmp_path / "config.json"
        path.write_text(json.dumps(config))
        return path

    return make
