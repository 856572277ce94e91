"""The upgrade planner: (installed, target) -> ordered releases to install, or a refusal."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml

ROLE = Path(__file__).resolve().parents[3] / "roles" / "sentry"
_spec = importlib.util.spec_from_file_location("sentry_upgrade", ROLE / "filter_plugins" / "sentry_upgrade.py")
planner = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(planner)

STOPS = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())["_sentry_hard_stops"]


@pytest.mark.parametrize(
    ("current", "target", "expected"),
    [
        (None, "26.8.0", ["26.8.0"]),
        ("", "26.8.0", ["26.8.0"]),
        ("26.8.0", "26.8.0", []),
        ("26.5.1", "26.8.0", ["26.8.0"]),
        ("26.5.0", "26.8.0", ["26.5.1", "26.8.0"]),
        ("25.5.1", "26.8.0", ["26.5.0", "26.5.1", "26.8.0"]),
        ("24.8.0", "26.8.0", ["25.5.1", "26.5.0", "26.5.1", "26.8.0"]),
        ("23.6.2", "25.5.1", ["23.11.0", "24.8.0", "25.5.1"]),
        (
            "9.1.2",
            "26.8.0",
            ["21.5.0", "21.6.3", "23.6.2", "23.11.0", "24.8.0", "25.5.1", "26.5.0", "26.5.1", "26.8.0"],
        ),
        ("8.22.0", "21.5.0", ["9.1.2", "21.5.0"]),
        ("26.7.2", "26.8.0", ["26.8.0"]),
        ("25.10.0", "26.6.0", ["26.5.0", "26.5.1", "26.6.0"]),
    ],
)
def test_plan_lists_every_hard_stop_in_order_then_the_target(current, target, expected):
    assert planner.plan_upgrade(current, target, STOPS) == expected


def test_release_after_26_8_0_must_land_on_26_8_0_for_the_clickhouse_chain():
    assert planner.plan_upgrade("25.8.0", "26.9.0", STOPS) == ["26.5.0", "26.5.1", "26.8.0", "26.9.0"]
    assert planner.plan_upgrade("26.8.0", "26.9.0", STOPS) == ["26.9.0"]


def test_clickhouse_chain_stop_is_not_required_up_to_26_8_0():
    assert "26.8.0" not in planner.plan_upgrade("26.6.0", "26.7.2", STOPS)


def test_downgrade_is_refused_with_the_reason():
    with pytest.raises(planner.UpgradePlanError, match=r"refusing to downgrade from 26\.8\.0 to 26\.5\.1"):
        planner.plan_upgrade("26.8.0", "26.5.1", STOPS)


@pytest.mark.parametrize("bad", ["master", "nightly", "26.8", "v26.8.0", "26.08.0", "26.8.0-rc1", "", "latest"])
def test_target_that_is_not_a_release_tag_is_refused(bad):
    with pytest.raises(planner.UpgradePlanError, match="sentry_version"):
        planner.plan_upgrade("26.5.1", bad, STOPS)


def test_unparseable_installed_version_is_refused():
    with pytest.raises(planner.UpgradePlanError, match="install marker"):
        planner.plan_upgrade("master", "26.8.0", STOPS)


def test_plan_needing_a_tag_the_repository_lacks_is_refused():
    with pytest.raises(planner.UpgradePlanError, match=r"no tag for 26\.5\.0"):
        planner.plan_upgrade("25.5.1", "26.8.0", STOPS, available=["25.5.1", "26.5.1", "26.8.0"])


def test_plan_with_every_tag_available_passes():
    tags = ["25.5.1", "26.5.0", "26.5.1", "26.8.0"]
    assert planner.plan_upgrade("25.5.1", "26.8.0", STOPS, available=tags) == ["26.5.0", "26.5.1", "26.8.0"]


def test_check_filter_returns_the_error_instead_of_raising():
    result = planner.check_upgrade("26.8.0", "26.5.1", STOPS)
    assert result["ok"] is False
    assert "downgrade" in result["error"]
    ok = planner.check_upgrade("25.5.1", "26.8.0", STOPS)
    assert ok == {"ok": True, "plan": ["26.5.0", "26.5.1", "26.8.0"], "stops": ["26.5.0", "26.5.1"], "error": ""}


def test_extra_stops_from_the_inventory_are_walked_too():
    extra = [*STOPS, {"version": "26.7.0", "reason": "announced later"}]
    assert planner.plan_upgrade("26.5.1", "26.8.0", extra) == ["26.7.0", "26.8.0"]


def test_versions_compare_numerically_not_as_text():
    assert planner.plan_upgrade("26.10.0", "26.11.0", STOPS) == ["26.11.0"]
    with pytest.raises(planner.UpgradePlanError, match="downgrade"):
        planner.plan_upgrade("26.10.0", "26.9.0", STOPS)


def test_role_hard_stops_are_the_documented_list():
    unconditional = [s["version"] for s in STOPS if "when_target_after" not in s]
    assert unconditional == ["9.1.2", "21.5.0", "21.6.3", "23.6.2", "23.11.0", "24.8.0", "25.5.1", "26.5.0", "26.5.1"]
