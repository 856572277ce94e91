"""The shipped inventories only set variables that a role declares.

A misspelt role variable in an inventory (``tls_proxy_certifcate_mode``) is silently ignored
by Ansible and the role's default wins; these tests catch that before a deploy does.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLES = sorted(p.parent.parent.name for p in ROOT.glob("roles/*/meta/argument_specs.yml"))
# Longest prefix first, so sentry_config_* is not taken for a sentry_* variable.
PREFIXES = sorted(((f"{r}_", r) for r in ROLES), key=lambda pr: -len(pr[0]))
# Inventory-level names that belong to no role: shared facts, secrets, the local VM builder.
NOT_ROLE_VARS = ("dermai_", "vault_", "local_vm_", "ansible_")


@functools.cache
def _role_options(role: str) -> set[str]:
    specs = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
    options: set[str] = set()
    for entry in specs["argument_specs"].values():
        options |= set((entry.get("options") or {}).keys())
    return options


def _inventory_files() -> list[Path]:
    # The shared file once (each deployed inventory links it as group_vars/all/00_shared.yml).
    files = [p for p in ROOT.glob("inventories/*/group_vars/**/*.yml") if p.is_file() and not p.is_symlink()]
    files.append(ROOT / "inventories" / "shared" / "all.yml")
    files += [p for p in ROOT.glob("inventories/*/group_vars/**/*.yml.example") if p.is_file()]
    return sorted(files)


def _owner(name: str) -> str | None:
    return next((role for prefix, role in PREFIXES if name.startswith(prefix)), None)


@pytest.mark.parametrize("path", _inventory_files(), ids=lambda p: str(p.relative_to(ROOT / "inventories")))
def test_inventory_sets_only_declared_role_variables(path: Path) -> None:
    data = yaml.safe_load(path.read_text()) or {}
    unknown = []
    for name in data:
        if name.startswith(NOT_ROLE_VARS):
            continue
        role = _owner(name)
        if role is None:
            unknown.append(f"{name} (no role has this prefix; roles: {', '.join(ROLES)})")
        elif name not in _role_options(role):
            unknown.append(f"{name} (not in roles/{role}/meta/argument_specs.yml)")
    assert not unknown, f"{path.relative_to(ROOT)} sets undeclared variables: {unknown}"


@pytest.mark.parametrize("env", ["production", "staging"])
def test_example_inventory_keeps_secrets_only_as_vault_references(env: str) -> None:
    example = yaml.safe_load((ROOT / "inventories" / env / "group_vars/all/vault.yml.example").read_text())
    assert example, "vault.yml.example lists the secrets to fill in"
    assert all(name.startswith("vault_") for name in example), "vault files hold only vault_* names"
    plain = [p for p in (ROOT / "inventories" / env).rglob("*.yml") if p.name != "vault.yml"]
    for path in plain:
        for name, value in (yaml.safe_load(path.read_text()) or {}).items():
            if not isinstance(value, str) or name.startswith("vault_"):
                continue
            if any(word in name for word in ("password", "secret_key", "shared_secret")):
                assert value.startswith("{{ vault_"), f"{path}: {name} must reference a vault_* variable"


# --- Shared group_vars: written once, each inventory's own values win -------------------------

SHARED = ROOT / "inventories" / "shared" / "all.yml"
DEPLOYED = ["local", "staging", "production"]


def _own_values(env: str) -> dict:
    """What the inventory's own group_vars/all files set (the shared file and the vault left out)."""
    values: dict = {}
    for path in sorted((ROOT / "inventories" / env / "group_vars" / "all").glob("*.yml")):
        if path.is_symlink() or path.name == "vault.yml":
            continue
        values.update(yaml.safe_load(path.read_text()) or {})
    return values


def _ansible_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["ANSIBLE_CONFIG"] = str(ROOT / "ansible.cfg")
    return env


def _run(argv: list[str], **extra_env: str) -> str:
    env = dict(_ansible_env(), **extra_env)
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout


def _hostvars(env: str) -> dict[str, dict]:
    return json.loads(_run(["ansible-inventory", "-i", f"inventories/{env}", "--list"]))["_meta"]["hostvars"]


@pytest.mark.parametrize("env", DEPLOYED)
def test_deployed_inventory_loads_the_shared_file_first(env: str) -> None:
    files = sorted((ROOT / "inventories" / env / "group_vars" / "all").iterdir())
    assert files[0].name == "00_shared.yml" and files[0].is_symlink(), [f.name for f in files]
    assert files[0].resolve() == SHARED.resolve()


@pytest.mark.parametrize("env", DEPLOYED)
def test_no_inventory_repeats_a_shared_value(env: str) -> None:
    shared = yaml.safe_load(SHARED.read_text())
    repeated = sorted(name for name, value in _own_values(env).items() if shared.get(name, object()) == value)
    assert not repeated, f"inventories/{env} repeats inventories/shared/all.yml: {repeated}"


@pytest.mark.parametrize("env", DEPLOYED)
def test_every_host_gets_the_shared_values_and_its_inventory_overrides_win(env: str) -> None:
    shared = yaml.safe_load(SHARED.read_text())
    own = _own_values(env)
    hostvars = _hostvars(env)
    assert hostvars, f"inventories/{env} lists no host"
    for host, values in hostvars.items():
        for name in shared.keys() | own.keys():
            expected = own[name] if name in own else shared[name]
            assert values.get(name) == expected, f"{env}/{host}: {name} = {values.get(name)!r}, not {expected!r}"


def test_the_local_inventory_overrides_shared_values() -> None:
    # The precedence above is only proven where an inventory overrides something: the test rig does.
    shared = yaml.safe_load(SHARED.read_text())
    overridden = shared.keys() & _own_values("local").keys()
    assert {"base_sysctl_apply_live", "docker_install_source", "backup_enabled"} <= overridden


@pytest.mark.parametrize("env", DEPLOYED)
def test_rendered_values_of_a_play_follow_the_inventory(env: str) -> None:
    # What a play sees after templating: the inventory's FQDN reaches the shared URL templates.
    fqdn = _own_values(env)["dermai_sentry_fqdn"]
    names = ["sentry_config_url", "sentry_url_prefix", "tls_proxy_fqdn", "docker_install_source", "backup_enabled"]
    template = "{{ {" + ", ".join(f"'{n}': {n}" for n in names) + "} | to_json }}"
    out = _run(
        ["ansible", "-i", f"inventories/{env}", "sentry", "-m", "ansible.builtin.debug", "-a", f"msg={template}"],
        ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
        ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
    )
    # Other callbacks (profile_tasks) may print after the JSON report.
    report, _ = json.JSONDecoder().raw_decode(out, out.find("{"))
    own, shared = _own_values(env), yaml.safe_load(SHARED.read_text())
    for result in report["plays"][0]["tasks"][0]["hosts"].values():
        seen = json.loads(result["msg"]) if isinstance(result["msg"], str) else result["msg"]
        assert seen["sentry_config_url"] == seen["sentry_url_prefix"] == f"https://{fqdn}"
        assert seen["tls_proxy_fqdn"] == fqdn
        for name in ("docker_install_source", "backup_enabled"):
            assert seen[name] == own.get(name, shared[name]), name


def test_vault_names_are_defined_only_in_vault_files() -> None:
    for path in [SHARED, *ROOT.glob("inventories/*/group_vars/**/*.yml")]:
        data = yaml.safe_load(path.read_text()) or {}
        defined = [name for name in data if name.startswith("vault_")]
        if path.name in ("vault.yml", "vault.yml.example"):
            assert defined == list(data), f"{path}: a vault file holds only vault_* names"
        else:
            assert not defined, f"{path.relative_to(ROOT)} defines {defined}: vault_* belong in vault.yml"
