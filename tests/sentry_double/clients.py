"""Run the real Sentry clients (sentry-sdk, sentry-cli) against a double or any Sentry.

``sdk_capture(dsn)`` raises and captures an exception carrying patient-like data with the real
sentry-sdk in a child process (the SDK's global state stays out of the test process) and
returns the event id, so a test can read the stored event back through the events endpoint.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

# Patient-like values the event carries; after scrubbing none of them may be stored.
PHI = {
    "email": "jane.doe@example.com",
    "ip_address": "203.0.113.7",
    "card": "4111 1111 1111 1111",
    "mrn": "DM-12345678",
    "password": "hunter2-secret",
}

_SCRIPT = r"""
import json, sys
import sentry_sdk

args = json.loads(sys.argv[1])
phi = args["phi"]
sentry_sdk.init(
    dsn=args["dsn"],
    environment=args["environment"],
    release=args["release"],
    send_default_pii=True,
    default_integrations=False,
)
sentry_sdk.set_user({"email": phi["email"], "ip_address": phi["ip_address"]})
sentry_sdk.set_context("patient", {"mrn": phi["mrn"]})
sentry_sdk.set_extra("payment", {"card": phi["card"], "password": phi["password"]})
sentry_sdk.set_tag("component", "dermai-test")


def classify(lesion_id, card=phi["card"], mrn=phi["mrn"]):
    raise ValueError("classification failed for lesion " + str(lesion_id))


try:
    classify(42)
except ValueError:
    event_id = sentry_sdk.capture_exception()
sentry_sdk.flush(timeout=10)
print(json.dumps({"event_id": event_id}))
"""


def sdk_capture(dsn: str, environment: str = "production", release: str = "dermai-api@test") -> str:
    """Capture one exception with the real sentry-sdk; return its event id."""
    payload = json.dumps({"dsn": dsn, "environment": environment, "release": release, "phi": PHI})
    result = subprocess.run(
        [sys.executable, "-c", _SCRIPT, payload],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])["event_id"]


def sentry_cli_path() -> str:
    """The sentry-cli binary installed next to this Python (the project's venv)."""
    candidate = Path(sys.executable).with_name("sentry-cli")
    return str(candidate) if candidate.exists() else "sentry-cli"


def sentry_cli(url: str, token: str, org: str, project: str, *args: str) -> subprocess.CompletedProcess[Any]:
    """Run ``sentry-cli <args>`` against ``url`` with a token, org and project from the environment."""
    env = dict(os.environ)
    env.update(
        {
            "SENTRY_URL": url,
            "SENTRY_AUTH_TOKEN": token,
            "SENTRY_ORG": org,
            "SENTRY_PROJECT": project,
            "SENTRY_DISABLE_UPDATE_CHECK": "1",
            "SENTRY_LOG_LEVEL": "info",
        }
    )
    env.pop("SENTRY_DSN", None)
    return subprocess.run([sentry_cli_path(), *args], env=env, capture_output=True, text=True, timeout=120, check=False)
