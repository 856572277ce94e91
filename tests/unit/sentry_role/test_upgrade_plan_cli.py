"""deploy/bin/upgrade-plan (and make upgrade-plan) print the plan the role executes;
docs/upgrades.md is generated from the same table and must not be stale."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
CLI = ROOT / "deploy" / "bin" / "upgrade-plan"


def _plan(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(CLI), *args], capture_output=True, text=True, timeout=60)


def test_json_plan_lists_each_release_with_its_exact_install_argv():
    result = _plan("--from", "24.8.0", "--to", "26.8.0", "--json")
    assert result.returncode == 0, result.stderr
    steps = json.loads(result.stdout)
    assert [s["release"] for s in steps] == ["25.5.1", "26.5.0", "26.5.1", "26.8.0"]
    assert steps[0]["install_args"] == ["--skip-user-creation", "--no-report-self-hosted-issues", "--skip-commit-check"]
    assert steps[-1]["install_args"][-1] == "--apply-automatic-config-updates"
    assert all(isinstance(arg, str) for s in steps for arg in s["install_args"])
    assert [s["restore_onto"] for s in steps] == ["24.8.0", "25.5.1", "26.5.0", "26.5.1"]


def test_text_plan_says_backup_install_and_restore_for_each_step():
    result = _plan("--from", "24.8.0", "--to", "26.8.0")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "Step 1/4: 25.5.1 (hard stop: migration squash point)" in text
    argv = "./install.sh --skip-user-creation --no-report-self-hosted-issues --skip-commit-check\n"
    assert f"cd /opt/sentry && {argv}" in text
    assert "back up     24.8.0 as installed" in text
    assert "check out 24.8.0, restore the snapshot of step 1.1 onto it" in text
    assert "alerts_resave" in text


def test_refused_move_exits_2_with_the_reason():
    result = _plan("--from", "26.8.0", "--to", "25.5.1")
    assert result.returncode == 2
    assert "refusing to downgrade" in result.stderr
    below = _plan("--from", "9.1.2", "--to", "26.8.0")
    assert below.returncode == 2
    assert "Upgrade by hand to 21.6.3 first" in below.stderr


def test_make_target_passes_from_to_and_json():
    result = subprocess.run(
        ["make", "--no-print-directory", "-s", "upgrade-plan", "FROM=25.9.0", "TO=26.8.0", "JSON=1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    steps = json.loads(result.stdout[result.stdout.index("[") :])
    assert [s["release"] for s in steps] == ["26.5.0", "26.5.1", "26.8.0"]


def test_upgrades_page_is_generated_from_the_current_table():
    result = subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "bin" / "gen-upgrades-doc"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr + " (run: make upgrades-doc)"
