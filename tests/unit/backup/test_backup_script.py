"""The backup script (roles/backup/templates/dermai-backup.sh.j2) against a real restic repository.

The template is rendered by Ansible with the role's defaults and paths under a temporary
directory; PATH gets a `docker` stand-in that only answers `docker volume inspect/create`
with directories of the test (the volumes), so that backup, the stop/start of the services
around the volume copy, the restore and the faults run for real with restic on this machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
PASSWORD = "unit-test-repository-password-7f3a"
pytestmark = pytest.mark.skipif(shutil.which("restic") is None, reason="restic is not installed")

DOCKER_STANDIN = """#!/bin/bash
# docker volume inspect --format ... NAME | docker volume create NAME, on $VOLUMES_DIR.
set -eu
[[ $1 == volume ]] || exit 2
case $2 in
  inspect) name=${@: -1}; [[ -d $VOLUMES_DIR/$name/_data ]] || exit 1; echo "$VOLUMES_DIR/$name/_data" ;;
  create) mkdir -p "$VOLUMES_DIR/$3/_data"; echo "$3" ;;
  *) exit 2 ;;
esac
"""


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    root = tmp_path_factory.mktemp("backup-script")
    (root / "bin").mkdir()
    docker = root / "bin" / "docker"
    docker.write_text(DOCKER_STANDIN)
    docker.chmod(0o755)
    for name in ("vol-a", "vol-b"):
        data = root / "volumes" / name / "_data"
        (data / "nested").mkdir(parents=True)
        (data / "nested" / "blob.bin").write_bytes(os.urandom(200_000))
        (data / "README").write_text(f"volume {name}\n")
        (data / "link").symlink_to("nested/blob.bin")
    (root / "install" / "sentry").mkdir(parents=True)
    (root / "install" / "sentry" / "config.yml").write_text("system.url-prefix: https://sentry.test\n")
    # As certbot's live/ links: restic 0.14 cannot restore a symlink over an existing one.
    (root / "install" / "sentry" / "current.yml").symlink_to("config.yml")
    (root / "marker.json").write_text(json.dumps({"version": "26.8.0"}))
    overrides = {
        "inventory_hostname": "unit-host",
        "backup_config_dir": str(root / "etc"),
        "backup_state_dir": str(root / "state"),
        "backup_install_dir": str(root / "install"),
        "backup_marker_file": str(root / "marker.json"),
        "backup_volumes": ["vol-a", "vol-b"],
        "backup_paths": [str(root / "install" / "sentry"), str(root / "marker.json"), str(root / "absent")],
        "backup_postgres_dump_command": f"cat {root}/db.sql",
        "backup_postgres_restore_command": f"cat > {root}/loaded.sql",
        "backup_stack_stop_command": f"echo stop >> {root}/services.log",
        "backup_stack_start_command": f"echo start >> {root}/services.log",
        "backup_postgres_start_command": f"echo pg-start >> {root}/services.log",
        "backup_postgres_stop_command": "",
        "backup_sentry_export_command": "",
    }
    (root / "vars.json").write_text(json.dumps(overrides))
    # Rendered by Ansible's template module itself (ad hoc), with the role's defaults and the
    # overrides above as extra variables (the later file wins).
    template_args = " ".join(
        [
            f"src={REPO / 'roles' / 'backup' / 'templates' / 'dermai-backup.sh.j2'}",
            f"dest={root / 'dermai-backup'}",
            "mode=0700",
        ]
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    subprocess.run(
        [
            str(REPO / ".venv" / "bin" / "ansible"),
            "localhost",
            "--connection=local",
            f"--extra-vars=ansible_python_interpreter={sys.executable}",
            f"--extra-vars=@{REPO / 'roles' / 'backup' / 'defaults' / 'main.yml'}",
            f"--extra-vars=@{root / 'vars.json'}",
            "--module-name=ansible.builtin.template",
            f"--args={template_args}",
        ],
        check=True,
        capture_output=True,
        env=env,
        timeout=300,
    )
    (root / "etc").mkdir(mode=0o700)
    (root / "etc" / "password").write_text(PASSWORD)
    (root / "etc" / "repository").write_text(str(root / "repo"))
    (root / "db.sql").write_text("CREATE TABLE t (x int);\nINSERT INTO t VALUES (1), (2);\n")
    return root


def run(rig: Path, *args: str, check: bool = False) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{rig / 'bin'}:{os.environ['PATH']}", "VOLUMES_DIR": str(rig / "volumes")}
    proc = subprocess.run([str(rig / "dermai-backup"), *args], capture_output=True, text=True, env=env, timeout=300)
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@contextlib.contextmanager
def rewritten(path: Path, edit):
    """The file with edit(text) written in it for the duration of the block, then as it was."""
    saved = path.read_text()
    path.write_text(edit(saved))
    try:
        yield
    finally:
        path.write_text(saved)


def snapshots(rig: Path) -> list[dict]:
    return json.loads(run(rig, "snapshots", check=True).stdout)


def tags(snapshot: dict) -> dict[str, str]:
    return dict(t.split("=", 1) for t in snapshot["tags"])


def test_init_creates_the_repository_once(rig):
    first = run(rig, "init", check=True)
    second = run(rig, "init", check=True)
    assert first.stdout.strip() == "repository created"
    assert second.stdout.strip() == "repository ready"


def test_backup_stores_a_tagged_run_and_records_it(rig):
    proc = run(rig, "backup", "--reason", "pre-upgrade-26.7.0-to-26.8.0", check=True)
    result = json.loads(proc.stdout.split("BACKUP_RESULT ", 1)[1])
    assert result["release"] == "26.8.0" and result["reason"] == "pre-upgrade-26.7.0-to-26.8.0"
    parts = {tags(s)["part"]: s for s in snapshots(rig)}
    assert set(parts) == {"db", "files"}
    assert parts["files"]["id"] == result["id"]
    assert tags(parts["db"])["run"] == tags(parts["files"])["run"]
    assert all(s["hostname"] == "unit-host" for s in parts.values())
    record = json.loads((rig / "state" / "last-success.json").read_text())
    assert record["snapshot"] == result["id"]
    assert str(rig / "absent") in record["missing"]
    # The services were stopped for the volume copy and started again, once each.
    assert (rig / "services.log").read_text().split() == ["stop", "start"]
    assert not (rig / "state" / "services-stopped").exists()


def test_secrets_are_not_in_output_and_state_is_root_only(rig):
    proc = run(rig, "backup", check=True)
    assert PASSWORD not in proc.stdout + proc.stderr
    for path in (rig / "state").iterdir():
        assert path.stat().st_mode & 0o077 == 0, path


def test_wrong_password_names_the_variable_and_deletes_nothing(rig):
    before = snapshots(rig)
    with rewritten(rig / "etc" / "password", lambda _: "not-the-password-at-all-000"):
        proc = run(rig, "backup")
    assert proc.returncode == 1
    assert "backup_password does not open the repository" in proc.stderr
    assert snapshots(rig) == before
    failure = json.loads((rig / "state" / "last-failure.json").read_text())
    assert "backup_password" in failure["message"]


def test_a_failed_dump_stops_nothing_and_leaves_no_complete_run(rig):
    files_before = [s["id"] for s in snapshots(rig) if tags(s)["part"] == "files"]
    services_before = (rig / "services.log").read_text()
    dump = f"readonly DUMP_COMMAND='cat {rig}/db.sql'"
    with rewritten(rig / "dermai-backup", lambda text: text.replace(dump, "readonly DUMP_COMMAND='exit 3'")):
        proc = run(rig, "backup")
    assert proc.returncode == 1
    assert "backup_postgres_dump_command" in proc.stderr
    assert [s["id"] for s in snapshots(rig) if tags(s)["part"] == "files"] == files_before
    assert (rig / "services.log").read_text() == services_before


def test_unreachable_repository_is_reported_with_credentials_redacted(rig):
    with rewritten(rig / "etc" / "repository", lambda _: "rest:http://dermai:UrlSecret123@127.0.0.1:1/repo/"):
        proc = run(rig, "probe")
    assert proc.returncode == 1
    assert "the repository of backup_repository is unreachable" in proc.stderr
    assert "UrlSecret123" not in proc.stdout + proc.stderr


def test_restore_brings_back_volumes_files_and_the_dump(rig):
    latest = max((s for s in snapshots(rig) if tags(s)["part"] == "files"), key=lambda s: s["time"])
    volume = rig / "volumes" / "vol-a" / "_data"
    original = (volume / "nested" / "blob.bin").read_bytes()
    (volume / "nested" / "blob.bin").write_bytes(b"damaged")
    (volume / "stray-file").write_text("not in the backup")
    (rig / "install" / "sentry" / "config.yml").write_text("damaged\n")
    (rig / "install" / "sentry" / "stray.yml").write_text("not in the backup\n")
    shutil.rmtree(rig / "volumes" / "vol-b")  # a volume that is gone entirely (a new host)
    run(rig, "restore", latest["id"], check=True)
    assert (volume / "nested" / "blob.bin").read_bytes() == original
    assert not (volume / "stray-file").exists()
    assert os.readlink(volume / "link") == "nested/blob.bin"
    assert (rig / "volumes" / "vol-b" / "_data" / "README").read_text() == "volume vol-b\n"
    assert (rig / "install" / "sentry" / "config.yml").read_text().startswith("system.url-prefix")
    # Restored over the existing directory, links included, as an exact copy.
    assert os.readlink(rig / "install" / "sentry" / "current.yml") == "config.yml"
    assert not (rig / "install" / "sentry" / "stray.yml").exists()
    assert not list((rig / "install").glob(".dermai-restore.*"))
    assert (rig / "loaded.sql").read_text() == (rig / "db.sql").read_text()
    assert (rig / "services.log").read_text().split()[-2:] == ["stop", "pg-start"]


def test_check_records_its_result(rig):
    run(rig, "check", check=True)
    record = json.loads((rig / "state" / "last-check.json").read_text())
    assert record["ok"] is True
