"""The shipped inventories only set variables that a role declares.

A misspelt role variable in an inventory (``tls_proxy_certifcate_mode``) is silently ignored
by Ansible and the role's default wins; these tests catch that before a deploy does.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLES = sorted(p.parent.parent.name for p in ROOT.glob("roles/*/meta/argument_specs.yml"))
# Longest prefix first, so sentry_config_* is not taken for a sentry_* variable.
PREFIXES = sorted(((f"{r}_", r) for r in ROLES), key=lambda pr: -len(pr[0]))
# Inventory-level names that belong to no role: shared facts, secrets, the local VM builder.
NOT_ROLE_VARS = ("dermai_", "vault_", "local_vm_", "ansible_")


def _role_options(role: str) -> set[str]:
    specs = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
    options: set[str] = set()
    for entry in specs["argument_specs"].values():
        options |= set((entry.get("options") or {}).keys())
    return options


def _inventory_files() -> list[Path]:
    files = [p for p in ROOT.glob("inventories/*/group_vars/**/*.yml") if p.is_file()]
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
