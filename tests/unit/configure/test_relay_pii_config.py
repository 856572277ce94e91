"""The role's default advanced scrubbing config is valid for Relay and strips DermAI's PHI patterns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

sentry_relay = pytest.importorskip("sentry_relay")

DEFAULTS = Path(__file__).resolve().parents[3] / "roles" / "sentry_config" / "defaults" / "main.yml"


@pytest.fixture(scope="module")
def pii_config() -> dict:
    return yaml.safe_load(DEFAULTS.read_text())["sentry_config_org_relay_pii_config"]


def scrub(config: dict, event: dict) -> dict:
    return sentry_relay.pii_strip_event(config, event)


def test_default_pii_config_is_accepted_by_relay(pii_config):
    assert sentry_relay.validate_pii_config(json.dumps(pii_config)) is None


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Fetching patient 12345", "12345"),
        ("lookup failed for patient_id=DM-20240117", "DM-20240117"),
        ("MRN: 00123456 not found", "00123456"),
        ("mail to jane.doe@example.org bounced", "jane.doe@example.org"),
        ("call (415) 555-2671 later", "555-2671"),
        ("ssn 123-45-6789 on file", "123-45-6789"),
    ],
)
def test_default_pii_config_replaces_patient_identifiers_in_messages(pii_config, text, secret):
    event = {"logentry": {"formatted": text}, "extra": {"note": text}}
    scrubbed = json.dumps(scrub(pii_config, event)["logentry"]) + json.dumps(scrub(pii_config, event)["extra"])
    assert secret not in scrubbed


def test_default_pii_config_keeps_ordinary_text(pii_config):
    event = {"logentry": {"formatted": "patient records endpoint timed out after 30 s"}}
    assert scrub(pii_config, event)["logentry"]["formatted"] == "patient records endpoint timed out after 30 s"


def test_default_pii_config_drops_user_identity_and_frame_variables(pii_config):
    event = {
        "user": {"id": "42", "email": "x@y.z", "username": "jdoe", "ip_address": "203.0.113.7"},
        "exception": {
            "values": [
                {
                    "type": "ValueError",
                    "value": "bad input",
                    "stacktrace": {"frames": [{"function": "f", "vars": {"patient_name": "Jane Doe"}}]},
                }
            ]
        },
    }
    scrubbed = scrub(pii_config, event)
    user = scrubbed.get("user", {})
    assert user.get("email") is None
    assert user.get("username") is None
    assert user.get("ip_address") is None
    assert "Jane Doe" not in json.dumps(scrubbed["exception"])
