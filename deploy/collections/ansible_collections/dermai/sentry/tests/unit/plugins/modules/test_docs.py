"""Every module's documentation (as ansible-doc renders it) matches the argument spec it enforces."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args
from ansible_collections.dermai.sentry.tests.unit.plugins.modules.conftest import MODULES, REPO

NAMES = [
    "sentry_organization",
    "sentry_team",
    "sentry_project",
    "sentry_key",
    "sentry_issue_alert",
    "sentry_metric_alert",
]


class _Spec(Exception):
    pass


def argument_spec(name):
    def capture(self, argument_spec, **kwargs):
        raise _Spec(argument_spec)

    module = importlib.import_module(MODULES + name)
    with (
        patch_module_args({}),
        mock.patch.object(basic.AnsibleModule, "__init__", capture),
        pytest.raises(_Spec) as spec,
    ):
        module.main()
    return spec.value.args[0]


@pytest.fixture(scope="module")
def rendered():
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"))
    cmd = [str(Path(sys.executable).with_name("ansible-doc")), "--json", "-t", "module"]
    cmd += [f"dermai.sentry.{n}" for n in NAMES]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, check=True, timeout=120)
    return json.loads(proc.stdout)


def compare(options, spec, where):
    assert sorted(options) == sorted(spec), f"{where}: documented vs accepted options differ"
    for opt, rule in spec.items():
        doc = options[opt]
        assert doc.get("type", "str") == rule.get("type", "str"), f"{where}.{opt}: type"
        assert doc.get("required", False) == rule.get("required", False), f"{where}.{opt}: required"
        assert doc.get("default") == rule.get("default"), f"{where}.{opt}: default"
        assert doc.get("choices") == rule.get("choices"), f"{where}.{opt}: choices"
        assert doc.get("elements") == rule.get("elements"), f"{where}.{opt}: elements"
        if "options" in rule:
            compare(doc.get("suboptions", {}), rule["options"], f"{where}.{opt}")


@pytest.mark.parametrize("name", NAMES)
def test_documented_options_match_the_argument_spec(rendered, name):
    doc = rendered[f"dermai.sentry.{name}"]["doc"]
    compare(doc["options"], argument_spec(name), name)


@pytest.mark.parametrize("name", NAMES)
def test_docs_declare_check_and_diff_support_and_have_examples_and_return(rendered, name):
    entry = rendered[f"dermai.sentry.{name}"]
    assert entry["doc"]["attributes"]["check_mode"]["support"] == "full"
    assert entry["doc"]["attributes"]["diff_mode"]["support"] == "full"
    assert f"dermai.sentry.{name}:" in entry["examples"]
    assert entry["return"]


@pytest.mark.parametrize("name", NAMES)
def test_the_token_is_never_logged(name):
    spec = argument_spec(name)
    assert spec["token"]["no_log"] is True
    assert spec["url"]["no_log"] is False
