"""The configure step's server-side checks and the environment creation, against real Sentry 23.7.1.

- With its shipped defaults (metric alerts on), deploy/configure.yml against this Sentry (no Snuba, the
  alert-rules endpoint answers 404) must fail before the first write, naming the variable that turns
  metric alerts off: the fresh organization keeps no team and no project.
- roles/sentry_config/files/ensure_environments.py, the script the role runs with `sentry exec` in
  Sentry's web container, run here with the server's own venv and configuration: an issue alert scoped
  to an environment is refused before it ("This environment has not been created.") and accepted after,
  without any event; a second run finds nothing missing.
"""

from __future__ import annotations

import pytest

from tests.real_sentry.backend import sentry_exec
from tests.unit.configure.runner import RECAP, REPO
from tests.unit.real_sentry.conftest import configure_real, new_org

pytestmark = [pytest.mark.real_sentry, pytest.mark.slow]

SCRIPT = REPO / "roles" / "sentry_config" / "files" / "ensure_environments.py"


def test_metric_alerts_against_a_sentry_without_them_fail_before_any_write(real_sentry, real_api, tmp_path):
    org = new_org(real_api)
    run = configure_real(real_sentry, org, tmp_path, metric_alerts=None)
    out = run.stdout + run.stderr
    assert run.rc != 0, out[-4000:]
    assert real_sentry.token not in out
    assert "cannot hold metric alerts" in out and "sentry_config_metric_alerts_enabled" in out, out[-4000:]
    assert real_api.call("GET", f"organizations/{org}/teams/").json() == []
    assert real_api.call("GET", f"organizations/{org}/projects/").json() == []
    assert not list(tmp_path.glob(".env*"))
    assert RECAP.search(run.stdout)


def _ensure_environments(org: str, projects: list[str], environments: list[str]) -> dict:
    env = {
        "DERMAI_ORG": org,
        "DERMAI_PROJECTS": ",".join(projects),
        "DERMAI_ENVIRONMENTS": ",".join(environments),
        "DERMAI_CHECK": "0",
    }
    return sentry_exec(SCRIPT, "DERMAI_ENVIRONMENTS", env)


def test_the_role_creates_an_alert_environment_without_an_event(real_sentry, real_api):
    org = new_org(real_api)
    team = real_api.call("POST", f"organizations/{org}/teams/", {"slug": "envs", "name": "envs"})
    assert team.status_code == 201, team.text
    project = real_api.call(
        "POST", f"teams/{org}/envs/projects/", {"name": "env-api", "slug": "env-api", "platform": "python"}
    )
    assert project.status_code == 201, project.text
    rule = {
        "name": "Staging only",
        "actionMatch": "all",
        "filterMatch": "all",
        "frequency": 30,
        "environment": "staging",
        "conditions": [{"id": "sentry.rules.conditions.first_seen_event.FirstSeenEventCondition"}],
        "filters": [],
        "actions": [{"id": "sentry.mail.actions.NotifyEmailAction", "targetType": "IssueOwners"}],
    }
    refused = real_api.call("POST", f"projects/{org}/env-api/rules/", rule)
    assert refused.status_code == 400 and "This environment has not been created." in refused.text

    report = _ensure_environments(org, ["env-api", "no-such-project"], ["production", "staging"])
    assert report["missing"] == ["env-api:production", "env-api:staging"]
    assert report["unknown_projects"] == ["no-such-project"]

    accepted = real_api.call("POST", f"projects/{org}/env-api/rules/", rule)
    assert accepted.status_code in (200, 201), accepted.text
    assert accepted.json()["environment"] == "staging"
    [summary] = real_api.call("GET", f"organizations/{org}/projects/").json()
    assert {"production", "staging"} <= set(summary["environments"])
    # firstEvent stays null: no event was sent to make the environments (this server has no Snuba to list events).
    assert real_api.call("GET", f"projects/{org}/env-api/").json()["firstEvent"] is None

    assert _ensure_environments(org, ["env-api"], ["production", "staging"])["missing"] == []
