"""The sentry role run for real (ansible-playbook -c local) on a checkout of the fixture repository."""

from __future__ import annotations

import ast
import hashlib
import json
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.fixtures.self_hosted import build_repo

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def converged(tmp_path_factory):
    """One first converge and one second converge of the same tree, shared by the content tests."""
    from tests.unit.sentry_role.conftest import Env

    tmp = tmp_path_factory.mktemp("converged")
    repo = build_repo.build(tmp / "fixture.git")
    env = Env(tmp=tmp, repo=repo, install_dir=tmp / "opt" / "sentry")
    first = env.run()
    second = env.run()
    return env, first, second


def _mode(path: Path) -> str:
    return oct(stat.S_IMODE(path.stat().st_mode))


def test_first_converge_succeeds(converged):
    _, first, _ = converged
    assert first.rc == 0, first.failure_messages() or first.stderr[-2000:]
    assert first.changed > 0


def test_checkout_is_at_the_pinned_tag(converged):
    env, _, _ = converged
    assert (env.install_dir / "VERSION").read_text().strip() == "26.8.0"
    head = subprocess.run(
        ["git", "-C", str(env.install_dir), "describe", "--tags", "--exact-match"], capture_output=True, text=True
    ).stdout.strip()
    assert head == "26.8.0"


def test_second_converge_reports_no_change(converged):
    _, _, second = converged
    assert second.rc == 0
    assert second.changed == 0, [r["task"] for r in second.results if r["result"].get("changed")]


def test_second_converge_skips_install(converged):
    _, _, second = converged
    assert second.status("Install the release") == "skipped"


def test_install_ran_once_with_the_non_interactive_flags(converged):
    env, _, _ = converged
    log = (env.install_dir / "sentry_install_log-fixture.txt").read_text().splitlines()
    assert [line for line in log if line.startswith("version=")] == ["version=26.8.0"]
    # Exactly what 26.8.0's install/parse-cli.sh accepts for a non-interactive install.
    assert (
        "args=--skip-user-creation --no-report-self-hosted-issues --skip-commit-check --apply-automatic-config-updates"
        in log
    )


def test_install_saw_the_overrides_of_env_custom(converged):
    env, _, _ = converged
    log = (env.install_dir / "sentry_install_log-fixture.txt").read_text().splitlines()
    assert "profiles=errors-only" in log
    assert "retention=30" in log


def test_stack_started_with_both_env_files(converged):
    env, _, _ = converged
    calls = (env.install_dir / ".fake-compose.log").read_text().splitlines()
    assert "--env-file .env --env-file .env.custom up --detach --wait --wait-timeout 60" in calls


def test_marker_records_version_and_inputs_hash(converged):
    env, _, _ = converged
    marker = json.loads((env.tmp / "state" / "install-marker.json").read_text())
    assert marker["version"] == "26.8.0"
    assert len(marker["inputs_sha256"]) == 64


def _env_custom(env) -> dict:
    result = {}
    for line in (env.install_dir / ".env.custom").read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            result[key] = value.strip("'")
    return result


def test_env_custom_sets_profile_retention_bind_and_mail_host(converged):
    env, _, _ = converged
    values = _env_custom(env)
    assert values["COMPOSE_PROFILES"] == "errors-only"
    assert values["SENTRY_EVENT_RETENTION_DAYS"] == "30"
    assert values["SENTRY_BIND"] == "127.0.0.1:9000"
    assert values["SENTRY_MAIL_HOST"] == "sentry.dermai.test"


def test_env_custom_carries_the_secrets_from_the_vault(converged):
    env, _, _ = converged
    values = _env_custom(env)
    variables = env.base_vars()
    assert values["SENTRY_SYSTEM_SECRET_KEY"] == variables["sentry_system_secret_key"]
    assert values["LAUNCHPAD_RPC_SHARED_SECRET"] == variables["sentry_launchpad_rpc_shared_secret"]


def test_env_custom_is_readable_by_root_only(converged):
    env, _, _ = converged
    assert _mode(env.install_dir / ".env.custom") == "0o600"


def test_env_custom_is_valid_shell_as_install_sh_sources_it(converged):
    env, _, _ = converged
    out = subprocess.run(
        ["bash", "-c", "set -a; . ./.env.custom; echo $SENTRY_BIND"],
        cwd=env.install_dir,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "127.0.0.1:9000"


def test_upstream_env_is_untouched(converged):
    env, _, _ = converged
    tracked = subprocess.run(
        ["git", "-C", str(env.install_dir), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert tracked == ""


def test_config_yml_sets_the_role_keys(converged):
    env, _, _ = converged
    config = yaml.safe_load((env.install_dir / "sentry" / "config.yml").read_text())
    assert config["system.url-prefix"] == "https://sentry.dermai.test"
    assert config["system.admin-email"] == "admin@dermai.test"
    assert config["auth.allow-registration"] is False
    assert config["mail.host"] == "smtp"
    assert config["mail.port"] == 25


def test_config_yml_keeps_upstream_keys(converged):
    env, _, _ = converged
    config = yaml.safe_load((env.install_dir / "sentry" / "config.yml").read_text())
    assert config["system.internal-url-prefix"] == "http://web:9000"
    assert config["filestore.options"] == {"location": "/data/files"}


def test_config_yml_has_no_placeholder_secret_key(converged):
    env, _, _ = converged
    assert "system.secret-key" not in (env.install_dir / "sentry" / "config.yml").read_text()


def test_config_yml_sets_each_key_once(converged):
    env, _, _ = converged
    lines = (env.install_dir / "sentry" / "config.yml").read_text().splitlines()
    keys = [line.split(":", 1)[0] for line in lines if line and not line.startswith(("#", " "))]
    assert len(keys) == len(set(keys))


def _conf_py(env) -> str:
    return (env.install_dir / "sentry" / "sentry.conf.py").read_text()


def test_sentry_conf_py_starts_with_upstream_content(converged):
    env, _, _ = converged
    upstream = (env.install_dir / "sentry" / "sentry.conf.example.py").read_text()
    assert _conf_py(env).startswith(upstream)


def test_sentry_conf_py_block_is_appended_once(converged):
    env, _, _ = converged
    text = _conf_py(env)
    assert text.count("# BEGIN DermAI bundle settings (role sentry)") == 1
    assert text.rstrip().endswith("# END DermAI bundle settings (role sentry)")


def _settings(env) -> dict:
    """Execute the live settings file with a stub os.environ, as Django would import it."""
    namespace: dict = {}
    code = compile(_conf_py(env), "sentry.conf.py", "exec")
    exec(code, namespace)  # noqa: S102 - the file is our fixture plus the role's block
    return namespace


def test_settings_trust_the_https_origin_for_csrf(converged):
    env, _, _ = converged
    assert _settings(env)["CSRF_TRUSTED_ORIGINS"] == ["https://sentry.dermai.test"]


def test_settings_turn_off_the_beacon(converged):
    env, _, _ = converged
    assert _settings(env)["SENTRY_BEACON"] is False


def test_settings_trust_the_proxy_and_secure_cookies(converged):
    env, _, _ = converged
    settings = _settings(env)
    assert settings["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_PROTO", "https")
    assert settings["USE_X_FORWARDED_HOST"] is True
    assert settings["SESSION_COOKIE_SECURE"] is True
    assert settings["CSRF_COOKIE_SECURE"] is True
    assert settings["SESSION_COOKIE_AGE"] == 43200


def test_settings_switch_off_patient_data_features(converged):
    env, _, _ = converged
    features = _settings(env)["SENTRY_FEATURES"]
    assert features["organizations:session-replay"] is False
    assert features["organizations:user-feedback-ui"] is False
    assert features["projects:data-forwarding"] is False


def test_sentry_conf_py_is_valid_python(converged):
    env, _, _ = converged
    ast.parse(_conf_py(env))


def test_override_rolls_kafka_segments_so_retention_deletes(converged):
    env, _, _ = converged
    override = yaml.safe_load((env.install_dir / "docker-compose.override.yml").read_text())
    kafka = override["services"]["kafka"]["environment"]
    assert kafka == {
        "KAFKA_LOG_RETENTION_HOURS": "3",
        "KAFKA_LOG_ROLL_HOURS": "1",
        "KAFKA_LOG_SEGMENT_BYTES": "104857600",
    }


def test_live_files_are_not_world_writable(converged):
    env, _, _ = converged
    for rel in ("sentry/config.yml", "sentry/sentry.conf.py", "docker-compose.override.yml"):
        assert _mode(env.install_dir / rel) == "0o644", rel


def test_api_token_file_is_root_only(converged):
    env, _, _ = converged
    token_file = env.tmp / "etc" / "api-token"
    assert _mode(token_file) == "0o600"
    assert token_file.read_text().startswith("sntryu_")


def test_api_token_never_appears_in_the_output(converged):
    env, first, second = converged
    token = (env.tmp / "etc" / "api-token").read_text().strip()
    assert token not in first.stdout + first.stderr
    assert token not in second.stdout + second.stderr


def test_admin_password_never_appears_in_the_output(converged):
    env, first, _ = converged
    assert env.base_vars()["sentry_admin_password"] not in first.stdout + first.stderr


def test_admin_password_goes_to_createuser_on_stdin_never_on_argv(converged):
    env, _, _ = converged
    password = env.base_vars()["sentry_admin_password"]
    calls = (env.install_dir / ".fake-compose.log").read_text()
    assert "createuser --email admin@dermai.test --superuser" in calls
    assert password not in calls
    # The fake createuser read the password twice from its prompt (stdin) and kept its hash.
    typed = (env.install_dir / ".fake-compose-passwords").read_text().split()
    assert typed == [hashlib.sha256(password.encode()).hexdigest()]


def test_bundled_nginx_gets_a_conf_that_passes_the_forwarded_proto_on(converged):
    env, _, _ = converged
    override = yaml.safe_load((env.install_dir / "docker-compose.override.yml").read_text())
    assert {"type": "bind", "read_only": True, "source": "./dermai-nginx.conf", "target": "/etc/nginx/nginx.conf"} in (
        override["services"]["nginx"]["volumes"]
    )
    conf = (env.install_dir / "dermai-nginx.conf").read_text()
    assert "proxy_set_header X-Forwarded-Proto $dermai_forwarded_proto;" in conf
    assert "proxy_set_header X-Forwarded-Proto $scheme;" not in conf
    assert "server web:9000;" in conf


def test_existing_admin_user_is_not_a_change(converged):
    _, first, second = converged
    assert first.status("Create the first superuser") == "changed"
    assert second.status("Create the first superuser") == "ok"


def test_token_is_minted_with_exactly_the_configured_scopes(converged):
    env, _, _ = converged
    calls = (env.install_dir / ".fake-compose.log").read_text()
    assert (
        "DERMAI_TOKEN_SCOPES=org:read org:write project:read project:write project:admin "
        "team:read team:write alerts:read alerts:write event:read web sentry execfile" in calls
    )
