"""dermai.sentry.sentry_key: keys by name, adopting the default key, rate limits, DSN, masking."""

from __future__ import annotations

import pytest
from ansible_collections.dermai.sentry.tests.unit.plugins.modules.conftest import (
    API,
    converges,
    run_module,
)


@pytest.fixture
def project(backend, uid):
    team, slug = f"dermai-{uid}", f"api-{uid}"
    assert not run_module("sentry_team", dict(backend.conn(), organization="sentry", slug=team))["failed"]
    created = run_module(
        "sentry_project", dict(backend.conn(), organization="sentry", team=team, slug=slug, platform="python-fastapi")
    )
    assert not created["failed"], created
    return slug


def keys(backend, project):
    return API.SentryClient(backend.url, backend.token).get_all(f"projects/sentry/{project}/keys/")


def named(backend, project, name):
    """The key called `name` (real Sentry lists keys newest first, the double oldest first: never pick by index)."""
    (key,) = [k for k in keys(backend, project) if k["name"] == name]
    return key


def args(backend, project, **extra):
    return dict(backend.conn(), organization="sentry", project=project, **extra)


def test_adopt_default_renames_the_auto_created_key(backend, project):
    (default,) = keys(backend, project)
    assert default["name"] == "Default"
    result = run_module("sentry_key", args(backend, project, name="api-prod", adopt_default=True))
    assert result["changed"] and result["adopted"]
    assert [(k["id"], k["name"]) for k in keys(backend, project)] == [(default["id"], "api-prod")]
    assert result["dsn"] == default["dsn"]["public"]
    assert result["dsn"].startswith(("http://", "https://")) and default["public"] in result["dsn"]


def test_without_adopt_default_a_second_key_is_created(backend, project):
    result = run_module("sentry_key", args(backend, project, name="api-prod"))
    assert result["changed"] and not result["adopted"]
    assert sorted(k["name"] for k in keys(backend, project)) == ["Default", "api-prod"]
    assert result["dsn"] == named(backend, project, "api-prod")["dsn"]["public"]


def test_rate_limit_is_set_changed_and_removed(backend, project):
    run_module("sentry_key", args(backend, project, name="api-prod", rate_limit={"window": 60, "count": 1000}))
    assert named(backend, project, "api-prod")["rateLimit"] == {"window": 60, "count": 1000}
    result = run_module("sentry_key", args(backend, project, name="api-prod", rate_limit={"window": 60, "count": 500}))
    assert result["changed"]
    assert result["diff"]["before"]["rateLimit"] == {"window": 60, "count": 1000}
    assert result["diff"]["after"]["rateLimit"] == {"window": 60, "count": 500}
    result = run_module("sentry_key", args(backend, project, name="api-prod", rate_limit=None))
    assert result["changed"]
    assert named(backend, project, "api-prod")["rateLimit"] in (None, {})


def test_second_run_changes_nothing_and_sends_no_write(backend, project):
    spec = dict(name="api-prod", adopt_default=True, rate_limit={"window": 60, "count": 1000})
    run_module("sentry_key", args(backend, project, **spec))
    mark = backend.mark()
    result = run_module("sentry_key", args(backend, project, **spec))
    assert result["changed"] is False
    assert result["dsn"]
    assert backend.writes_since(mark) in (None, [])


def test_active_false_disables_the_key(backend, project):
    run_module("sentry_key", args(backend, project, name="api-prod"))
    result = run_module("sentry_key", args(backend, project, name="api-prod", active=False))
    assert result["changed"]
    assert named(backend, project, "api-prod")["isActive"] is False


def test_secret_is_masked_in_the_result(backend, project):
    result = run_module("sentry_key", args(backend, project, name="api-prod", adopt_default=True))
    secret = named(backend, project, "api-prod")["secret"]
    assert result["key"]["secret"] == "********"
    assert result["key"]["dsn"]["secret"] == "********"
    assert secret not in str(result)


def test_absent_revokes_the_key_and_is_then_a_no_op(backend, project):
    run_module("sentry_key", args(backend, project, name="old"))
    assert run_module("sentry_key", args(backend, project, name="old", state="absent"))["changed"]
    assert [k["name"] for k in keys(backend, project)] == ["Default"]
    mark = backend.mark()
    assert run_module("sentry_key", args(backend, project, name="old", state="absent"))["changed"] is False
    assert backend.writes_since(mark) in (None, [])


def test_check_mode_neither_adopts_nor_creates(backend, project):
    mark = backend.mark()
    result = run_module("sentry_key", args(backend, project, name="api-prod", adopt_default=True), check=True)
    assert result["changed"] and result["adopted"]
    assert result["diff"]["before"]["name"] == "Default"
    assert result["diff"]["after"]["name"] == "api-prod"
    assert backend.writes_since(mark) in (None, [])
    assert [k["name"] for k in keys(backend, project)] == ["Default"]


def test_keys_are_found_on_later_pages(fake):
    project = fake.add_project("web")
    dsns = [fake.add_key(project, f"k{i}") for i in range(5)]
    fake.page_size = 2
    # Listed newest first: k4 k3 | k2 k1 | k0 Default
    result = run_module(
        "sentry_key", dict(url=fake.url, token=fake.token, organization="sentry", project="web", name="k0")
    )
    assert result["changed"] is False
    assert result["dsn"] == dsns[0]
    assert fake.writes() == []


def test_of_two_keys_with_the_same_name_the_oldest_is_managed(fake):
    project = fake.add_project("web")
    older, newer = fake.add_key(project, "api-prod"), fake.add_key(project, "api-prod")
    result = run_module(
        "sentry_key",
        dict(url=fake.url, token=fake.token, organization="sentry", project="web", name="api-prod", active=False),
    )
    assert result["changed"] and result["dsn"] == older
    assert [(dsn, active) for _name, dsn, active in fake.keys(project)[1:]] == [(older, False), (newer, True)]


def test_adopt_default_renames_the_oldest_default_key_whatever_the_list_order(fake):
    project = fake.add_project("web")
    first = fake.keys(project)[0][1]
    later = fake.add_key(project, "Default")
    result = run_module(
        "sentry_key",
        dict(url=fake.url, token=fake.token, organization="sentry", project="web", name="api-prod", adopt_default=True),
    )
    assert result["adopted"] and result["dsn"] == first
    assert [(name, dsn) for name, dsn, _active in fake.keys(project)] == [("api-prod", first), ("Default", later)]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (dict(name="Default"), "not 'Default'"),
        (dict(name="k", rate_limit={"window": 0, "count": 10}), "rate_limit.window is 0; allowed: 1 to 86400 seconds"),
        (dict(name="k", rate_limit={"window": 90000, "count": 10}), "allowed: 1 to 86400"),
        (dict(name="k", rate_limit={"window": 60, "count": 0}), "rate_limit.count is 0; allowed: a positive integer"),
        (dict(name="k", rate_limit={"window": 60}), "missing required arguments: count"),
        (dict(name="k" * 65), "name must be 1 to 64 characters long"),
    ],
)
def test_invalid_input_is_rejected_before_any_request(fake, extra, message):
    result = run_module(
        "sentry_key", dict(url=fake.url, token=fake.token, organization="sentry", project="web", **extra)
    )
    assert result["failed"]
    assert message in result["msg"]
    assert fake.requests == []


@pytest.mark.slow
def test_playbook_registers_the_public_dsn_and_never_prints_the_secret(backend, project, tmp_path):
    task = {
        "name": "Key",
        "dermai.sentry.sentry_key": dict(
            organization="sentry",
            project=project,
            name="api-prod",
            adopt_default=True,
            rate_limit={"window": 60, "count": 100},
        ),
    }
    result, out = converges(tmp_path, backend, task)
    key = named(backend, project, "api-prod")
    assert key["secret"] not in out
    assert result["dsn"] == key["dsn"]["public"]
