"""The app's view: sentry-sdk initialised from the written .env.production reaches Sentry, and PHI is scrubbed."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import pytest

from tests.unit.configure.runner import ORG, assert_ok

pytestmark = pytest.mark.slow

# A FastAPI-style handler as in DermAI's guide, with its PHI mistakes: the user's e-mail, the
# patient id in a message and a tag, and PHI in a local variable of the failing frame.
APP = textwrap.dedent(
    """
    import sys

    import sentry_sdk

    env = dict(
        line.split("=", 1) for line in open(sys.argv[1]).read().splitlines() if line and not line.startswith("#")
    )
    sentry_sdk.init(
        dsn=env["SENTRY_DSN"],
        environment=env["SENTRY_ENVIRONMENT"],
        traces_sample_rate=float(env["SENTRY_TRACES_SAMPLE_RATE"]),
        default_integrations=False,
    )
    sentry_sdk.set_user({"id": "u-7", "email": "jane.doe@example.org", "ip_address": "203.0.113.7"})
    sentry_sdk.set_tag("patient_id", "DM-20240117")

    def get_patient(patient_id):
        patient_name = "Jane Q. Public"
        raise LookupError(f"Fetching patient {patient_id} failed, call (415) 555-2671")

    try:
        get_patient("DM-20240117")
    except LookupError as exc:
        print(sentry_sdk.capture_exception(exc))
    sentry_sdk.flush(timeout=10)
    """
)

PHI = ("jane.doe@example.org", "203.0.113.7", "DM-20240117", "555-2671", "Jane Q. Public")


def send_from_app(env_file) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", APP, str(env_file)], capture_output=True, text=True, timeout=60, check=True
    )
    return proc.stdout.strip().splitlines()[-1]


def fetch_event(backend, project: str, event_id: str) -> dict:
    deadline = time.monotonic() + 30
    while True:
        resp = backend.api("GET", f"projects/{ORG}/{project}/events/{event_id}/")
        if resp.status_code == 200:
            return resp.json()
        assert time.monotonic() < deadline, f"event {event_id} never stored: {resp.status_code} {resp.text}"
        time.sleep(0.5)


def test_sdk_event_sent_with_the_env_production_dsn_is_stored_without_phi(backend_factory, configure):
    backend = backend_factory()
    run = configure(backend, "--tags", "sentry_config_organization,sentry_config_env_files")
    assert_ok(run)
    event_id = send_from_app(run.env_file())
    assert len(event_id) == 32
    event = fetch_event(backend, "dermai-api", event_id)
    stored = json.dumps(event)
    assert "LookupError" in stored
    assert {"key": "environment", "value": "production"} in event["tags"]
    leaked = [value for value in PHI if value in stored]
    assert leaked == [], f"PHI stored by Sentry: {leaked}"
