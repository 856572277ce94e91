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

TABLE = yaml.safe_load((ROLE / "vars" / "releases.yml").read_text())["_sentry_releases"]
STOPS = TABLE["hard_stops"]


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
    with pytest.raises(planner.UpgradePlanError, match="installed version"):
        planner.plan_upgrade("master", "26.8.0", STOPS)


def test_plan_needing_a_tag_the_repository_lacks_is_refused():
    with pytest.raises(planner.UpgradePlanError, match=r"no tag for 26\.5\.0"):
        planner.plan_upgrade("25.5.1", "26.8.0", STOPS, available=["25.5.1", "26.5.1", "26.8.0"])


def test_plan_with_every_tag_available_passes():
    tags = ["25.5.1", "26.5.0", "26.5.1", "26.8.0"]
    assert planner.plan_upgrade("25.5.1", "26.8.0", STOPS, available=tags) == ["26.5.0", "26.5.1", "26.8.0"]


def test_check_filter_returns_the_error_instead_of_raising():
    result = planner.check_plan(TABLE, "26.8.0", "26.5.1")
    assert result["ok"] is False
    assert "downgrade" in result["error"]
    ok = planner.check_plan(TABLE, "25.5.1", "26.8.0")
    assert ok["ok"] is True
    assert ok["releases"] == ["26.5.0", "26.5.1", "26.8.0"]
    assert ok["stops"] == ["26.5.0", "26.5.1"]


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


ARGS_22_12 = ["--skip-user-creation", "--no-report-self-hosted-issues", "--skip-commit-check"]
ARGS_25_9 = [*ARGS_22_12, "--apply-automatic-config-updates"]


@pytest.mark.parametrize(
    ("installed", "expected"),
    [
        (
            "23.11.0",
            [
                ("24.8.0", ARGS_22_12, "full"),
                ("25.5.1", ARGS_22_12, "partial"),
                ("26.5.0", ARGS_25_9, "partial"),
                ("26.5.1", ARGS_25_9, "partial"),
                ("26.8.0", ARGS_25_9, "partial"),
            ],
        ),
        (
            "24.8.0",
            [
                ("25.5.1", ARGS_22_12, "partial"),
                ("26.5.0", ARGS_25_9, "partial"),
                ("26.5.1", ARGS_25_9, "partial"),
                ("26.8.0", ARGS_25_9, "partial"),
            ],
        ),
        (
            "25.5.1",
            [("26.5.0", ARGS_25_9, "partial"), ("26.5.1", ARGS_25_9, "partial"), ("26.8.0", ARGS_25_9, "partial")],
        ),
        (
            "25.9.0",
            [("26.5.0", ARGS_25_9, "partial"), ("26.5.1", ARGS_25_9, "partial"), ("26.8.0", ARGS_25_9, "partial")],
        ),
        ("26.5.1", [("26.8.0", ARGS_25_9, "partial")]),
    ],
)
def test_each_step_gets_the_flags_and_env_custom_mode_of_its_release(installed, expected):
    plan = planner.build_plan(installed, "26.8.0", TABLE)
    assert [(s["release"], s["install_args"], s["env_custom"]) for s in plan["steps"]] == expected
    # Backed up before each step, restored onto the release before it on failure.
    assert [s["restore_onto"] for s in plan["steps"]] == [installed] + [s[0] for s in expected[:-1]]
    assert all(s["backup_before"] for s in plan["steps"])


def test_a_pin_below_25_9_never_gets_the_automatic_config_updates_flag():
    plan = planner.build_plan(None, "24.8.0", TABLE)
    assert plan["steps"][0]["install_args"] == ARGS_22_12
    assert plan["steps"][0]["backup_before"] is False


def test_secret_key_moves_to_the_environment_from_25_12_0():
    assert planner.release_facts("25.11.1", TABLE)["secret_key"] == "config_yml"
    assert planner.release_facts("25.12.1", TABLE)["secret_key"] == "environment"


def test_passing_21_12_0_runs_the_compose_project_rename_first():
    plan = planner.build_plan("21.6.3", "23.6.2", TABLE, compose_command="docker compose")
    (step,) = plan["steps"]
    assert step["pre_steps"][0]["argv"] == [
        "docker",
        "compose",
        "--project-name",
        "sentry_onpremise",
        "down",
        "--rmi",
        "local",
        "--remove-orphans",
    ]
    assert planner.build_plan("23.6.2", "23.11.0", TABLE)["steps"][0]["pre_steps"] == []


def test_crossing_26_7_0_asks_for_the_alerts_resave_once():
    plan = planner.build_plan("26.5.1", "26.8.0", TABLE)
    assert [c["what"] for c in plan["crossings"]] == ["alerts_resave"]
    assert planner.build_plan("26.7.0", "26.8.0", TABLE)["crossings"] == []
    assert planner.build_plan(None, "26.8.0", TABLE)["crossings"] == []


def test_installed_release_below_the_oldest_supported_is_refused_with_the_manual_path():
    with pytest.raises(planner.UpgradePlanError, match=r"older than 21\.6\.3.*Upgrade by hand to 21\.6\.3 first"):
        planner.build_plan("20.6.0", "26.8.0", TABLE)


@pytest.mark.parametrize(("avoid", "use"), [("25.12.0", "25.12.1"), ("26.3.0", "26.3.1"), ("26.4.0", "26.4.1")])
def test_target_upgrades_must_not_land_on_is_refused_naming_the_next_release(avoid, use):
    with pytest.raises(planner.UpgradePlanError, match=f"set sentry_version to {use}"):
        planner.build_plan("25.5.1", avoid, TABLE)


def test_extra_install_flag_a_release_of_the_plan_refuses_is_refused():
    with pytest.raises(
        planner.UpgradePlanError, match=r"install\.sh of 25\.5\.1 refuses --apply-automatic-config-updates"
    ):
        planner.build_plan("24.8.0", "26.8.0", TABLE, extra_args=["--apply-automatic-config-updates"])


@pytest.mark.parametrize(
    ("marker", "tag", "env", "ps", "expected"),
    [
        ("25.5.1", "26.8.0", "", "", ("25.5.1", "marker")),
        ("", "24.8.0", "SENTRY_IMAGE=getsentry/sentry:24.8.0\n", "", ("24.8.0", "checkout")),
        ("", "", "SENTRY_IMAGE=ghcr.io/getsentry/sentry:25.9.0\n", "", ("25.9.0", "env")),
        (
            "",
            "24.8.0",
            "",
            '{"Image": "getsentry/relay:23.11.0"}\n{"Image": "nginx:1.25.2-alpine"}',
            ("23.11.0", "containers"),
        ),
        ("", "", "", '[{"Image": "ghcr.io/getsentry/snuba:26.5.1"}]', ("26.5.1", "containers")),
        ("", "", "", "", ("", "none")),
    ],
)
def test_installed_release_is_detected_from_marker_containers_checkout_or_env(marker, tag, env, ps, expected):
    found = planner.detect_installed(marker, tag, env, ps)
    assert (found["version"], found["source"]) == expected


def test_full_env_custom_keeps_every_upstream_key_with_the_overrides():
    text = planner.render_env_custom_full(
        "# c\nCOMPOSE_PROJECT_NAME=sentry-self-hosted\nSENTRY_BIND=9000\nSENTRY_IMAGE=getsentry/sentry:24.8.0\n",
        {"SENTRY_BIND": "127.0.0.1:9000", "SENTRY_SYSTEM_SECRET_KEY": "k"},
    )
    assert text.splitlines() == [
        "COMPOSE_PROJECT_NAME='sentry-self-hosted'",
        "SENTRY_BIND='127.0.0.1:9000'",
        "SENTRY_IMAGE='getsentry/sentry:24.8.0'",
        "SENTRY_SYSTEM_SECRET_KEY='k'",
    ]


def test_registries_are_read_from_image_references():
    images = [
        "sentry-self-hosted-local",
        "nginx:1.31.3-alpine",
        "ghcr.io/getsentry/relay:26.8.0",
        "registry.gitlab.com/egos-tech/smtp",
        "127.0.0.1:5000/getsentry/snuba:26.8.0",
    ]
    assert planner.registry_hosts(images) == ["127.0.0.1:5000", "docker.io", "ghcr.io", "registry.gitlab.com"]
