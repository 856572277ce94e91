"""Every value of roles/sentry/vars/releases.yml, checked at every upstream tag it covers.

Reads a clone of getsentry/self-hosted with its tags (SENTRY_SELF_HOSTED_MIRROR or
SELF_HOSTED_REPO); skipped, saying so, when there is none. Facts only: the test reads the case
labels of install/parse-cli.sh, which files install/_lib.sh sources, where the compose file
passes SENTRY_SYSTEM_SECRET_KEY, the image references and the bundled nginx conf.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
from pathlib import Path

import pytest

ROLE = Path(__file__).resolve().parents[3] / "roles" / "sentry"
_spec = importlib.util.spec_from_file_location("sentry_upgrade", ROLE / "filter_plugins" / "sentry_upgrade.py")
planner = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(planner)
TABLE = planner.load_table()
REPO = Path(
    os.environ.get("SENTRY_SELF_HOSTED_MIRROR")
    or os.environ.get("SELF_HOSTED_REPO")
    or "/nonexistent-self-hosted-clone"
)

pytestmark = pytest.mark.skipif(
    not (REPO / "HEAD").exists() and not (REPO / ".git").exists(),
    reason=f"no clone of getsentry/self-hosted at {REPO} (set SELF_HOSTED_REPO to one with its tags)",
)


def _show(tag: str, path: str) -> str | None:
    result = subprocess.run(["git", "-C", str(REPO), "show", f"{tag}:{path}"], capture_output=True, text=True)
    return result.stdout if result.returncode == 0 else None


def _tags() -> list[str]:
    if not REPO.exists():
        return []
    out = subprocess.run(["git", "-C", str(REPO), "tag"], capture_output=True, text=True, check=True).stdout
    tags = [t for t in out.split() if planner.is_release_version(t)]
    oldest_step = planner.parse_version("21.12.0")
    return sorted((t for t in tags if planner.parse_version(t) >= oldest_step), key=planner.parse_version)


def _flags(parse_cli: str) -> set[str]:
    labels = re.findall(r"^\s*(-[-a-z0-9]*(?:\s*\|\s*-[-a-z0-9]*)*)\)", parse_cli, re.M)
    return {flag.strip() for label in labels for flag in label.split("|")}


def _registries(tag: str) -> list[str]:
    refs = []
    env = _show(tag, ".env") or ""
    refs += [line.split("=", 1)[1] for line in env.splitlines() if re.match(r"^[A-Z_]+_IMAGE=", line)]
    compose = _show(tag, "docker-compose.yml") or ""
    refs += re.findall(r"^\s+(?:image|BASE_IMAGE):\s*['\"]?([^'\"\s]+)", compose, re.M)
    refs += re.findall(r"^FROM\s+(\S+)", _show(tag, "jq/Dockerfile") or "", re.M)
    return planner.registry_hosts([ref for ref in refs if not ref.startswith("$")])


TAGS = _tags()


@pytest.mark.parametrize("tag", TAGS)
def test_release_table_matches_upstream_at_the_tag(tag):
    facts = planner.release_facts(tag, TABLE)
    parse_cli = _show(tag, "install/parse-cli.sh")
    assert _flags(parse_cli) == set(facts["install_flags"]), "install_flags"
    assert set(facts["install_args"]) <= set(facts["install_flags"])
    lib = _show(tag, "install/_lib.sh")
    partial = '. ".env.custom"' in lib and '. ".env"' in lib
    assert facts["env_custom"] == ("partial" if partial else "full"), "env_custom"
    compose = _show(tag, "docker-compose.yml")
    assert facts["secret_key"] == ("environment" if "SENTRY_SYSTEM_SECRET_KEY" in compose else "config_yml")
    assert facts["registries"] == _registries(tag), "registries"
    nginx = _show(tag, facts["nginx_conf"])
    assert nginx is not None, "nginx_conf"
    assert "$dermai_forwarded_proto" in planner.nginx_forwarded_proto(nginx)


def test_every_hard_stop_and_replacement_is_an_upstream_tag():
    for version in [s["version"] for s in TABLE["hard_stops"]] + [a["use"] for a in TABLE["avoid"]]:
        assert _show(version, "install.sh") is not None, version
