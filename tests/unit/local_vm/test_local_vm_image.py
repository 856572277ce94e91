"""The local VM image builder (deploy/bin/local_vm_image.py): naming, reuse, check mode, recipe."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
from pathlib import Path
from types import SimpleNamespace

import docker.errors
import pytest

BUILDER = Path(__file__).resolve().parents[3] / "deploy" / "bin" / "local_vm_image.py"


def load_builder():
    loader = importlib.machinery.SourceFileLoader("local_vm_image", str(BUILDER))
    spec = importlib.util.spec_from_loader("local_vm_image", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


@pytest.fixture
def builder():
    return load_builder()


class FakeImages:
    """The part of docker's ImageCollection the builder uses; `present` holds the tags on disk."""

    def __init__(self, present: set[str]):
        self.present = present
        self.removed: list[str] = []

    def get(self, tag: str):
        if tag not in self.present:
            raise docker.errors.ImageNotFound(tag)
        return SimpleNamespace(tags=[tag])

    def list(self, name: str):
        return [SimpleNamespace(tags=[tag]) for tag in sorted(self.present) if tag.startswith(name + ":")]

    def remove(self, tag: str):
        self.present.discard(tag)
        self.removed.append(tag)


class FakeClient:
    def __init__(self, present: set[str]):
        self.images = FakeImages(present)
        self.imported: list[tuple[str, str]] = []
        self.api = SimpleNamespace(import_image_from_file=self._import)

    def _import(self, filename, repository, tag, changes):
        assert 'CMD ["/lib/systemd/systemd"]' in changes
        self.imported.append((Path(filename).name, f"{repository}:{tag}"))
        self.images.present.add(f"{repository}:{tag}")


def args(builder, state_dir: Path, release="bookworm", check=False):
    return builder.parse_args(["--release", release, "--state-dir", str(state_dir)] + (["--check"] if check else []))


def use_client(monkeypatch, builder, client):
    monkeypatch.setattr(builder.docker, "from_env", lambda: client)


def forbid_building(monkeypatch, builder):
    def fail(*_args, **_kwargs):
        raise AssertionError("the builder ran debootstrap although it must not")

    monkeypatch.setattr(builder, "debootstrap", fail)


def test_image_tag_names_the_release_and_the_recipe(builder):
    tag = builder.image_tag("trixie")
    assert tag.startswith("dermai-local-vm:trixie-")
    assert builder.image_tag("trixie") == tag
    assert builder.image_tag("bookworm") != tag.replace("trixie", "bookworm")


def test_image_tag_changes_when_the_package_list_changes(builder, monkeypatch):
    before = builder.image_tag("bookworm")
    monkeypatch.setattr(builder, "PACKAGES", (*builder.PACKAGES, "nano"))
    assert builder.image_tag("bookworm") != before


def test_unknown_release_is_rejected_naming_the_allowed_ones(builder, capsys):
    with pytest.raises(SystemExit):
        builder.parse_args(["--release", "buster", "--state-dir", "x"])
    err = capsys.readouterr().err
    assert "bookworm" in err and "trixie" in err


def test_present_image_is_reused_without_change(builder, monkeypatch, tmp_path):
    client = FakeClient({builder.image_tag("bookworm")})
    use_client(monkeypatch, builder, client)
    forbid_building(monkeypatch, builder)
    result = builder.ensure_image(args(builder, tmp_path))
    assert (result["changed"], result["action"]) == (False, "present")
    assert client.imported == []


def test_cached_root_file_system_is_imported_without_debootstrap(builder, monkeypatch, tmp_path):
    tag = builder.image_tag("bookworm")
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / f"rootfs-{tag.partition(':')[2]}.tar").write_bytes(b"tar")
    client = FakeClient(set())
    use_client(monkeypatch, builder, client)
    forbid_building(monkeypatch, builder)
    result = builder.ensure_image(args(builder, tmp_path))
    assert (result["changed"], result["action"], result["image"]) == (True, "imported", tag)
    assert client.imported == [(f"rootfs-{tag.partition(':')[2]}.tar", tag)]


def test_check_mode_reports_a_build_and_changes_nothing(builder, monkeypatch, tmp_path):
    client = FakeClient(set())
    use_client(monkeypatch, builder, client)
    forbid_building(monkeypatch, builder)
    result = builder.ensure_image(args(builder, tmp_path, check=True))
    assert (result["changed"], result["action"]) == (True, "would-build")
    assert client.imported == []
    assert not list((tmp_path / "cache").glob("*.tar"))


def test_new_recipe_removes_unused_images_and_tars_of_the_old_one(builder, monkeypatch, tmp_path):
    tag = builder.image_tag("bookworm")
    old = "dermai-local-vm:bookworm-000000000000"
    other_release = "dermai-local-vm:trixie-000000000000"
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "rootfs-bookworm-000000000000.tar").write_bytes(b"old")

    def fake_debootstrap(rootfs, tarball, *_args):
        tarball.write_bytes(b"new")

    client = FakeClient({old, other_release})
    use_client(monkeypatch, builder, client)
    monkeypatch.setattr(builder, "debootstrap", fake_debootstrap)
    result = builder.ensure_image(args(builder, tmp_path))
    assert (result["changed"], result["action"]) == (True, "built")
    assert client.images.present == {tag, other_release}
    assert [p.name for p in cache.glob("*.tar")] == [f"rootfs-{tag.partition(':')[2]}.tar"]


def test_customise_makes_a_sudo_user_and_per_vm_host_keys(builder, monkeypatch, tmp_path):
    commands: list[list[str]] = []
    monkeypatch.setattr(builder, "run", commands.append)
    monkeypatch.setattr(builder.os, "chown", lambda *_args: None)
    rootfs = tmp_path
    for directory in ("etc/apt", "etc/ssh", "etc/sudoers.d", "etc/systemd/system", "home/deploy",
                      "var/cache/apt/archives", "var/lib/apt/lists"):  # fmt: skip
        (rootfs / directory).mkdir(parents=True)
    (rootfs / "etc/ssh/ssh_host_ed25519_key").write_text("shared key")
    (rootfs / "var/cache/apt/archives/x.deb").write_bytes(b"deb")

    builder.customise(rootfs, "trixie", "http://mirror/debian", "http://mirror/debian-security")

    assert "deb http://mirror/debian-security trixie-security main" in (rootfs / "etc/apt/sources.list").read_text()
    sudoers = rootfs / "etc/sudoers.d/deploy"
    assert "deploy ALL=(ALL:ALL) NOPASSWD: ALL" in sudoers.read_text()
    assert sudoers.stat().st_mode & 0o777 == 0o440
    assert (rootfs / "home/deploy/.ssh").stat().st_mode & 0o777 == 0o700
    assert not (rootfs / "etc/ssh/ssh_host_ed25519_key").exists()
    assert "ssh-keygen -A" in (rootfs / "etc/systemd/system/local-vm-ssh-host-keys.service").read_text()
    assert (rootfs / "etc/machine-id").read_text() == ""
    assert not (rootfs / "var/cache/apt/archives/x.deb").exists()
    assert any(cmd[2:4] == ["useradd", "--create-home"] for cmd in commands)
    assert any(cmd[2:] == ["systemctl", "enable", "local-vm-ssh-host-keys.service"] for cmd in commands)


def test_failure_is_reported_as_json(builder, monkeypatch, tmp_path, capsys):
    def broken():
        raise docker.errors.DockerException("no engine")

    monkeypatch.setattr(builder.docker, "from_env", broken)
    monkeypatch.setattr(builder.os, "geteuid", lambda: 0)
    assert builder.main(["--release", "bookworm", "--state-dir", str(tmp_path)]) == 1
    result = json.loads(capsys.readouterr().out)
    assert result["failed"] is True and "no engine" in result["msg"]
