"""The role's default privacy settings, through Relay's PII engine, against the PHI corpus.

Relay normalises an event, then applies the merged advanced config and the converted
legacy settings (tests/sentry_double/ingest.scrub_event). Zero must-scrub literal may
survive; the non-PHI corpus (what makes an issue debuggable) must survive at >= 95 %.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from tests.phi import corpus
from tests.sentry_double.ingest import scrub_event
from tests.unit.privacy import scrubbing

pytest.importorskip("sentry_relay")


@pytest.fixture(scope="module")
def configs() -> list[dict]:
    return scrubbing.configs_from_defaults()


def test_corpus_has_at_least_60_literals_in_12_kinds():
    kinds = Counter(p.kind for p in corpus.PHI)
    assert len(corpus.PHI) >= 60 and len(kinds) >= 12, kinds
    assert len({p.literal for p in corpus.PHI}) == len(corpus.PHI), "duplicate literals"
    for phi in corpus.PHI:
        assert phi.literal in phi.sentence, phi


def test_each_literal_is_placed_in_every_location_of_its_kind():
    for phi in corpus.PHI:
        text = json.dumps([e for _, e in corpus.events_for(phi)])
        occurrences = text.count(json.dumps(phi.literal)[1:-1])
        # message, logentry, exception, frame vars, query, header, cookie, body (dict and
        # JSON), tags, extra, context, user, two breadcrumbs, span: 15 at least.
        assert occurrences >= 15, (phi, occurrences)


@pytest.mark.parametrize("kind", sorted({p.kind for p in corpus.PHI}))
def test_no_phi_literal_survives_the_default_scrubbing(configs, kind):
    found = []
    for phi in (p for p in corpus.PHI if p.kind == kind):
        for label, event in corpus.events_for(phi):
            found += [
                f"{phi.literal!r} ({label}): {path}" for path in corpus.survivors(phi, scrub_event(event, configs))
            ]
    assert not found, "PHI survived:\n" + "\n".join(found)


def test_the_corpus_does_leak_without_the_bundle_settings():
    """The check can fail: Sentry's own defaults let most of the corpus through."""
    leaked = scrubbing.leaks(scrubbing.sentry_default_configs())
    leaked_kinds = {line.split()[0] for line in leaked}
    assert len(leaked_kinds) >= 12, leaked_kinds


def test_debuggability_corpus_survives_at_least_95_percent(configs):
    lost = scrubbing.lost_non_phi(configs)
    survival = 1 - len(lost) / len(corpus.NON_PHI)
    assert survival >= 0.95, f"survival {survival:.0%}, lost:\n" + "\n".join(lost)


@pytest.mark.parametrize(("what", "event"), corpus.SDK_ONLY, ids=[w for w, _ in corpus.SDK_ONLY])
def test_what_only_the_sdk_can_remove_still_passes_the_server(configs, what, event):
    """docs/privacy.md tells DermAI to close these in the SDK; if Relay starts catching one, update the docs."""
    scrubbed = scrub_event(json.loads(json.dumps(event)), configs)
    text = json.dumps({k: v for k, v in scrubbed.items() if k != "_meta"})
    needle = event.get("transaction") or event["message"]
    assert needle in text, f"{what} is now scrubbed server-side: move it out of SDK_ONLY and the docs"


def test_url_sourced_transaction_names_are_sanitised_by_relay_normalisation(configs):
    phi = next(p for p in corpus.PHI if p.literal == "88123")
    scrubbed = scrub_event(corpus.transaction_event(phi), configs)
    assert scrubbed["transaction"] == "/patients/*/images"
    assert scrubbed["transaction_info"]["source"] == "sanitized"


def test_route_templates_stay_in_transaction_names_and_tags(configs):
    event = {
        "message": "x",
        "transaction": "/api/v1/patients/{patient_id}",
        "tags": {"route": "/api/v1/patients/{patient_id}", "url": "https://api.dermai.example/api/v1/patients/88123"},
        "contexts": {"request_data": {"path": "/api/v1/patients/{patient_id}", "method": "GET"}},
    }
    scrubbed = scrub_event(event, configs)
    tags = dict(scrubbed["tags"])
    assert scrubbed["transaction"] == "/api/v1/patients/{patient_id}"
    assert tags["route"] == "/api/v1/patients/{patient_id}"
    assert tags["url"] == "https://api.dermai.example/api/v1/patients/[Filtered]"
    assert scrubbed["contexts"]["request_data"]["path"] == "/api/v1/patients/{patient_id}"


def test_ip_addresses_are_never_stored(configs):
    event = {
        "message": "x",
        "user": {"id": "clinician-17", "ip_address": "203.0.113.7", "geo": {"city": "Springfield"}},
        "sdk": {"name": "sentry.python", "version": "2.19.0", "client_ip": "203.0.113.7"},
        "request": {"url": "https://api.dermai.example/x", "env": {"REMOTE_ADDR": "203.0.113.7"}},
    }
    scrubbed = scrub_event(event, configs, client_ip="203.0.113.7")
    assert "203.0.113.7" not in json.dumps({k: v for k, v in scrubbed.items() if k != "_meta"})
    assert scrubbed["user"].get("ip_address") is None
    assert not any((scrubbed["user"].get("geo") or {}).values())
