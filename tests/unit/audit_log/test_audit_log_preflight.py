"""Role audit_log refuses bad input before it changes anything (run in --check against localhost)."""

from __future__ import annotations

import pytest

from tests.unit.roles.test_base_preflight import assert_refused_in_preflight

pytestmark = pytest.mark.slow

VALID = {"audit_log_restic_repository": "rest:https://archive.example:8000/sentry/", "audit_log_restic_password": "pw"}


def test_valid_input_passes_preflight(run_role):
    run = run_role("audit_log", VALID, tags="audit_log_preflight")
    assert run.rc == 0, run.output[-3000:]
    assert run.failed_task is None


@pytest.mark.parametrize("repository", ["", "archive.example:/srv", "ftp://archive.example/"])
def test_a_repository_that_is_not_a_restic_location_is_refused(run_role, repository):
    run = run_role("audit_log", {**VALID, "audit_log_restic_repository": repository})
    assert_refused_in_preflight(run, "audit_log_restic_repository", "rest:", "s3:")


def test_a_missing_repository_password_is_refused(run_role):
    run = run_role("audit_log", {**VALID, "audit_log_restic_password": ""})
    assert_refused_in_preflight(run, "audit_log_restic_password")


@pytest.mark.parametrize("retention", ["6 years", "forever", "6"])
def test_a_retention_restic_cannot_read_is_refused(run_role, retention):
    run = run_role("audit_log", {**VALID, "audit_log_retention": retention})
    assert_refused_in_preflight(run, "audit_log_retention", "6y")


@pytest.mark.parametrize("scopes", [["org:read"], ["org:write", "project:admin"], ["org:admin"]])
def test_token_scopes_other_than_org_write_are_refused(run_role, scopes):
    run = run_role("audit_log", {**VALID, "audit_log_token_scopes": scopes})
    assert_refused_in_preflight(run, "audit_log_token_scopes", "org:write")


def test_a_misspelt_variable_is_refused(run_role):
    run = run_role("audit_log", {**VALID, "audit_log_retension": "6y"})
    assert_refused_in_preflight(run, "audit_log_retension", "audit_log_retention")


def test_an_organization_that_is_not_a_slug_is_refused(run_role):
    run = run_role("audit_log", {**VALID, "audit_log_organizations": ["DermAI Org"]})
    assert_refused_in_preflight(run, "audit_log_organizations", "slugs")


def test_credentials_in_the_repository_url_never_reach_the_output(run_role):
    # The JSON callback prints every loop item of the preflight (as -v does), messages included.
    secret = "Zq8-archive-password"
    repository = f"rest:https://sentry:{secret}@archive.example:8000/sentry/"
    passing = run_role("audit_log", {**VALID, "audit_log_restic_repository": repository}, tags="audit_log_preflight")
    refused = run_role("audit_log", {"audit_log_restic_repository": repository, "audit_log_restic_password": ""})
    assert passing.rc == 0, passing.output[-3000:]
    assert_refused_in_preflight(refused, "audit_log_restic_password")
    assert secret not in passing.output + refused.output
