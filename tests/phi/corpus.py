"""PHI corpus: fake patient data placed where an SDK puts it in a Sentry event.

Every literal is invented (555 phone numbers, example.* domains, documentation IP ranges,
SSNs from the advertising/test ranges or made up). Each `Phi` has a kind, the literal that
must not survive, a sentence that carries it the way application code logs it, and the
field name code would put it under. `events_for(phi)` builds the events that place it in
every location that kind reaches (`PLACEMENTS`):

- text: message, logentry (formatted + params), exception value, extra note, custom
  context note, breadcrumb message, span description, tag value, frame variable;
- keyed: request headers, query string, cookies, body (dict and JSON string), tags, extra,
  custom context, breadcrumb data, span data, frame variables, user;
- URL-shaped (patient ids, MRNs): request url, url/route tags, breadcrumb navigation
  from/to, span description, and the name of a URL-sourced transaction.

`SDK_ONLY` lists what no server-side setting can reach (the reason is in docs/privacy.md):
names and diagnoses in unlabelled prose, and the `transaction` of an *error* event (Relay's
schema marks it pii=false; only transaction events with source "url" are sanitised).
`NON_PHI` is the debuggability corpus that must survive scrubbing.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field


def event_id() -> str:
    """A fresh event id without digits (a-f only): a random id never spells a sample's numbers (say 88123),
    which Relay copies into the trace context and the leak check would then report."""
    return uuid.uuid4().hex.translate(str.maketrans("0123456789", "abcdefabcd"))


@dataclass(frozen=True)
class Phi:
    kind: str
    literal: str
    sentence: str
    key: str
    # URL-shaped identifiers are also placed in paths.
    in_path: bool = False
    # Where the kind goes in the user interface (email/ip/name/username) besides the rest.
    user_field: str | None = None
    extra_checks: tuple[str, ...] = field(default=())

    @property
    def needles(self) -> tuple[str, ...]:
        """Strings that must not appear anywhere in a scrubbed event."""
        return (self.literal, *self.extra_checks)


def _p(kind, literal, sentence, key, **kw) -> Phi:
    return Phi(kind, literal, sentence.format(v=literal), key, **kw)


PHI: list[Phi] = [
    # SSN, every common format.
    _p("ssn_dashed", "123-45-6789", "ssn {v} on file", "ssn"),
    _p("ssn_dashed", "219-09-9999", "verifying SSN {v} against payer", "social_security_number"),
    _p("ssn_dashed", "078-05-1120", "Patient SSN: {v}", "SSN"),
    _p("ssn_dashed", "457-55-5462", "coverage lookup for {v} failed", "ssn"),
    _p("ssn_spaced", "123 45 6780", "SSN {v} rejected by clearinghouse", "ssn"),
    _p("ssn_spaced", "219 09 9998", "social security number {v} mismatch", "tax_ssn"),
    _p("ssn_spaced", "536 22 8726", "duplicate record with {v}", "ssn"),
    _p("ssn_plain", "123456788", "SSN 123456788 failed checksum".replace("123456788", "{v}"), "ssn"),
    _p("ssn_plain", "219099997", "social security number is {v}", "ssn_plain"),
    _p("ssn_plain", "536228725", "payload had ssn={v}", "SSN"),
    _p("ssn_plain", "601223344", "SSN on file: {v} (unverified)", "ssn"),
    # Medical record numbers.
    _p("mrn", "00123456", "MRN: {v} not found", "mrn", in_path=True),
    _p("mrn", "A1234567", "merge conflict for MRN {v}", "X-MRN", in_path=True),
    _p("mrn", "DAI-12345678", "medical record {v} locked", "medical_record_number", in_path=True),
    _p("mrn", "MR-778812", "chart # {v} archived", "mrn", in_path=True),
    # Patient identifiers.
    _p("patient_id", "88123", "Fetching patient {v}", "patient_id", in_path=True),
    _p("patient_id", "DM-20240117", "lookup failed for patient_id={v}", "patient_id", in_path=True),
    _p("patient_id", "P-449812", "patient {v} has no consent on file", "X-Patient-Id", in_path=True),
    _p("patient_id", "7741203", "patient #{v} upload rejected", "patientId", in_path=True),
    # Names (labelled in text, or under a name field).
    _p("name", "Jane Doe", "patient {v} missed appointment", "patient_name", user_field="name"),
    _p("name", "Robert Smith", "Name: {v}", "full_name", user_field="name"),
    _p("name", "Maria Garcia-Lopez", "Mrs. {v} requested records", "last_name", user_field="username"),
    _p("name", "Wei Chen", "referral for patient {v} sent", "first_name"),
    # Dates of birth, ISO and US formats, in text after a label and under dob-like keys.
    _p("dob_iso", "1961-03-14", "DOB: {v}", "dob"),
    _p("dob_iso", "1990-12-01", "born {v}, age check failed", "birthdate"),
    _p("dob_iso", "1975-11-30", "date of birth {v} is in the future?", "date_of_birth"),
    _p("dob_us", "03/14/1961", "DOB {v} does not match", "dob"),
    _p("dob_us", "12/1/1990", "patient born on {v}", "birthDate"),
    _p("dob_us", "07-04-2001", "Date of birth: {v}", "patient_dob"),
    _p("dob_us", "March 14, 1961", "birthdate {v} invalid", "birth_date"),
    # Phone numbers, US and E.164.
    _p("phone_us", "(415) 555-2671", "call back at {v}", "phone"),
    _p("phone_us", "415-555-0199", "SMS to {v} bounced", "phone_number"),
    _p("phone_us", "212.555.0147", "fax {v} unreachable", "fax"),
    _p("phone_us", "+1 646 555 0123", "contact: {v}", "home_phone"),
    _p("phone_e164", "+14155552671", "OTP sent to {v}", "mobile"),
    _p("phone_e164", "+447911123456", "twilio rejected {v}", "mobile_number"),
    _p("phone_e164", "+4930123456789", "callback {v} failed", "cell"),
    _p("phone_e164", "+33612345678", "reminder for {v} queued", "mobilePhone"),
    # E-mail addresses, plus-addressing included.
    _p("email", "jane.doe@example.org", "mail to {v} bounced", "email", user_field="email"),
    _p("email", "r.smith@clinic.example.com", "invite {v} expired", "contact_email", user_field="email"),
    _p("email", "mgarcia@example.net", "password reset for {v}", "e-mail"),
    _p("email_plus", "jane.doe+derm@example.org", "receipt sent to {v}", "email", user_field="email"),
    _p("email_plus", "patient+2024@mail.example.com", "unsubscribe {v}", "notify_email"),
    _p("email_plus", "bob+labs@example.co.uk", "lab results mailed to {v}", "email"),
    # IP addresses (user, request env, X-Forwarded-For, extra).
    _p("ip", "203.0.113.7", "login from {v}", "client_ip", user_field="ip_address"),
    _p("ip", "198.51.100.23", "rate limited {v}", "X-Forwarded-For", user_field="ip_address"),
    _p("ip", "192.0.2.44", "upstream {v} reset", "remote_addr", user_field="ip_address"),
    _p("ip", "2001:db8::8a2e:370:7334", "session from {v}", "ip", user_field="ip_address"),
    # Street addresses.
    _p("address", "742 Evergreen Terrace", "ship kit to {v}", "street_address"),
    _p("address", "1600 N Main St", "geocode failed for {v}", "address"),
    _p("address", "221 Baker Street, Apt 2B", "home visit at {v}", "address_line1"),
    _p("address", "12 Oak Ave", "mailing label {v} rejected", "street"),
    # Insurance member ids.
    _p("member_id", "XJH123456789", "Member ID: {v} inactive", "member_id"),
    _p("member_id", "W987654321", "insurance id {v} not eligible", "insurance_member_id"),
    _p("member_id", "PLC-55821934", "policy number {v} expired", "policy_number"),
    _p("member_id", "88341277A", "subscriber no. {v} unknown", "subscriber_id"),
    # Diagnoses (ICD-10 codes and DermAI's vocabulary).
    _p("diagnosis", "melanoma", "AI result: {v} (0.91)", "diagnosis"),
    _p("diagnosis", "L40.0", "claim coded {v}", "icd10"),
    _p("diagnosis", "C43.9", "ICD {v} requires review", "icd_code"),
    _p("diagnosis", "basal cell carcinoma", "biopsy confirmed {v}", "diagnosis"),
    _p("diagnosis", "atopic dermatitis", "follow-up for {v}", "condition_diagnosis"),
    _p("diagnosis", "psoriasis", "treatment plan: {v}", "diagnoses"),
]

# What only the SDK can remove (documented in docs/privacy.md, asserted by the tests so a
# change in Relay shows up): unlabelled prose and the transaction name of error events.
SDK_ONLY: list[tuple[str, dict]] = [
    ("name in prose", {"message": "Jane Doe called about her results"}),
    ("diagnosis in prose", {"message": "spreading rash on left forearm, suspect allergy"}),
    ("transaction of an error event", {"message": "x", "transaction": "/api/v1/patients/88123/notes"}),
]

PLACEMENTS = (
    "message",
    "logentry",
    "exception",
    "frame_vars",
    "request_url",
    "request_query",
    "request_headers",
    "request_cookies",
    "request_data",
    "request_data_json",
    "request_env",
    "tags",
    "extra",
    "contexts",
    "user",
    "breadcrumb_message",
    "breadcrumb_data",
    "breadcrumb_navigation",
    "transaction",
    "span_description",
)

API = "https://api.dermai.example"
WEB = "https://app.dermai.example"


def _trace(span_id: str = "b" * 16) -> dict:
    return {"trace": {"trace_id": "a" * 32, "span_id": span_id, "op": "http.server"}}


def error_event(phi: Phi) -> dict:
    """One error event carrying `phi` in every location its kind reaches."""
    v, s, k = phi.literal, phi.sentence, phi.key
    query = f"{k}={v}&page=2"
    headers = {"Accept": "application/json", k if "-" in k or k[0].isupper() else f"X-{k}": v}
    if phi.kind == "ip":
        headers["X-Forwarded-For"] = f"{v}, 10.0.0.1"
    event: dict = {
        "event_id": event_id(),
        "platform": "python",
        "level": "error",
        "release": "dermai-api@1.4.2",
        "environment": "production",
        "message": s,
        "logentry": {"message": "lookup failed: %s", "params": [v], "formatted": s},
        "exception": {
            "values": [
                {
                    "type": "ValueError",
                    "module": "app.services.patients",
                    "value": s,
                    "stacktrace": {
                        "frames": [
                            {
                                "function": "get_patient",
                                "module": "app.api.v1.patients",
                                "filename": "app/api/v1/patients.py",
                                "lineno": 42,
                                "in_app": True,
                                "vars": {k: v, "note": s, "attempt": 2},
                            }
                        ]
                    },
                }
            ]
        },
        "request": {
            "url": f"{API}/api/v1/lookup",
            "method": "POST",
            "query_string": query,
            "headers": headers,
            "cookies": {k: v, "session": "opaque"},
            "data": {k: v, "note": s},
            "env": {"SERVER_NAME": "api", "REMOTE_ADDR": v if phi.kind == "ip" else "10.0.0.9"},
        },
        "tags": {k: v, "operation": "fetch_patient", "note": s[:200]},
        "extra": {k: v, "note": s, "status_code": 500},
        "contexts": {"patient_ctx": {k: v, "note": s}},
        "user": {"id": "clinician-17", **({phi.user_field: v} if phi.user_field else {"data": {k: v}})},
        "breadcrumbs": {
            "values": [
                {"category": "log", "message": s, "timestamp": 1764600000},
                {"category": "http", "data": {k: v, "note": s, "status_code": 500}, "timestamp": 1764600001},
            ]
        },
        "spans": [
            {
                "span_id": "c" * 16,
                "parent_span_id": "b" * 16,
                "trace_id": "a" * 32,
                "op": "db.query",
                "description": f"SELECT * FROM notes WHERE note = '{s}'",  # noqa: S608 - test data, no database
                "start_timestamp": 1764600000,
                "timestamp": 1764600001,
                "data": {k: v},
            }
        ],
    }
    if phi.in_path:
        path = f"/api/v1/patients/{v}/notes"
        event["request"]["url"] = f"{API}{path}?{query}"
        event["tags"].update(url=f"{API}{path}", route=path)
        event["breadcrumbs"]["values"].append(
            {"category": "navigation", "data": {"from": f"/patients/{v}", "to": f"/patients/{v}/images"}}
        )
        event["spans"].append(
            {
                "span_id": "d" * 16,
                "parent_span_id": "b" * 16,
                "trace_id": "a" * 32,
                "op": "http.client",
                "description": f"GET {API}{path}",
                "start_timestamp": 1764600000,
                "timestamp": 1764600001,
            }
        )
    return event


def json_body_event(phi: Phi) -> dict:
    """The request body as a JSON string (what an SDK sends for a raw body)."""
    return {
        "event_id": event_id(),
        "message": "request failed",
        "request": {
            "url": f"{API}/api/v1/lookup",
            "method": "POST",
            "headers": {"Content-Type": "application/json"},
            "data": json.dumps({phi.key: phi.literal, "note": phi.sentence}),
        },
    }


def transaction_event(phi: Phi) -> dict:
    """A browser pageload named after the raw URL (source "url"), as without router instrumentation."""
    path = f"/patients/{phi.literal}/images"
    return {
        "event_id": event_id(),
        "type": "transaction",
        "platform": "javascript",
        "release": "dermai-web@2026.11.3",
        "transaction": path,
        "transaction_info": {"source": "url"},
        "start_timestamp": 1764600000,
        "timestamp": 1764600002,
        "contexts": _trace(),
        "request": {"url": f"{WEB}{path}"},
        "tags": {"url": f"{WEB}{path}"},
        "spans": [
            {
                "span_id": "e" * 16,
                "parent_span_id": "b" * 16,
                "trace_id": "a" * 32,
                "op": "http.client",
                "description": f"GET {API}/api/v1/patients/{phi.literal}",
                "start_timestamp": 1764600000,
                "timestamp": 1764600001,
            }
        ],
    }


def events_for(phi: Phi) -> list[tuple[str, dict]]:
    events = [("error", error_event(phi)), ("json body", json_body_event(phi))]
    if phi.in_path:
        events.append(("transaction", transaction_event(phi)))
    return events


def survivors(phi: Phi, event: dict) -> list[str]:
    """Paths of the scrubbed event (``_meta`` excluded) where a needle of `phi` is still present."""
    found: list[str] = []

    def walk(node, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "_meta" and not path:
                    continue
                if isinstance(key, str) and any(n.lower() in key.lower() for n in phi.needles):
                    found.append(f"{path}.{key} (key)")
                walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{path}[{i}]")
        elif isinstance(node, str) and any(n.lower() in node.lower() for n in phi.needles):
            found.append(f"{path} = {node[:80]!r}")

    walk(event, "")
    return found


# ---------------------------------------------------------------- the debuggability corpus
# (value, where it goes): each must still be found at that place after scrubbing.
NON_PHI: list[tuple[str, str]] = [
    ("ValueError", "exception.type"),
    ("sqlalchemy.exc.OperationalError", "exception.type"),
    ("HTTPException", "exception.type"),
    ("PatientNotFoundError", "exception.type"),
    ("app.services.patients", "exception.module"),
    ("app.api.v1.patients", "frame.module"),
    ("app.services.ai_analysis", "frame.module"),
    ("get_patient", "frame.function"),
    ("analyze_lesion", "frame.function"),
    ("create_appointment", "frame.function"),
    ("fetch_patient", "tags.operation"),
    ("create", "tags.operation_type"),
    ("503", "extra.status_code"),
    ("status 404 from upstream", "message"),
    ("HTTP 500 Internal Server Error", "exception.value"),
    ("Database transaction committed", "message"),
    ("Patient created successfully", "message"),
    ("Low disk space", "message"),
    ("API version upgraded", "message"),
    ("Email sent to admin", "message"),
    ("timeout after 30 s calling inference service", "exception.value"),
    ("/api/v1/patients/{patient_id}", "transaction"),
    ("/api/v1/patients/{patient_id}", "contexts.request_data.path"),
    ("/api/v1/patients/{patient_id}", "tags.route"),
    ("/patients/:patientId", "breadcrumb.navigation.to"),
    ("/patients/<int:patient_id>/images", "span.description"),
    ("/api/v1/appointments/{appointment_id}", "transaction"),
    ("dermai-api@1.4.2", "release"),
    ("dermai-web@2026.11.3+abc1234", "release"),
    ("production", "environment"),
    ("GET", "request.method"),
    ("db.query", "span.op"),
    ("SELECT id, status FROM appointments WHERE clinic_id = %s", "span.description"),
    ("retry 3 of 5 for job 7f3c2a", "breadcrumb.message"),
    ("uvicorn.error", "logger"),
    ("python-fastapi", "tags.framework"),
    ("pool exhausted: 20 connections", "extra.note"),
    ("lesion-model v3.2.1 loaded in 1532 ms", "breadcrumb.message"),
    ("KeyError", "exception.type"),
    ("app.models.appointment", "frame.module"),
]


def non_phi_event(value: str, where: str) -> dict:
    """An event with `value` at `where` (and nothing else of interest)."""
    event: dict = {"event_id": event_id(), "platform": "python", "message": "probe"}
    exc = {"type": "RuntimeError", "value": "probe", "stacktrace": {"frames": [{"function": "f", "module": "m"}]}}
    if where == "exception.type":
        exc["type"] = value
    elif where == "exception.module":
        exc["module"] = value
    elif where == "exception.value":
        exc["value"] = value
    elif where == "frame.module":
        exc["stacktrace"]["frames"][0]["module"] = value
    elif where == "frame.function":
        exc["stacktrace"]["frames"][0]["function"] = value
    elif where.startswith("tags."):
        event["tags"] = {where[5:]: value}
    elif where.startswith("extra."):
        event["extra"] = {where[6:]: value}
    elif where == "contexts.request_data.path":
        event["contexts"] = {"request_data": {"path": value, "method": "GET"}}
    elif where == "breadcrumb.navigation.to":
        event["breadcrumbs"] = [{"category": "navigation", "data": {"from": "/", "to": value}}]
    elif where == "breadcrumb.message":
        event["breadcrumbs"] = [{"category": "log", "message": value}]
    elif where == "span.description":
        event["spans"] = [
            {
                "span_id": "c" * 16,
                "trace_id": "a" * 32,
                "op": "db",
                "description": value,
                "start_timestamp": 1764600000,
                "timestamp": 1764600001,
            }
        ]
    elif where == "span.op":
        event["spans"] = [
            {"span_id": "c" * 16, "trace_id": "a" * 32, "op": value, "start_timestamp": 1, "timestamp": 2}
        ]
    elif where == "request.method":
        event["request"] = {"url": f"{API}/health", "method": value}
    elif where in ("message", "transaction", "release", "environment", "logger"):
        event[where] = value
    else:
        raise ValueError(where)
    event["exception"] = {"values": [exc]}
    return event


def found_at(event: dict, value: str, where: str) -> bool:
    """Whether `value` is still at `where` in a processed (normalised, scrubbed) event."""

    def first(items, key="values"):
        if isinstance(items, dict):
            items = items.get(key) or []
        return items[0] if items else {}

    exc = first(event.get("exception") or {})
    frame = first((exc.get("stacktrace") or {}).get("frames") or [], key="")
    tags = dict(event.get("tags") or [])
    if where == "exception.type":
        got = exc.get("type")
    elif where == "exception.module":
        got = exc.get("module")
    elif where == "exception.value":
        got = exc.get("value")
    elif where == "frame.module":
        got = frame.get("module")
    elif where == "frame.function":
        got = frame.get("function")
    elif where.startswith("tags."):
        got = tags.get(where[5:])
    elif where.startswith("extra."):
        got = (event.get("extra") or {}).get(where[6:])
    elif where == "contexts.request_data.path":
        got = ((event.get("contexts") or {}).get("request_data") or {}).get("path")
    elif where == "breadcrumb.navigation.to":
        got = (first(event.get("breadcrumbs") or {}).get("data") or {}).get("to")
    elif where == "breadcrumb.message":
        got = first(event.get("breadcrumbs") or {}).get("message")
    elif where == "span.description":
        got = first(event.get("spans") or [], key="").get("description")
    elif where == "span.op":
        got = first(event.get("spans") or [], key="").get("op")
    elif where == "request.method":
        got = (event.get("request") or {}).get("method")
    elif where == "message":
        got = (event.get("logentry") or {}).get("formatted")
    else:
        got = event.get(where)
    return str(got) == value
