"""dermai.sentry.sentry_team: create, rename, delete, idempotence, check and diff."""

from __future__ import annotations

import pytest
from ansible_collections.dermai.sentry.tests.unit.plugins.modules.conftest import (
    API,
    Fault,
    converges,
    refused_before_any_request,
    run_module,
    run_playbook,
)


def team(backend, slug):
    return API.SentryClient(backend.url, backend.token).get(f"teams/sentry/{slug}/", missing_ok=True)


def args(backend, slug, **extra):
    return dict(backend.conn(), organization="sentry", slug=slug, **extra)


def test_present_creates_the_team(backend, uid):
    result = run_module("sentry_team", args(backend, f"dermai-{uid}", name="DermAI"))
    assert result["changed"]
    assert result["team"]["slug"] == f"dermai-{uid}"
    assert result["team"]["id"]
    assert team(backend, f"dermai-{uid}")["name"] == "DermAI"


def test_second_run_changes_nothing_and_sends_no_write(backend, uid):
    run_module("sentry_team", args(backend, f"dermai-{uid}", name="DermAI"))
    mark = backend.mark()
    result = run_module("sentry_team", args(backend, f"dermai-{uid}", name="DermAI"))
    assert result["changed"] is False
    assert backend.writes_since(mark) in (None, [])


def test_name_change_renames_the_team(backend, uid):
    run_module("sentry_team", args(backend, f"dermai-{uid}", name="DermAI"))
    result = run_module("sentry_team", args(backend, f"dermai-{uid}", name="DermAI Platform"))
    assert result["changed"]
    assert result["diff"] == {
        "before": {"slug": f"dermai-{uid}", "name": "DermAI"},
        "after": {"slug": f"dermai-{uid}", "name": "DermAI Platform"},
    }
    assert team(backend, f"dermai-{uid}")["name"] == "DermAI Platform"


def test_unset_name_leaves_an_existing_name_alone(backend, uid):
    run_module("sentry_team", args(backend, f"dermai-{uid}", name="DermAI"))
    assert run_module("sentry_team", args(backend, f"dermai-{uid}"))["changed"] is False


def test_absent_deletes_the_team_and_is_then_a_no_op(backend, uid):
    run_module("sentry_team", args(backend, f"gone-{uid}"))
    result = run_module("sentry_team", args(backend, f"gone-{uid}", state="absent"))
    assert result["changed"]
    assert result["diff"]["after"] == {}
    assert team(backend, f"gone-{uid}") is None
    mark = backend.mark()
    assert run_module("sentry_team", args(backend, f"gone-{uid}", state="absent"))["changed"] is False
    assert backend.writes_since(mark) in (None, [])


def test_check_mode_create_reports_change_without_writing(backend, uid):
    mark = backend.mark()
    result = run_module("sentry_team", args(backend, f"dermai-{uid}", name="DermAI"), check=True)
    assert result["changed"]
    assert result["diff"] == {"before": {}, "after": {"slug": f"dermai-{uid}", "name": "DermAI"}}
    assert backend.writes_since(mark) in (None, [])
    assert team(backend, f"dermai-{uid}") is None


def test_check_mode_absent_does_not_delete(backend, uid):
    run_module("sentry_team", args(backend, f"keep-{uid}"))
    mark = backend.mark()
    assert run_module("sentry_team", args(backend, f"keep-{uid}", state="absent"), check=True)["changed"]
    assert backend.writes_since(mark) in (None, [])
    assert team(backend, f"keep-{uid}") is not None


def test_409_on_create_converges_on_the_existing_team(fake):
    # Another run created the team between our GET and our POST.
    made = fake.add_team("dermai", "Old")
    fake.faults.append(Fault("GET", "/teams/sentry/dermai/$", 404, {"detail": "The requested resource does not exist"}))
    result = run_module(
        "sentry_team", dict(url=fake.url, token=fake.token, organization="sentry", slug="dermai", name="DermAI")
    )
    assert result["changed"]
    assert (result["team"]["id"], result["team"]["slug"], result["team"]["name"]) == (made["id"], "dermai", "DermAI")
    assert [r[:2] for r in fake.writes()] == [
        ("POST", "/api/0/organizations/sentry/teams/"),
        ("PUT", "/api/0/teams/sentry/dermai/"),
    ]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (dict(slug="DermAI"), "is not a valid team slug"),
        (dict(slug="a" * 51), "is not a valid team slug"),
        (dict(slug="dermai", name="n" * 65), "name must be 1 to 64 characters long"),
        (dict(slug="dermai", state="gone"), "value of state must be one of: present, absent"),
    ],
)
def test_invalid_input_is_rejected_before_any_request(fake, extra, message):
    refused_before_any_request(fake, "sentry_team", dict(organization="sentry", **extra), message)


@pytest.mark.slow
def test_playbook_check_converge_and_rerun(backend, tmp_path, uid):
    task = {"name": "Team", "dermai.sentry.sentry_team": {"organization": "sentry", "slug": f"pb-{uid}", "name": "PB"}}
    rc, results, _stats, out = run_playbook(tmp_path, backend, [task], check=True, diff=True)
    assert rc == 0, out
    assert results[0]["changed"] and team(backend, f"pb-{uid}") is None
    converges(tmp_path, backend, task)
