"""Settings of the roles as the tests see them: the inventory's value, else the role default."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


@cache
def role_defaults(role: str) -> dict:
    """The role's defaults/main.yml ({} where the role ships none: every lookup is then a KeyError)."""
    path = REPO / "roles" / role / "defaults" / "main.yml"
    return (yaml.safe_load(path.read_text()) or {}) if path.exists() else {}


def setting(inventory_var, host, name: str):
    """`name` as the inventory sets it for `host`, or the default of the role that owns it."""
    return role_setting(inventory_var, host, name.split("_", 1)[0], name)


def role_setting(inventory_var, host, role: str, name: str):
    """`name` as the inventory sets it for `host`, or the default of `role` (for names without the role's prefix)."""
    try:
        return inventory_var(host, name)
    except Exception:  # undefined in the inventory: the role default applies
        return role_defaults(role)[name]


def is_container(host) -> bool:
    """True where the host does not own its kernel and clock (the local VM says `docker`)."""
    out = host.run("systemd-detect-virt --container").stdout.strip()
    return out not in ("", "none")
