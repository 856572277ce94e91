"""The app's env files written by deploy/configure.yml (role sentry_config), checked on the host.

Runs on the inventory's hosts that are also app hosts (sentry_config_env_files_hosts); on the local
VM that is dermai-vm. Settings come from the inventory, so the suite works for any inventory.
"""

from __future__ import annotations

import re

import pytest


@pytest.fixture(scope="module")
def env_files(host, inventory_var):
    """{environment name: path} of the env files this host must hold."""
    name = host.backend.host
    try:
        app_hosts = inventory_var(host, "sentry_config_env_files_hosts") or []
    except pytest.UsageError:
        pytest.skip("the inventory does not set sentry_config_env_files_hosts (group_vars/all/sentry_config.yml)")
    if name not in app_hosts:
        pytest.skip(f"{name} is not an app host (sentry_config_env_files_hosts)")
    directory = inventory_var(host, "sentry_config_env_files_dir")
    return {env["name"]: f"{directory}/.env.{env['name']}" for env in inventory_var(host, "sentry_config_environments")}


def values_of(host, path: str) -> dict[str, str]:
    content = host.file(path).content_string
    return dict(line.split("=", 1) for line in content.splitlines() if line and not line.startswith("#"))


def test_env_files_exist_with_the_configured_owner_and_mode(host, inventory_var, env_files):
    for path in env_files.values():
        f = host.file(path)
        assert f.is_file, path
        assert f.user == inventory_var(host, "sentry_config_env_files_owner")
        assert f.group == inventory_var(host, "sentry_config_env_files_group")
        assert f"{f.mode:04o}" == inventory_var(host, "sentry_config_env_files_mode")


def test_env_files_carry_dsns_on_the_sentry_url(host, inventory_var, env_files):
    netloc = re.sub(r"^https?://", "", inventory_var(host, "sentry_config_url")).rstrip("/")
    dsn = re.compile(rf"^https://[0-9a-f]{{32}}@{re.escape(netloc)}/\d+$")
    for path in env_files.values():
        values = values_of(host, path)
        assert dsn.match(values["SENTRY_DSN"]), values["SENTRY_DSN"]
        if "VITE_SENTRY_DSN" in values:
            assert dsn.match(values["VITE_SENTRY_DSN"]), values["VITE_SENTRY_DSN"]


def test_env_files_name_their_environment(host, env_files):
    for name, path in env_files.items():
        values = values_of(host, path)
        assert values["SENTRY_ENVIRONMENT"] == name
        assert values.get("VITE_ENVIRONMENT", name) == name


def test_env_files_hold_no_api_token(host, inventory_var, env_files):
    token_file = inventory_var(host, "sentry_config_api_token_file")
    if not host.file(token_file).exists:
        pytest.skip(f"no token file {token_file} on this host")
    token = host.file(token_file).content_string.strip()
    assert token
    for path in env_files.values():
        assert token not in host.file(path).content_string
