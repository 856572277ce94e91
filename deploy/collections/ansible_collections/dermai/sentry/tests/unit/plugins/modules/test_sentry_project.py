"""dermai.sentry.sentry_project: create without default rules, privacy settings, idempotence, check and diff."""

from __future__ import annotations

import json

import pytest
from ansible_collections.dermai.sentry.tests.unit.plugins.modules.conftest import (
    API,
    Fault,
    converges,
    run_module,
)

PII = {
    "rules": {
        "mrn": {"type": "pattern", "pattern": r"\bDM-\d{8}\b", "redaction": {"method": "replace", "text": "[MRN]"}}
    },
    "applications": {"$string": ["mrn"]},
}


def changed(base, **changes):
    """`base` with some settings replaced (a function, so that linters do not see repeated keywords)."""
    return {**base, **changes}


@pytest.fixture
def team(backend, uid):
    slug = f"dermai-{uid}"
    assert not run_module("sentry_team", dict(backend.conn(), organization="sentry", slug=slug))["failed"]
    return slug


def read(backend, slug):
    return API.SentryClient(backend.url, backend.token).get(f"projects/sentry/{slug}/", missing_ok=True)


def args(backend, team, slug, **extra):
    return dict(backend.conn(), organization="sentry", team=team, slug=slug, **extra)


SETTINGS = dict(
    platform="python-fastapi",
    data_scrubber=True,
    data_scrubber_defaults=True,
    scrub_ip_addresses=True,
    sensitive_fields=["mrn", "patient_id"],
    safe_fields=[],
    relay_pii_config=PII,
    allowed_domains=["https://app.dermai.example"],
    resolve_age=168,
    subject_prefix="[DermAI-API] ",
)


def test_present_creates_the_project_with_its_settings_and_no_default_rule(backend, team, uid):
    slug = f"api-{uid}"
    result = run_module("sentry_project", args(backend, team, slug, **SETTINGS))
    assert result["changed"] and not result["failed"], result
    assert result["project"]["id"]
    server = read(backend, slug)
    assert server["platform"] == "python-fastapi"
    assert server["scrubIPAddresses"] is True
    assert sorted(server["sensitiveFields"]) == ["mrn", "patient_id"]
    assert json.loads(server["relayPiiConfig"]) == PII
    assert server["allowedDomains"] == ["https://app.dermai.example"]
    assert server["resolveAge"] == 168
    assert team in [t["slug"] for t in server["teams"]]
    rules = API.SentryClient(backend.url, backend.token).get_all(f"projects/sentry/{slug}/rules/")
    assert rules == []


def test_create_sends_default_rules_false(fake):
    run_module("sentry_project", dict(url=fake.url, token=fake.token, organization="sentry", team="sentry", slug="web"))
    create = [b for b in fake.bodies if b[0] == "POST"]
    assert create == [
        ("POST", "/api/0/teams/sentry/sentry/projects/", {"name": "web", "slug": "web", "default_rules": False})
    ]


def test_second_run_changes_nothing_and_sends_no_write(backend, team, uid):
    slug = f"api-{uid}"
    run_module("sentry_project", args(backend, team, slug, **SETTINGS))
    mark = backend.mark()
    reordered = changed(SETTINGS, sensitive_fields=["patient_id", "MRN"])
    result = run_module("sentry_project", args(backend, team, slug, **reordered))
    assert result["changed"] is False, result.get("diff")
    assert backend.writes_since(mark) in (None, [])


def test_update_changes_only_the_differing_setting(backend, team, uid):
    slug = f"api-{uid}"
    run_module("sentry_project", args(backend, team, slug, **SETTINGS))
    result = run_module("sentry_project", args(backend, team, slug, **changed(SETTINGS, resolve_age=24)))
    assert result["changed"]
    assert result["changed_fields"] == ["resolveAge"]
    before, after = result["diff"]["before"], result["diff"]["after"]
    assert {k for k in after if after[k] != before.get(k)} == {"resolveAge"}
    assert (before["resolveAge"], after["resolveAge"]) == (168, 24)
    assert read(backend, slug)["resolveAge"] == 24


def test_existing_project_is_linked_to_the_team(fake):
    fake.add_project("web", team="sentry")
    fake.add_team("dermai", "DermAI")
    result = run_module(
        "sentry_project", dict(url=fake.url, token=fake.token, organization="sentry", team="dermai", slug="web")
    )
    assert result["changed"]
    assert result["diff"]["after"]["teams"] == ["dermai", "sentry"]
    assert sorted(t["slug"] for t in fake.get("projects/sentry/web/")["teams"]) == ["dermai", "sentry"]


def test_409_on_create_converges_on_the_existing_project(fake):
    fake.add_project("web")
    fake.faults.append(Fault("GET", "/projects/sentry/web/$", 404, {"detail": "The requested resource does not exist"}))
    result = run_module(
        "sentry_project",
        dict(url=fake.url, token=fake.token, organization="sentry", team="sentry", slug="web", resolve_age=12),
    )
    assert not result["failed"], result
    assert result["changed"]
    assert fake.get("projects/sentry/web/")["resolveAge"] == 12
    assert [p["slug"] for p in fake.server.api.state.projects_of("sentry")].count("web") == 1


def test_absent_deletes_and_is_then_a_no_op(backend, team, uid):
    slug = f"gone-{uid}"
    run_module("sentry_project", args(backend, team, slug))
    assert run_module("sentry_project", args(backend, team, slug, state="absent"))["changed"]
    assert read(backend, slug) is None
    mark = backend.mark()
    assert run_module("sentry_project", args(backend, team, slug, state="absent"))["changed"] is False
    assert backend.writes_since(mark) in (None, [])


def test_check_mode_neither_creates_nor_updates(backend, team, uid):
    slug = f"api-{uid}"
    mark = backend.mark()
    result = run_module("sentry_project", args(backend, team, slug, **SETTINGS), check=True)
    assert result["changed"]
    assert result["diff"]["before"] == {}
    assert result["diff"]["after"]["relayPiiConfig"] == PII
    assert read(backend, slug) is None
    run_module("sentry_project", args(backend, team, slug, **SETTINGS))
    mark = backend.mark()
    result = run_module(
        "sentry_project", args(backend, team, slug, **changed(SETTINGS, subject_prefix="[X] ")), check=True
    )
    assert result["changed"]
    assert backend.writes_since(mark) in (None, [])
    assert read(backend, slug)["subjectPrefix"] == "[DermAI-API]"


def test_subject_prefix_is_sent_trimmed_and_converges_with_surrounding_spaces(backend, team, uid):
    # Sentry trims the CharField when it stores it: "[DermAI-API] " is kept as "[DermAI-API]".
    slug = f"api-{uid}"
    first = run_module("sentry_project", args(backend, team, slug, subject_prefix="  [DermAI-API] "))
    assert first["changed"] and not first["failed"], first
    assert first["diff"]["after"]["subjectPrefix"] == "[DermAI-API]"
    assert read(backend, slug)["subjectPrefix"] == "[DermAI-API]"
    mark = backend.mark()
    again = run_module("sentry_project", args(backend, team, slug, subject_prefix="[DermAI-API] "))
    assert again["changed"] is False, again.get("diff")
    assert backend.writes_since(mark) in (None, [])


def test_subject_prefix_length_is_checked_after_trimming(fake):
    fake.add_project("p")
    prefix = "x" * 200
    result = run_module(
        "sentry_project",
        dict(
            url=fake.url, token=fake.token, organization="sentry", team="sentry", slug="p", subject_prefix=prefix + " "
        ),
    )
    assert not result["failed"], result
    assert fake.get("projects/sentry/p/")["subjectPrefix"] == prefix
    assert [b for b in fake.bodies if b[0] == "PUT"] == [
        ("PUT", "/api/0/projects/sentry/p/", {"subjectPrefix": prefix})
    ]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (dict(platform="fastapi"), "platform 'fastapi' is not a Sentry platform; allowed: android"),
        (dict(allowed_domains=[]), "allowed_domains must not be empty: use ['*']"),
        (dict(resolve_age=-1), "resolve_age must be 0 (off) or a positive number of hours"),
        (dict(store_crash_reports=-2), "allowed: -1 (unlimited)"),
        (dict(subject_prefix="x" * 201), "subject_prefix may be at most 200 characters"),
        (dict(name="n" * 51), "name must be 1 to 50 characters long"),
        (dict(relay_pii_config={"rules": {"r": {"type": "regex"}}}), "relay_pii_config.rules.r.type is 'regex'"),
    ],
)
def test_invalid_input_is_rejected_before_any_request(fake, extra, message):
    result = run_module(
        "sentry_project", dict(url=fake.url, token=fake.token, organization="sentry", team="sentry", slug="p", **extra)
    )
    assert result["failed"]
    assert message in result["msg"]
    assert fake.requests == []


def test_present_without_team_is_rejected(fake):
    result = run_module("sentry_project", dict(url=fake.url, token=fake.token, organization="sentry", slug="p"))
    assert result["failed"]
    assert "team" in result["msg"]
    assert fake.requests == []


@pytest.mark.slow
def test_playbook_converges_then_reports_no_change(backend, team, tmp_path, uid):
    task = {
        "name": "Project",
        "dermai.sentry.sentry_project": dict(organization="sentry", team=team, slug=f"pb-{uid}", **SETTINGS),
    }
    result, _out = converges(tmp_path, backend, task)
    assert result["project"]["id"]
