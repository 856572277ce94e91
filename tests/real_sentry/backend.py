"""The real Sentry 23.7.1 server as a test backend (see tests/real_sentry/up.sh).

`start_real_sentry()` builds (once, cached in .real-sentry/) and starts the server through up.sh and
returns a `RealSentry` with the URL and the token read from the 0600 token file.

Policy (the issue's "a failure to build must fail the tests in CI"):
- REAL_SENTRY_URL + REAL_SENTRY_TOKEN_FILE in the environment: use that server as it is (no up.sh), e.g.
  a self-hosted 26.x on loopback.
- REAL_SENTRY=0: skip, with the reason; refused when CI=true (the suite must not lose the real server
  silently in CI).
- otherwise run up.sh; any failure is a test failure with the tail of its output, never a skip.

Test code should call `shared_real_sentry()`: one server per pytest process, shared by every test
directory, stopped at exit when this process started it (REAL_SENTRY_KEEP=1 keeps it running).
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import json
import os
import pathlib
import subprocess
import urllib.error
import urllib.request

HERE = pathlib.Path(__file__).resolve().parent
UP = HERE / "up.sh"
DOWN = HERE / "down.sh"
VERSION = "23.7.1"
BUILD_TIMEOUT_S = 1800


class RealSentryUnavailable(Exception):
    """up.sh failed or the server is unusable; the message says why."""


class RealSentrySkipped(Exception):
    """The operator opted out (REAL_SENTRY=0) outside CI."""


@dataclasses.dataclass(frozen=True)
class RealSentry:
    url: str
    token: str = dataclasses.field(repr=False)
    token_file: pathlib.Path
    version: str
    started_here: bool

    def stop(self) -> None:
        subprocess.run([str(DOWN)], check=True, timeout=120)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/_health/", timeout=3) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _read_token(path: pathlib.Path) -> str:
    token = path.read_text(encoding="utf-8").strip()
    if not token:
        raise RealSentryUnavailable(f"token file {path} is empty")
    return token


def _parse(stdout: str) -> dict[str, str]:
    out = {}
    for line in stdout.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.startswith("REAL_SENTRY_"):
            out[key] = value.strip()
    return out


def start_real_sentry() -> RealSentry:
    if os.environ.get("REAL_SENTRY") == "0":
        if in_ci():
            raise RealSentryUnavailable("REAL_SENTRY=0 is not honoured in CI: the real Sentry tests must run there")
        raise RealSentrySkipped("REAL_SENTRY=0: real Sentry 23.7.1 tests disabled by the operator")

    ext_url, ext_token = os.environ.get("REAL_SENTRY_URL"), os.environ.get("REAL_SENTRY_TOKEN_FILE")
    if ext_url and ext_token:
        url = ext_url.rstrip("/")
        if not _answers(url):
            raise RealSentryUnavailable(f"REAL_SENTRY_URL={url} does not answer /_health/")
        path = pathlib.Path(ext_token)
        return RealSentry(url, _read_token(path), path, os.environ.get("REAL_SENTRY_VERSION", "external"), False)

    port = os.environ.get("REAL_SENTRY_WEB_PORT", "19231")
    was_up = _answers(f"http://127.0.0.1:{port}")
    try:
        proc = subprocess.run(
            [str(UP)], capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, stdin=subprocess.DEVNULL, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise RealSentryUnavailable(f"{UP} did not finish within {BUILD_TIMEOUT_S} s") from exc
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        raise RealSentryUnavailable(f"{UP} failed (rc={proc.returncode}):\n{tail}")
    info = _parse(proc.stdout)
    try:
        url, token_file = info["REAL_SENTRY_URL"], pathlib.Path(info["REAL_SENTRY_TOKEN_FILE"])
    except KeyError as exc:
        raise RealSentryUnavailable(f"{UP} printed no {exc.args[0]} line") from exc
    mode = token_file.stat().st_mode & 0o777
    if mode & 0o077:
        raise RealSentryUnavailable(f"token file {token_file} has mode {mode:04o}; expected 0600")
    return RealSentry(url, _read_token(token_file), token_file, VERSION, not was_up)


_SHARED: RealSentry | None = None


def _stop_at_exit(server: RealSentry) -> None:
    with contextlib.suppress(subprocess.SubprocessError, OSError):
        server.stop()


def shared_real_sentry() -> RealSentry:
    """The real server for this pytest process (started once; stopped at exit if started here)."""
    global _SHARED
    if _SHARED is None:
        _SHARED = start_real_sentry()
        if _SHARED.started_here and os.environ.get("REAL_SENTRY_KEEP") != "1":
            atexit.register(_stop_at_exit, _SHARED)
    return _SHARED


def sentry_exec(script: pathlib.Path, marker: str, env: dict[str, str]) -> dict:
    """Run `script` with `sentry exec -c` on the server's own venv and configuration, as the role runs it in
    Sentry's web container; the JSON its output prints after `marker` (the one line that starts with it)."""
    home = pathlib.Path(os.environ.get("REAL_SENTRY_HOME", HERE.parents[1] / ".real-sentry"))
    proc = subprocess.run(
        [str(home / "venv" / "bin" / "sentry"), "exec", "-c", script.read_text()],
        env=dict(os.environ, SENTRY_CONF=str(home / "conf"), **env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    [line] = [ln for ln in proc.stdout.splitlines() if ln.startswith(f"{marker} ")]
    return json.loads(line.split(" ", 1)[1])
