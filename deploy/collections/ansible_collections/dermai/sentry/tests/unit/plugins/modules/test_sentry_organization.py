"""dermai.sentry.sentry_organization: privacy settings converge, idempotently, with check and diff."""

from __future__ import annotations

import importlib
import json

import pytest
from ansible_collections.dermai.sentry.tests.unit.plugins.modules.conftest import (
    API,
    MODULES,
    Fault,
    converges,
    refused_before_any_request,
    run_module,
)

PII = {
    "rules": {"ssn": {"type": "us_ssn", "redaction": {"method": "replace", "text": "[SSN]"}}},
    "applications": {"$string": ["ssn", "@email:replace"]},
}
# DermAI's settings: every scrubber on, nothing shared, crash reports off.
PRIVACY = dict.fromkeys(("data_scrubber", "data_scrubber_defaults", "scrub_ip_addresses", "enhanced_privacy"), True)
PRIVACY.update(dict.fromkeys(("allow_shared_issues", "open_membership", "allow_join_requests"), False))
PRIVACY.update(slug="sentry", sensitive_fields=["mrn", "patient_id", "dob"], safe_fields=[], store_crash_reports=0)
PRIVACY.update(relay_pii_config=PII, attachments_role="admin")


MODULE = importlib.import_module(MODULES + "sentry_organization")


def org(backend):
    return API.SentryClient(backend.url, backend.token).get("organizations/sentry/")


def privacy_of(server_org):
    """The settings the module manages; other fields (onboardingTasks, ...) change as other tests run."""
    return {api: server_org.get(api) for api in MODULE.FIELDS.values()}


def test_present_applies_every_privacy_setting(backend):
    result = run_module("sentry_organization", dict(backend.conn(), **PRIVACY))
    assert result["changed"] and not result["failed"]
    server = org(backend)
    assert server["dataScrubber"] and server["dataScrubberDefaults"] and server["scrubIPAddresses"]
    assert sorted(server["sensitiveFields"]) == ["dob", "mrn", "patient_id"]
    assert server["enhancedPrivacy"] is True
    assert server["allowSharedIssues"] is False
    assert server["attachmentsRole"] == "admin"
    assert server["storeCrashReports"] == 0
    assert server["allowJoinRequests"] is False


def test_relay_pii_config_is_sent_as_a_json_string_and_compared_parsed(backend):
    run_module("sentry_organization", dict(backend.conn(), slug="sentry", relay_pii_config=PII))
    stored = org(backend)["relayPiiConfig"]
    assert isinstance(stored, str)
    assert json.loads(stored) == PII
    again = run_module("sentry_organization", dict(backend.conn(), slug="sentry", relay_pii_config=PII))
    assert not again["changed"]


def test_second_run_changes_nothing_and_sends_no_write(backend):
    run_module("sentry_organization", dict(backend.conn(), **PRIVACY))
    mark = backend.mark()
    # Same lists in another order: order does not matter.
    args = dict(PRIVACY, sensitive_fields=["dob", "patient_id", "mrn"])
    result = run_module("sentry_organization", dict(backend.conn(), **args))
    assert result["changed"] is False
    assert result["changed_fields"] == []
    assert backend.writes_since(mark) in (None, [])


def test_update_sends_only_the_fields_that_differ(fake):
    run_module("sentry_organization", dict(url=fake.url, token=fake.token, **PRIVACY))
    fake.bodies.clear()
    result = run_module(
        "sentry_organization", dict(url=fake.url, token=fake.token, **dict(PRIVACY, open_membership=True))
    )
    assert result["changed"]
    assert result["changed_fields"] == ["openMembership"]
    assert list(fake.bodies) == [("PUT", "/api/0/organizations/sentry/", {"openMembership": True})]


def test_check_mode_reports_the_change_without_writing(backend):
    # Start from a state that differs from PRIVACY whatever ran before on a shared server.
    assert not run_module("sentry_organization", dict(backend.conn(), **dict(PRIVACY, enhanced_privacy=False)))[
        "failed"
    ]
    mark = backend.mark()
    before = privacy_of(org(backend))
    result = run_module("sentry_organization", dict(backend.conn(), **PRIVACY), check=True)
    assert result["changed"]
    assert backend.writes_since(mark) in (None, [])
    assert privacy_of(org(backend)) == before
    assert result["organization"]["enhancedPrivacy"] is True


def test_diff_shows_before_and_after_of_the_managed_fields(fake):
    result = run_module(
        "sentry_organization",
        dict(url=fake.url, token=fake.token, slug="sentry", enhanced_privacy=True, relay_pii_config=PII),
    )
    assert result["diff"]["before"] == {"enhancedPrivacy": False, "relayPiiConfig": {}}
    assert result["diff"]["after"] == {"enhancedPrivacy": True, "relayPiiConfig": PII}


def test_require_2fa_refused_by_sentry_explains_the_precondition(fake):
    result = run_module("sentry_organization", dict(url=fake.url, token=fake.token, slug="sentry", require_2fa=True))
    assert result["failed"]
    assert "require_2fa" in result["msg"]
    assert "the user that owns the API token must have 2FA enabled" in result["msg"]
    assert fake.get("organizations/sentry/")["require2FA"] is False


def test_a_field_the_server_silently_drops_is_reported(fake):
    # Sentry ignores unknown/unauthorised fields with 200; the re-read must catch it.
    fake.faults.append(Fault("PUT", "/organizations/sentry/$", 200, {"slug": "sentry"}))
    result = run_module(
        "sentry_organization", dict(url=fake.url, token=fake.token, slug="sentry", enhanced_privacy=True)
    )
    assert result["failed"]
    assert "did not store enhancedPrivacy" in result["msg"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (dict(attachments_role="guest"), "value of attachments_role must be one of: member, admin, manager, owner"),
        (dict(store_crash_reports=500), "allowed: -1 (unlimited), 0 (disabled) or 1..100"),
        (dict(sensitive_fields=["mrn", ""]), "sensitive_fields must not contain empty strings"),
        (dict(sensitive_fields=["x" * 4001]), "at most 4000 characters"),
        (
            dict(relay_pii_config={"rules": {"a": {"type": "ssn"}}}),
            "relay_pii_config.rules.a.type is 'ssn'; allowed: anything",
        ),
        (
            dict(relay_pii_config={"rules": {"a": {"type": "email", "redaction": {"method": "erase"}}}}),
            "redaction.method is 'erase'; allowed: remove, replace, mask, hash, default",
        ),
        (dict(relay_pii_config={"applications": {"$string": ["nope"]}}), "refers to rule 'nope'"),
        (dict(relay_pii_config={"rulez": {}}), "unknown top-level keys ['rulez']"),
        (dict(state="absent"), "value of state must be one of: present"),
    ],
)
def test_invalid_input_is_rejected_before_any_request(fake, args, message):
    refused_before_any_request(fake, "sentry_organization", dict(slug="sentry", **args), message)


@pytest.mark.slow
def test_playbook_converges_then_reports_no_change(backend, tmp_path):
    task = {"name": "Org privacy", "dermai.sentry.sentry_organization": dict(PRIVACY)}
    _result, out = converges(tmp_path, backend, task)
    assert backend.token not in out
