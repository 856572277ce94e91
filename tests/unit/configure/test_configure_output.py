"""What an operator sees (issue 12, item 5): readable loop labels, field-level diffs, a summary, no secret.

One double: a first converge at default verbosity, a no-op rerun at -vvv, then a changed inventory in
--check --diff. Every output is grepped for the token (clear and base64) and for censored loop items.
"""

from __future__ import annotations

import base64
import re

import pytest

from tests.unit.configure.runner import assert_ok, double_session

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    with double_session(tmp_path_factory.mktemp("output")) as (backend, env_dir, configure):
        first = configure()
        assert_ok(first)
        verbose = configure("-vvv")
        assert_ok(verbose)
        changed = {
            "sentry_config_projects": [
                {
                    "slug": "dermai-api",
                    "name": "DermAI API",
                    "platform": "python-fastapi",
                    "kind": "backend",
                    "subject_prefix": "[API]",
                },
                {
                    "slug": "dermai-web",
                    "name": "DermAI Web",
                    "platform": "javascript-react",
                    "kind": "frontend",
                    "subject_prefix": "[DermAI-Web]",
                },
            ],
        }
        diff = configure("--check", "--diff", extra_vars=changed)
        assert_ok(diff)
        yield backend, env_dir, {"first": first, "verbose": verbose, "diff": diff}


@pytest.mark.parametrize("name", ["first", "verbose", "diff"])
def test_no_output_holds_the_token_at_any_verbosity(runs, name):
    backend, _, outputs = runs
    run = outputs[name]
    text = run.stdout + run.stderr
    assert backend.token not in text
    assert base64.b64encode(backend.token.encode()).decode()[:40] not in text
    assert base64.b64encode((backend.token + "\n").encode()).decode()[:40] not in text


@pytest.mark.parametrize("name", ["first", "verbose", "diff"])
def test_no_loop_item_is_censored(runs, name):
    _, _, outputs = runs
    ours = outputs[name].stdout
    assert "censored due to no_log" not in ours
    assert "output is hidden" not in outputs[name].stdout


def test_loop_labels_name_the_projects_keys_and_rules(runs):
    _, _, outputs = runs
    out = outputs["first"].stdout
    assert "changed: [localhost] => (item=dermai-api)" in out
    assert "changed: [localhost] => (item=dermai-api-production)" in out
    assert "changed: [localhost] => (item=dermai-web: New issue, High-frequency issue, Regression)" in out


def test_the_summary_names_the_url_organization_dsns_alerts_and_env_files(runs):
    backend, env_dir, outputs = runs
    out = outputs["first"].stdout
    summary = out[out.index("TASK [sentry_config : Summary]") :]
    assert f"Sentry {backend.url}, organization sentry" in summary
    dsn = (env_dir / ".env.production").read_text().split("SENTRY_DSN=", 1)[1].split()[0]
    assert f"production DSN: {dsn}" in summary
    assert "issue alert: New issue" in summary
    assert "metric alert: DermAI API - Error spike (100+ errors in 10 minutes)" in summary
    assert f"env file controller:{env_dir}/.env.production" in summary


def test_check_diff_prints_the_field_before_and_after(runs):
    _, _, outputs = runs
    out = outputs["diff"].stdout
    block = out[out.index("TASK [sentry_config : Ensure the projects exist") :]
    block = block[: block.index("TASK [", 10)]
    assert re.search(r'^-\s*"?subjectPrefix"?: "?\[DermAI-API\]', block, re.M), block
    assert re.search(r'^\+\s*"?subjectPrefix"?: "?\[API\]', block, re.M), block
    assert "changed: [localhost] => (item=dermai-api)" in block
    assert "ok: [localhost] => (item=dermai-web)" in block


def test_the_rerun_at_high_verbosity_changes_nothing(runs):
    _, _, outputs = runs
    assert outputs["verbose"].changed == 0, outputs["verbose"].changed_tasks()
