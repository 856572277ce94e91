"""sentry_internal_integration's documentation (as ansible-doc renders it) matches its argument spec."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ansible_collections.dermai.sentry.tests.unit.plugins.modules.test_docs import argument_spec, compare

from tests.unit.releases.conftest import REPO

NAME = "sentry_internal_integration"


def rendered():
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"))
    cmd = [str(Path(sys.executable).with_name("ansible-doc")), "--json", "-t", "module", f"dermai.sentry.{NAME}"]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, check=True, timeout=120)
    return json.loads(proc.stdout)[f"dermai.sentry.{NAME}"]


def test_documented_options_match_the_argument_spec_and_secrets_are_no_log():
    entry = rendered()
    spec = argument_spec(NAME)
    compare(entry["doc"]["options"], spec, NAME)
    assert entry["doc"]["attributes"]["check_mode"]["support"] == "full"
    assert entry["doc"]["attributes"]["diff_mode"]["support"] == "full"
    assert f"dermai.sentry.{NAME}:" in entry["examples"]
    assert {"integration", "token_changed", "new_token", "token_count", "token_api"} <= set(entry["return"])
    assert spec["token"]["no_log"] is True and spec["current_token"]["no_log"] is True
