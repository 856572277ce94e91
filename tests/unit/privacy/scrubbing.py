"""Shared helpers of the privacy tests: the scrubbing a Sentry applies, and the corpus checks.

`configs_from_api(org_json, project_json)` rebuilds what Relay receives from the settings a
Sentry serves (GET organization / project details), merged as src/sentry/datascrubbing.py
does. `configs_from_defaults()` is the same for the role's defaults as the role sends them.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.phi import corpus
from tests.sentry_double.ingest import pii_configs_from_options, scrub_event

REPO = Path(__file__).resolve().parents[3]
DEFAULTS = REPO / "roles" / "sentry_config" / "defaults" / "main.yml"
PRIVACY_KEYS = ("dataScrubber", "dataScrubberDefaults", "scrubIPAddresses", "sensitiveFields", "safeFields")


def role_defaults() -> dict:
    return yaml.safe_load(DEFAULTS.read_text())


def org_options_from_defaults() -> dict:
    d = role_defaults()
    return {
        "dataScrubber": d["sentry_config_org_data_scrubber"],
        "dataScrubberDefaults": d["sentry_config_org_data_scrubber_defaults"],
        "scrubIPAddresses": d["sentry_config_org_scrub_ip_addresses"],
        "sensitiveFields": d["sentry_config_org_sensitive_fields"],
        "safeFields": d["sentry_config_org_safe_fields"],
        "relayPiiConfig": json.dumps(d["sentry_config_org_relay_pii_config"]),
    }


def project_options_from_defaults() -> dict:
    """The project takes the organization's three scrubbing switches (the role sets them on both)."""
    org = org_options_from_defaults()
    return {key: org[key] for key in ("dataScrubber", "dataScrubberDefaults", "scrubIPAddresses")}


def configs_from_defaults() -> list[dict]:
    return pii_configs_from_options(org_options_from_defaults(), project_options_from_defaults())


def configs_from_api(org_json: dict, project_json: dict) -> list[dict]:
    """The PII configs of one project, from the JSON its Sentry serves."""
    keys = (*PRIVACY_KEYS, "relayPiiConfig")
    org = {k: org_json.get(k) for k in keys}
    project = {k: project_json.get(k) for k in keys if project_json.get(k) is not None}
    return pii_configs_from_options(org, project)


def sentry_default_configs() -> list[dict]:
    """What a project gets with Sentry's own defaults (data scrubber + defaults, nothing else)."""
    return pii_configs_from_options({}, {})


def leaks(configs: list[dict]) -> list[str]:
    """Every (literal, event, path) of the PHI corpus that survives `configs`."""
    found = []
    for phi in corpus.PHI:
        for label, event in corpus.events_for(phi):
            for path in corpus.survivors(phi, scrub_event(event, configs)):
                found.append(f"{phi.kind} {phi.literal!r} ({label} event): {path}")
    return found


def lost_non_phi(configs: list[dict]) -> list[str]:
    lost = []
    for value, where in corpus.NON_PHI:
        if not corpus.found_at(scrub_event(corpus.non_phi_event(value, where), configs), value, where):
            lost.append(f"{value!r} at {where}")
    return lost
