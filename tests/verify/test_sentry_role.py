"""The official self-hosted Sentry checkout on the host: pinned release, overlays, modes, boot unit.

Runs against any inventory (the local VM in make e2e, production in make verify). The values
compared come from the inventory itself (sentry_var), so nothing here is specific to one host.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

ROLE_DEFAULTS = yaml.safe_load(
    (Path(__file__).resolve().parents[2] / "roles" / "sentry" / "defaults" / "main.yml").read_text()
)


@pytest.fixture
def sentry_var(inventory_var):
    """A sentry_* variable from the inventory, or the role's default when the inventory leaves it out."""

    def lookup(host, name: str):
        try:
            return inventory_var(host, name)
        except Exception:
            return ROLE_DEFAULTS[name]

    return lookup


@pytest.fixture
def install_dir(host, sentry_var) -> str:
    return sentry_var(host, "sentry_install_dir")


def _env_custom(host, install_dir) -> dict[str, str]:
    values = {}
    for line in host.file(f"{install_dir}/.env.custom").content_string.splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key] = value.strip().strip("'\"")
    return values


def _managed_block(host, install_dir) -> str:
    text = host.file(f"{install_dir}/sentry/sentry.conf.py").content_string
    match = re.search(r"# BEGIN DermAI bundle settings \(role sentry\)\n(.*)# END DermAI", text, re.S)
    assert match, "the managed block is missing from sentry/sentry.conf.py"
    return match.group(1)


def test_checkout_is_at_the_pinned_release_tag(host, install_dir, sentry_var):
    described = host.check_output(f"git -C {install_dir} describe --tags --exact-match")
    assert described == sentry_var(host, "sentry_version")


def test_tracked_upstream_files_are_unmodified(host, install_dir):
    assert host.check_output(f"git -C {install_dir} status --porcelain --untracked-files=no") == ""


def test_env_custom_is_readable_by_root_only(host, install_dir):
    env_custom = host.file(f"{install_dir}/.env.custom")
    assert env_custom.mode == 0o600
    assert (env_custom.user, env_custom.group) == ("root", "root")


def test_sentry_bind_is_on_loopback(host, install_dir):
    assert re.match(r"^(127\.\d+\.\d+\.\d+|\[::1\]):\d+$", _env_custom(host, install_dir)["SENTRY_BIND"])


def test_sentry_bind_is_the_inventory_value(host, install_dir, sentry_var):
    assert _env_custom(host, install_dir)["SENTRY_BIND"] == sentry_var(host, "sentry_bind")


def test_event_retention_is_set(host, install_dir, sentry_var):
    days = _env_custom(host, install_dir)["SENTRY_EVENT_RETENTION_DAYS"]
    assert days == str(sentry_var(host, "sentry_event_retention_days"))
    assert 14 <= int(days) <= 90


def test_compose_profile_is_set(host, install_dir, sentry_var):
    assert _env_custom(host, install_dir)["COMPOSE_PROFILES"] == sentry_var(host, "sentry_compose_profile")


def test_secrets_are_not_upstream_placeholders(host, install_dir):
    values = _env_custom(host, install_dir)
    for key in ("SENTRY_SYSTEM_SECRET_KEY", "LAUNCHPAD_RPC_SHARED_SECRET"):
        assert values.get(key) not in (None, "", "!!changeme!!", "supersecret"), key


def test_sentry_conf_py_keeps_upstream_settings_before_the_block(host, install_dir):
    text = host.file(f"{install_dir}/sentry/sentry.conf.py").content_string
    upstream_part = text.split("# BEGIN DermAI bundle settings (role sentry)")[0]
    assert 'SENTRY_OPTIONS["system.event-retention-days"]' in upstream_part


def test_sentry_conf_py_has_one_managed_block_at_the_end(host, install_dir):
    text = host.file(f"{install_dir}/sentry/sentry.conf.py").content_string
    assert text.count("# BEGIN DermAI bundle settings (role sentry)") == 1
    assert text.rstrip().endswith("# END DermAI bundle settings (role sentry)")


def test_csrf_trusts_the_https_origin(host, install_dir, sentry_var):
    block = _managed_block(host, install_dir)
    line = next(ln for ln in block.splitlines() if ln.startswith("CSRF_TRUSTED_ORIGINS"))
    origins = ast.literal_eval(line.split("=", 1)[1].strip())
    prefix = sentry_var(host, "sentry_url_prefix")
    assert prefix.startswith("https://")
    assert prefix in origins


def test_beacon_is_off(host, install_dir):
    assert re.search(r"^SENTRY_BEACON = False$", _managed_block(host, install_dir), re.M)


def test_proxy_tls_settings_are_on(host, install_dir):
    block = _managed_block(host, install_dir)
    for setting in (
        'SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")',
        "SESSION_COOKIE_SECURE = True",
        "CSRF_COOKIE_SECURE = True",
    ):
        assert setting in block.splitlines(), setting


def test_session_replay_and_user_feedback_are_switched_off(host, install_dir):
    block = _managed_block(host, install_dir)
    assert '"organizations:session-replay"' in block
    assert '"organizations:user-feedback-ui"' in block
    assert "SENTRY_FEATURES[_dermai_feature] = False" in block


def test_config_yml_sets_the_url_prefix(host, install_dir, sentry_var):
    text = host.file(f"{install_dir}/sentry/config.yml").content_string
    assert f'system.url-prefix: "{sentry_var(host, "sentry_url_prefix")}"' in text.splitlines()


def test_config_yml_turns_registration_off(host, install_dir):
    assert "auth.allow-registration: false" in host.file(f"{install_dir}/sentry/config.yml").content_string.splitlines()


def test_config_yml_keeps_no_placeholder_secret_key(host, install_dir):
    assert "!!changeme!!" not in host.file(f"{install_dir}/sentry/config.yml").content_string


def test_kafka_segments_roll_so_retention_deletes(host, install_dir):
    text = host.file(f"{install_dir}/docker-compose.override.yml").content_string
    assert re.search(r"^\s+KAFKA_LOG_ROLL_HOURS: '\d+'$", text, re.M)


@pytest.mark.parametrize("rel", ["sentry/config.yml", "sentry/sentry.conf.py", "docker-compose.override.yml"])
def test_live_config_files_are_root_owned_and_not_world_writable(host, install_dir, rel):
    live = host.file(f"{install_dir}/{rel}")
    assert live.user == "root"
    assert not live.mode & 0o002


def test_api_token_file_is_readable_by_root_only(host, sentry_var):
    token = host.file(sentry_var(host, "sentry_api_token_file"))
    assert token.exists
    assert token.mode == 0o600
    assert (token.user, token.group) == ("root", "root")


def test_boot_unit_is_enabled(host, sentry_var):
    assert host.service(sentry_var(host, "sentry_systemd_unit")).is_enabled


def test_boot_unit_starts_compose_with_both_env_files(host, sentry_var):
    unit = host.file(f"/etc/systemd/system/{sentry_var(host, 'sentry_systemd_unit')}.service").content_string
    assert re.search(r"^ExecStart=.* --env-file \.env --env-file \.env\.custom up ", unit, re.M)
    assert re.search(r"^Type=oneshot$", unit, re.M)


def test_bundled_nginx_is_given_the_conf_that_passes_the_forwarded_proto_on(host, install_dir):
    override = yaml.safe_load(host.file(f"{install_dir}/docker-compose.override.yml").content_string)
    mounts = override["services"]["nginx"]["volumes"]
    assert {"type": "bind", "read_only": True, "source": "./dermai-nginx.conf", "target": "/etc/nginx/nginx.conf"} in (
        mounts
    )
    conf = host.file(f"{install_dir}/dermai-nginx.conf").content_string
    assert "proxy_set_header X-Forwarded-Proto $dermai_forwarded_proto;" in conf
    assert "proxy_set_header X-Forwarded-Proto $scheme;" not in conf


def test_secret_key_is_where_the_pinned_release_reads_it(host, install_dir, sentry_var):
    version = tuple(int(part) for part in sentry_var(host, "sentry_version").split("."))
    config_yml = host.file(f"{install_dir}/sentry/config.yml").content_string
    # From 25.12.0 compose passes SENTRY_SYSTEM_SECRET_KEY; before, sentry/config.yml holds it.
    assert ("system.secret-key" in config_yml) == (version < (25, 12, 0))
    assert "SENTRY_SYSTEM_SECRET_KEY" in _managed_block(host, install_dir) or version < (25, 12, 0)
