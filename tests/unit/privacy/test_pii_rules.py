"""Each advanced-scrubbing rule of the role's default, alone: what it catches, what it leaves.

The text rule dermai_phi_text is one regex of alternatives (one compile and one pass per
string instead of eleven), each alternative with one group; `TABLE` has, per alternative in
the order of the defaults' comment, the texts it must catch (with the secret that must be
gone) and texts the WHOLE rule must leave unchanged. A rule is applied by itself to a string
field (extra.note) through sentry_relay. Every rule must compile within Relay's regex size
limit (Sentry validates it on save, so a too-big regex is a 400).
"""

from __future__ import annotations

import json

import pytest

from tests.unit.privacy import scrubbing

sentry_relay = pytest.importorskip("sentry_relay")

RULES = scrubbing.role_defaults()["sentry_config_org_relay_pii_config"]["rules"]

EMAIL = (
    [("mail to jane.doe@example.org bounced", "jane.doe@example.org"), ("to a+b@x.co.uk", "a+b@x.co.uk")],
    ["user@ sign without domain", "Email sent to admin"],
)
# alternative -> ([(text, secret that must be gone)], [texts that must stay unchanged])
TABLE: dict[str, tuple[list[tuple[str, str]], list[str]]] = {
    "ssn": (
        [("ssn 123-45-6789", "123-45-6789"), ("id 123 45 6789 sent", "123 45 6789")],
        ["date 2026-12-01", "build 1234-56-789"],
    ),
    "ssn_labelled": (
        [("SSN 123456789", "123456789"), ("social security number is 219099997", "219099997")],
        ["order 123456789 shipped", "ssn 12345678 too short", "took 123456789 ns"],
    ),
    "phone": (
        [("call (415) 555-2671", "555-2671"), ("sms 415.555.0199", "555.0199"), ("+1 646 555 0123", "555 0123")],
        ["status 503 after 1532 ms", "ts 1764600000", "port 5432"],
    ),
    "phone_intl": (
        [("OTP to +447911123456", "+447911123456"), ("callback +49 30 1234567", "1234567")],
        ["retry +3", "offset +0100", "version 2.19.0"],
    ),
    "patient_id": (
        [("Fetching patient 88123", "88123"), ("MRN: 00123456", "00123456"), ("patient_id=DM-20240117", "20240117")],
        ["patient records endpoint timed out after 30 s", "Patient created successfully", "patient 12"],
    ),
    "patient_path": (
        [("GET /api/v1/patients/88123/notes", "88123"), ("/patients/DM-2024/images", "DM-2024")],
        ["/api/v1/patients/{patient_id}", "/patients/:patientId", "/patients/<int:patient_id>/images", "/patients/"],
    ),
    "dob": (
        [
            ("DOB: 1961-03-14", "1961-03-14"),
            ("born on 12/1/1990", "12/1/1990"),
            ("date of birth 07-04-2001", "07-04-2001"),
            ("birthdate March 14, 1961", "March 14"),
        ],
        ["deployed 2026-12-01", "created_at 12/01/2026 by cron", "born-again worker restarted"],
    ),
    "member_id": (
        [("Member ID: XJH123456789", "XJH123456789"), ("policy number PLC-55821934", "55821934")],
        ["member list refreshed", "policy engine v2 loaded"],
    ),
    "street_address": (
        [("ship to 742 Evergreen Terrace", "742 Evergreen"), ("at 1600 N Main St, Apt 4B", "1600 N Main")],
        ["retry 3 of 5", "200 OK from upstream", "at 12 workers"],
    ),
    "labelled_name": (
        [
            ("patient Jane Doe missed", "Jane Doe"),
            ("Name: Robert Smith", "Robert Smith"),
            ("Mrs. Maria Garcia-Lopez", "Garcia"),
        ],
        ["Patient created successfully", "name resolution failed", "patient records endpoint"],
    ),
    "diagnosis": (
        [
            ("AI result: melanoma (0.91)", "melanoma"),
            ("claim coded L40.0", "L40.0"),
            ("confirmed basal cell carcinoma", "carcinoma"),
        ],
        ["lesion-model v3.2.1 loaded", "ValueError in analyze_lesion", "release 1.4.2"],
    ),
}
# The key rule: (key, value) pairs whose value must go, and pairs that must stay.
PHI_KEYS = [
    "X-MRN",
    "X-Patient-Id",
    "patient_id",
    "patientId",
    "dob",
    "birthDate",
    "mobile",
    "homePhone",
    "email",
    "contact_email",
    "street_address",
    "first_name",
    "insurance_member_id",
    "diagnosis",
    "client_ip",
    "ssn_last4",
]
SAFE_PAIRS = [
    ("operation", "fetch_patient"),
    ("status_code", "503"),
    ("route", "/patients/{patient_id}"),
    ("message", "Email sent to admin"),
    ("module", "app.api.v1.patients"),
    ("skip", "true"),
]


def only(rule: str) -> dict:
    return {"rules": {rule: RULES[rule]}, "applications": {"$string": [rule]}}


def note(rule: str, text: str) -> str:
    return sentry_relay.pii_strip_event(only(rule), {"extra": {"note": text}})["extra"]["note"]


def test_every_rule_and_alternative_is_tested():
    assert set(RULES) == {"dermai_email", "dermai_phi_text", "dermai_phi_fields", "dermai_drop"}
    assert RULES["dermai_phi_text"]["replaceGroups"] == list(range(1, len(TABLE) + 1))


def test_email_rule_catches_and_leaves():
    for text, secret in EMAIL[0]:
        assert secret not in note("dermai_email", text)
    for text in EMAIL[1]:
        assert note("dermai_email", text) == text


@pytest.mark.parametrize("alternative", list(TABLE))
def test_text_rule_catches(alternative):
    for text, secret in TABLE[alternative][0]:
        out = note("dermai_phi_text", text)
        assert secret not in out, f"{alternative}: {secret!r} left in {out!r}"
        assert "[Filtered]" in out


@pytest.mark.parametrize("alternative", list(TABLE))
def test_text_rule_leaves(alternative):
    for text in TABLE[alternative][1]:
        assert note("dermai_phi_text", text) == text, f"{alternative}: changed {text!r}"


def test_text_rule_keeps_the_labels():
    assert note("dermai_phi_text", "SSN 123456789 on file") == "SSN [Filtered] on file"
    assert note("dermai_phi_text", "GET /api/v1/patients/88123/notes") == "GET /api/v1/patients/[Filtered]/notes"
    assert note("dermai_phi_text", "DOB: 03/14/1961") == "DOB: [Filtered]"


def test_phi_fields_rule_clears_phi_named_keys_and_leaves_others():
    data = {k: "v4lue" for k in PHI_KEYS} | dict(SAFE_PAIRS)
    out = sentry_relay.pii_strip_event(only("dermai_phi_fields"), {"extra": data})["extra"]
    assert [k for k in PHI_KEYS if out[k] == "v4lue"] == []
    assert {k: out[k] for k, _ in SAFE_PAIRS} == dict(SAFE_PAIRS)


def test_drop_rule_removes_the_value():
    out = sentry_relay.pii_strip_event(only("dermai_drop"), {"extra": {"note": "anything"}})
    assert out["extra"].get("note") is None


@pytest.mark.parametrize("rule", sorted(RULES))
def test_rule_compiles_within_relays_size_limit(rule):
    assert sentry_relay.validate_pii_config(json.dumps(only(rule))) is None


def test_the_size_check_refuses_an_oversized_regex():
    big = {"type": "pattern", "pattern": r"(?i)\w{300}", "redaction": {"method": "remove"}}
    with pytest.raises(Exception, match="size limit"):
        sentry_relay.validate_pii_config(json.dumps({"rules": {"big": big}, "applications": {"$string": ["big"]}}))
