#!/usr/bin/env python3
"""Build, cache and reuse the local VM's Debian base image; prints one JSON line.

    deploy/bin/local_vm_image.py --release bookworm --state-dir .local-vm [--check]

No container registry is reachable on the machines this bundle is developed on, so the
image is made here: debootstrap (minbase plus what a small Debian server has) into a
root file system, a few changes that make it a throwaway VM (a `deploy` user with
passwordless sudo, host keys made at first boot, the release's updates and security
sources), a tar of it cached in the state directory, imported into Docker with
systemd as its command.

The image tag carries a digest of the recipe (packages, changes, image settings) and
the release, so changing the recipe builds a new image and an unchanged recipe reuses
the one on disk. A running VM keeps its image until it is destroyed. The order of
reuse: the Docker image, else the cached tar (import, seconds), else debootstrap
(about a minute). A lock file serialises builds of one release from one checkout.

Output (stdout, one JSON object): changed, image, action (present|imported|built, or
would-import|would-build with --check), release, seconds. Progress goes to stderr.
Needs root (debootstrap, chroot): re-executes itself through `sudo -n` otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import inspect
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import docker
import docker.errors

RELEASES = ("bookworm", "trixie")
REPOSITORY = "dermai-local-vm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEFAULT_SECURITY_MIRROR = "http://deb.debian.org/debian-security"
VM_USER = "deploy"
VM_UID = 1000

# What a small Debian server has beyond minbase: systemd as init, sshd, Python for
# Ansible, sudo, and the tools the roles and the testinfra suite call.
PACKAGES = (
    "systemd",
    "systemd-sysv",
    "dbus",
    "libpam-systemd",
    "openssh-server",
    "python3",
    "python3-apt",
    "sudo",
    "iproute2",
    "ca-certificates",
    "curl",
    "gnupg",
    "kmod",
    "less",
    "netbase",
    "procps",
    "tzdata",
)

# The image's configuration (Dockerfile instructions understood by `docker import`).
IMAGE_CHANGES = (
    'CMD ["/lib/systemd/systemd"]',
    "ENV container=docker",
    "LABEL org.dermai.local-vm=true",
)

HOST_KEYS_UNIT = """\
# Local VM image (deploy/bin/local_vm_image.py): each VM makes its own SSH host keys at first
# boot, so VMs started from one cached image do not share them.
[Unit]
Description=Generate SSH host keys of this VM
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
"""


def log(message: str) -> None:
    print(f"local_vm_image: {message}", file=sys.stderr, flush=True)


def recipe_digest(release: str) -> str:
    """A short digest of the recipe (what ends up in the image) and the release: it names the image.

    Only the recipe counts, not the rest of this file, so editing a comment or the
    command line does not rebuild anybody's image.
    """
    recipe = [release, VM_USER, str(VM_UID), *PACKAGES, *IMAGE_CHANGES, HOST_KEYS_UNIT]
    recipe += _RECIPE_SOURCES
    return hashlib.sha256("\0".join(recipe).encode()).hexdigest()[:12]


def image_tag(release: str) -> str:
    return f"{REPOSITORY}:{release}-{recipe_digest(release)}"


def run(argv: list[str]) -> None:
    """Run a command; its output goes to stderr (stdout carries the JSON result)."""
    log("$ " + " ".join(argv))
    subprocess.run(argv, check=True, stdout=sys.stderr)  # noqa: S603 (fixed argv, no shell)


def sources_list(release: str, mirror: str, security_mirror: str) -> str:
    return (
        "# Local VM (deploy/bin/local_vm_image.py): Debian's archive, as on an installed system.\n"
        f"deb {mirror} {release} main\n"
        f"deb {mirror} {release}-updates main\n"
        f"deb {security_mirror} {release}-security main\n"
    )


def customise(rootfs: Path, release: str, mirror: str, security_mirror: str) -> None:
    """Turn a debootstrap root file system into a throwaway VM's."""
    (rootfs / "etc/apt/sources.list").write_text(sources_list(release, mirror, security_mirror))

    # The user Ansible connects as; its authorized key is installed per VM at start.
    run(
        [
            "chroot",
            str(rootfs),
            "useradd",
            "--create-home",
            "--shell",
            "/bin/bash",
            "--uid",
            str(VM_UID),
            "--user-group",
            VM_USER,
        ]
    )
    ssh_dir = rootfs / "home" / VM_USER / ".ssh"
    ssh_dir.mkdir(mode=0o700)
    os.chown(ssh_dir, VM_UID, VM_UID)
    sudoers = rootfs / "etc/sudoers.d" / VM_USER
    sudoers.write_text(f"# Local VM: Ansible becomes root through sudo.\n{VM_USER} ALL=(ALL:ALL) NOPASSWD: ALL\n")
    sudoers.chmod(0o440)
    run(["chroot", str(rootfs), "visudo", "--check", "--file", f"/etc/sudoers.d/{VM_USER}"])

    # Host keys: none in the image, made at first boot.
    for key in (rootfs / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    unit = rootfs / "etc/systemd/system/local-vm-ssh-host-keys.service"
    unit.write_text(HOST_KEYS_UNIT)
    run(["chroot", str(rootfs), "systemctl", "enable", "local-vm-ssh-host-keys.service"])

    # A machine-id per VM (systemd fills the empty file at boot); no package caches.
    (rootfs / "etc/machine-id").write_text("")
    with contextlib.suppress(FileNotFoundError):
        (rootfs / "var/lib/dbus/machine-id").unlink()
    for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for entry in (rootfs / cache).glob("*"):
            if entry.is_file():
                entry.unlink()


def debootstrap(rootfs: Path, tarball: Path, release: str, mirror: str, security_mirror: str) -> None:
    if rootfs.exists():
        shutil.rmtree(rootfs)
    run(["debootstrap", "--variant=minbase", "--include=" + ",".join(PACKAGES), release, str(rootfs), mirror])
    customise(rootfs, release, mirror, security_mirror)
    partial = tarball.with_suffix(".partial")
    run(["tar", "--numeric-owner", "--xattrs", "--acls", "-C", str(rootfs), "-cf", str(partial), "."])
    partial.rename(tarball)
    shutil.rmtree(rootfs)


# The code that shapes the image's content takes part in the recipe digest.
_RECIPE_SOURCES = [inspect.getsource(function) for function in (sources_list, customise, debootstrap)]


def import_tarball(client: docker.DockerClient, tarball: Path, tag: str) -> None:
    repository, _, tag_name = tag.partition(":")
    log(f"importing {tarball.name} as {tag}")
    client.api.import_image_from_file(str(tarball), repository=repository, tag=tag_name, changes=list(IMAGE_CHANGES))
    client.images.get(tag)  # raises when the import did not produce the image


def forget_old_recipes(client: docker.DockerClient, cache: Path, release: str, tag: str) -> None:
    """Remove images and tars of earlier recipes of this release that nothing uses."""
    for image in client.images.list(name=REPOSITORY):
        for old in image.tags:
            if old.startswith(f"{REPOSITORY}:{release}-") and old != tag:
                try:
                    client.images.remove(old)
                    log(f"removed the image of an earlier recipe: {old}")
                except docker.errors.APIError as error:
                    log(f"kept {old} (in use: {error.explanation})")
    for old_tar in cache.glob(f"rootfs-{release}-*.tar"):
        if old_tar.name != f"rootfs-{tag.partition(':')[2]}.tar":
            old_tar.unlink()


def ensure_image(args: argparse.Namespace) -> dict:
    started = time.monotonic()
    tag = image_tag(args.release)
    client = docker.from_env()
    cache = args.state_dir / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    os.chmod(args.state_dir, 0o700)
    tarball = cache / f"rootfs-{tag.partition(':')[2]}.tar"

    with open(cache / f"build-{args.release}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            client.images.get(tag)
            action = "present"
        except docker.errors.ImageNotFound:
            if tarball.exists():
                action = "would-import" if args.check else "imported"
            else:
                action = "would-build" if args.check else "built"
            if not args.check:
                if action == "built":
                    debootstrap(
                        cache / f"rootfs-{args.release}", tarball, args.release, args.mirror, args.security_mirror
                    )
                import_tarball(client, tarball, tag)
                forget_old_recipes(client, cache, args.release, tag)
    return {
        "changed": action != "present",
        "image": tag,
        "action": action,
        "release": args.release,
        "seconds": round(time.monotonic() - started, 1),
    }


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--release", required=True, choices=RELEASES, help="Debian release of the VM")
    parser.add_argument("--state-dir", required=True, type=Path, help="the checkout's .local-vm directory")
    parser.add_argument("--mirror", default=os.environ.get("LOCAL_VM_MIRROR", DEFAULT_MIRROR))
    parser.add_argument(
        "--security-mirror", default=os.environ.get("LOCAL_VM_SECURITY_MIRROR", DEFAULT_SECURITY_MIRROR)
    )
    parser.add_argument("--check", action="store_true", help="report what would be done, change nothing")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    args.state_dir = args.state_dir.resolve()
    if os.geteuid() != 0 and not args.check:
        # sudo is looked up on PATH like any admin tool; the arguments are this script's own.
        sudo_argv = ["sudo", "-n", "--preserve-env=DOCKER_HOST", sys.executable, __file__, *argv]
        os.execvp("sudo", sudo_argv)  # noqa: S606, S607
    try:
        result = ensure_image(args)
    except (subprocess.CalledProcessError, docker.errors.DockerException, OSError) as error:
        print(json.dumps({"changed": False, "failed": True, "msg": f"{type(error).__name__}: {error}"}))
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
