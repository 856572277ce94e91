"""The CI token kept by Sentry's own code on the Sentry host (tasks/ci.yml, tag sentry_stack).

Releases after 23.7.1 refuse an API token on an internal integration's token endpoints. With a
Sentry host in the inventory, deploy/configure.yml then runs roles/sentry_config/files/ci_token.py
with `sentry exec` in the stack's web container (`<sentry_compose_command> ... exec web sentry exec
-c <script>`), passes only the SHA-256 of the token it holds, and stores the token the script prints.

Here the double answers 403 on the token endpoints (as those releases do for a token), the Sentry
host is this machine, and `sentry_compose_command` is a stand-in for `docker compose` that records
what it was asked and answers with the script's contract (its header: one line
`DERMAI_CI_TOKEN {"changed", "token", "count"}`). What the script itself does to Sentry's models
is tested against the real Sentry 23.7.1 (test_real_sentry_ci.py); this file tests the wiring:
the arguments, the digest, check mode, rotation, the stored files and a failed run.
"""

from __future__ import annotations

import hashlib
import json
import stat
import sys
import textwrap

import pytest

from tests.unit.configure.runner import REPO, assert_ok, run_configure, start_double_backend
from tests.unit.releases.conftest import ci_file_values as values

pytestmark = pytest.mark.slow

HOST_TASK = "sentry_config : Keep the CI integration's one token with Sentry's own code"
FAIL_TASK = "sentry_config : Fail when Sentry's code could not keep the CI token"
SCRIPT = (REPO / "roles" / "sentry_config" / "files" / "ci_token.py").read_text()

# Stands in for `docker compose`: records each call, keeps the integration's tokens as SHA-256
# digests beside the state (like ApiToken.hashed_token) and answers as ci_token.py does.
FAKE_COMPOSE = textwrap.dedent(
    """\
    #!{python}
    import hashlib, json, os, pathlib, secrets, sys

    state = pathlib.Path({state!r})
    args = sys.argv[1:]
    env = dict(args[i + 1].split("=", 1) for i, a in enumerate(args) if a == "-e")
    calls = json.loads(state.read_text()) if state.exists() else {{"calls": [], "tokens": []}}
    calls["calls"].append({{"argv": args, "env": env, "cwd": os.getcwd()}})
    out = None
    if "DERMAI_APP_SLUG" in env and not (state.parent / "broken").exists():
        tokens = calls["tokens"]
        current = env["DERMAI_CURRENT_SHA256"]
        keep = None if env["DERMAI_ROTATE"] == "1" or not current else (current if current in tokens else None)
        others = [t for t in tokens if t != keep]
        new = None
        if env["DERMAI_CHECK"] != "1":
            if keep is None:
                new = "fake-" + secrets.token_hex(16)
                tokens.append(hashlib.sha256(new.encode()).hexdigest())
            calls["tokens"] = [t for t in tokens if t not in others]
        out = {{"changed": keep is None or bool(others), "token": new, "count": len(calls["tokens"])}}
    state.write_text(json.dumps(calls))
    print("Sentry's log lines come first")
    if out is not None:
        print("DERMAI_CI_TOKEN " + json.dumps(out))
    """
)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@pytest.fixture
def sentry_host(tmp_path):
    install = tmp_path / "self-hosted"
    install.mkdir()
    state = tmp_path / "compose-calls.json"
    fake = tmp_path / "fake-compose"
    fake.write_text(FAKE_COMPOSE.format(python=sys.executable, state=str(state)))
    fake.chmod(0o755)

    def calls() -> list[dict]:
        return json.loads(state.read_text())["calls"] if state.exists() else []

    extra = {
        "sentry_config_metric_alerts_enabled": False,
        "sentry_config_sentry_host": "localhost",
        "sentry_config_sentry_install_dir": str(install),
        "sentry_compose_command": str(fake),
        # The task becomes root on a real Sentry host; this machine runs the tests as its own user.
        "ansible_become": False,
    }
    return install, calls, extra


def test_the_ci_token_is_kept_by_sentrys_code_when_the_api_refuses_tokens(tmp_path, sentry_host):
    install, calls, extra = sentry_host
    backend = start_double_backend()
    try:
        # Releases after 23.7.1: a token gets 403 on the integration's token endpoints.
        backend.server.inject_fault(status=403, count=10_000, path=r"/sentry-apps/[^/]+/api-tokens/")
        env_dir = tmp_path / "env"
        env_dir.mkdir()
        token_file = tmp_path / "api-token"
        stored = tmp_path / "ci-token"

        def run(*args: str, **options):
            return run_configure(backend, env_dir, token_file, *args, **options)

        first = run("-vvv", extra_vars=extra)
        assert_ok(first)
        [app] = backend.server.state.data["sentry_apps"].values()
        [call] = [c for c in calls() if "DERMAI_APP_SLUG" in c["env"]]
        assert call["cwd"] == str(install)
        assert call["argv"][:6] == ["--env-file", ".env", "--env-file", ".env.custom", "exec", "--no-TTY"]
        assert call["argv"][-5:] == ["web", "sentry", "exec", "-c", SCRIPT.rstrip()]
        assert call["env"] == {
            "DERMAI_APP_SLUG": app["slug"],
            "DERMAI_CURRENT_SHA256": "",
            "DERMAI_ROTATE": "0",
            "DERMAI_CHECK": "0",
        }
        token = stored.read_text().strip()
        assert token.startswith("fake-")
        assert stat.S_IMODE(stored.stat().st_mode) == 0o600
        assert values(env_dir / ".env.ci")["SENTRY_AUTH_TOKEN"] == token
        assert f"[auth]\ntoken={token}\n" in (env_dir / ".sentryclirc").read_text()
        assert HOST_TASK in first.changed_tasks()
        assert token not in first.stdout + first.stderr

        # The next run hands over only the digest of the stored token; nothing changes.
        again = run("--tags", "sentry_config_ci", "-vvv", extra_vars=extra)
        assert_ok(again)
        assert calls()[-1]["env"]["DERMAI_CURRENT_SHA256"] == digest(token)
        assert again.changed == 0, again.changed_tasks()
        assert stored.read_text().strip() == token
        assert token not in again.stdout + again.stderr

        # --check: the script is told to report only.
        checked = run("--tags", "sentry_config_ci", "--check", extra_vars=extra)
        assert_ok(checked)
        assert calls()[-1]["env"]["DERMAI_CHECK"] == "1"
        assert stored.read_text().strip() == token

        # Rotation: a new token, stored and written to the CI files.
        rotate = dict(extra, sentry_config_ci_credential_rotate=True)
        rotated = run("--tags", "sentry_config_ci", extra_vars=rotate)
        assert_ok(rotated)
        assert calls()[-1]["env"]["DERMAI_ROTATE"] == "1"
        new = stored.read_text().strip()
        assert new != token and values(env_dir / ".env.ci")["SENTRY_AUTH_TOKEN"] == new

        # Sentry's code fails (no report line): the run fails with the task's message, the token stays.
        (tmp_path / "broken").touch()
        broken = run("--tags", "sentry_config_ci", extra_vars=extra)
        assert broken.rc != 0
        assert f"TASK [{FAIL_TASK}]" in broken.stdout
        assert "Keeping the CI token with `sentry exec` on localhost failed" in broken.stdout
        assert stored.read_text().strip() == new
        assert new not in broken.stdout + broken.stderr
    finally:
        backend.server.stop()
