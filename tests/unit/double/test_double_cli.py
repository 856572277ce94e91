"""The double as a process: python -m tests.sentry_double with a token file."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_cli_creates_a_private_token_file_and_accepts_that_token(tmp_path):
    token_file = tmp_path / "api-token"
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.sentry_double", "--port", str(port), "--token-file", str(token_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=REPO,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/_health/", timeout=1).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        token = token_file.read_text().strip()
        assert oct(token_file.stat().st_mode & 0o777) == "0o600"
        response = requests.get(
            f"http://127.0.0.1:{port}/api/0/organizations/sentry/",
            headers={"Authorization": f"Bearer {token}"},
            timeout=5,
        )
        assert response.status_code == 200
    finally:
        proc.terminate()
        output = proc.communicate(timeout=10)[0].decode()
    assert token not in output


def test_vm_playbook_passes_the_syntax_check():
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("ansible-playbook")),
            "--syntax-check",
            "-i",
            "inventories/local",
            "tests/e2e/sentry_double_vm.yml",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
