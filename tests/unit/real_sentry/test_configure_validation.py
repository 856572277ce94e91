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

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.real_sentry.conftest import new_org
from tests.unit.real_sentry.test_configure_playbook import RECAP, REPO

pytestmark = [pytest.mark.real_sentry, pytest.mark.slow]

SCRIPT = REPO / "roles" / "sentry_config" / "files" / "ensure_environments.py"
HOME = Path(os.environ.get("REAL_SENTRY_HOME", REPO / ".real-sentry"))


def configure(real_sentry, org: str, env_dir: Path) -> subprocess.CompletedProcess:
    """The operator's `make configure` with the shipped defaults (metric alerts on)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "SENTRY_"))}
    env.update(
        PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '')}",
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        ANSIBLE_NOCOLOR="1",
        SENTRY_URL=real_sentry.url,
        SENTRY_TOKEN_FILE=str(real_sentry.token_file),
        SENTRY_ORG=org,
        SENTRY_ENV_DIR=str(env_dir),
    )
    cmd = [
        str(Path(sys.executable).with_name("ansible-playbook")),
        "-i",
        "inventories/standalone",
        "deploy/configure.yml",
    ]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900, check=False)


def test_metric_alerts_against_a_sentry_without_them_fail_before_any_write(real_sentry, real_api, tmp_path):
    org = new_org(real_api)
    proc = configure(real_sentry, org, tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-4000:]
    assert real_sentry.token not in out
    assert "cannot hold metric alerts" in out and "sentry_config_metric_alerts_enabled" in out, out[-4000:]
    assert real_api.call("GET", f"organizations/{org}/teams/").json() == []
    assert real_api.call("GET", f"organizations/{org}/projects/").json() == []
    assert not list(tmp_path.glob(".env*"))
    assert RECAP.search(proc.stdout)


def _ensure_environments(org: str, projects: list[str], environments: list[str]) -> dict:
    env = dict(
        os.environ,
        SENTRY_CONF=str(HOME / "conf"),
        DERMAI_ORG=org,
        DERMAI_PROJECTS=",".join(projects),
        DERMAI_ENVIRONMENTS=",".join(environments),
        DERMAI_CHECK="0",
    )
    proc = subprocess.run(
        [str(HOME / "venv" / "bin" / "sentry"), "exec", "-c", SCRIPT.read_text()],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    [line] = [ln for ln in proc.stdout.splitlines() if ln.startswith("DERMAI_ENVIRONMENTS ")]
    return json.loads(line.split(" ", 1)[1])


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
