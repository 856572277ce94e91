"""The facts the sentry_config_inputs step checks against agree with the Sentry double (both mirror Sentry)."""

from __future__ import annotations

import importlib.util
import sys

from tests.sentry_double.platforms import PROJECT_PLATFORMS
from tests.sentry_double.rules import NODES
from tests.unit.configure.runner import REPO


def _plugin():
    # The plugin imports the collection's facts, as it does under ansible-playbook (collections_path).
    collections = str(REPO / "deploy" / "collections")
    if collections not in sys.path:
        sys.path.insert(0, collections)
    path = REPO / "roles" / "sentry_config" / "action_plugins" / "sentry_config_inputs.py"
    spec = importlib.util.spec_from_file_location("sentry_config_inputs", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_platform_list_is_sentrys():
    assert PROJECT_PLATFORMS | {"other"} == _plugin().PLATFORMS


def test_the_rule_node_ids_are_sentrys():
    plugin = _plugin()
    by_kind = {kind: {i for i, spec in NODES.items() if spec[0] == kind} for kind in ("condition", "filter", "action")}
    assert by_kind["condition"] == plugin.CONDITION_IDS
    assert by_kind["filter"] == plugin.FILTER_IDS
    assert by_kind["action"] == plugin.ACTION_IDS
    assert plugin.NODE_IDS["conditions"] >= by_kind["condition"] | by_kind["filter"]


def test_a_string_is_not_split_into_a_list_and_defaults_are_filled_in():
    plugin = _plugin()
    spec = plugin.load_spec()
    checker = plugin.Checker()
    assert checker.value("sentry_config_org_safe_fields", spec["sentry_config_org_safe_fields"], "a,b") is None
    assert "must be a YAML list" in checker.errors[0]
    envs = checker.value("sentry_config_environments", spec["sentry_config_environments"], [{"name": "staging"}])
    assert envs == [{"name": "staging", "traces_sample_rate": 0.1, "error_rate_limit": 200}]
    assert len(checker.errors) == 1
