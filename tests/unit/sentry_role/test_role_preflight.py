"""Every preflight failure stops the role before it changes the host, with a message naming
the variable and what to change."""

from __future__ import annotations

import os

import pytest

pytestmark = pytest.mark.slow


def _failed(run) -> str:
    assert run.rc != 0, "the role should have failed"
    messages = run.failure_messages()
    assert messages, run.stderr[-2000:]
    return " ".join(messages)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"sentry_version": "master"}, "sentry_version=master is not a release tag"),
        ({"sentry_version": "nightly"}, "sentry_version=nightly is not a release tag"),
        ({"sentry_event_retention_days": 7}, "sentry_event_retention_days=7 is out of range"),
        ({"sentry_event_retention_days": 365}, "sentry_event_retention_days=365 is out of range"),
        ({"sentry_bind": "0.0.0.0:9000"}, "sentry_bind=0.0.0.0:9000 must be ADDRESS:PORT on loopback"),
        ({"sentry_bind": "9000"}, "sentry_bind=9000 must be ADDRESS:PORT on loopback"),
        ({"sentry_url_prefix": "http://sentry.dermai.test"}, "sentry_url_prefix=http://sentry.dermai.test must be"),
        ({"sentry_system_secret_key": "!!changeme!!"}, "sentry_system_secret_key is empty, a placeholder"),
        ({"sentry_launchpad_rpc_shared_secret": "supersecret"}, "sentry_launchpad_rpc_shared_secret is empty"),
        ({"sentry_admin_password": ""}, "sentry_admin_password is empty"),
        ({"sentry_min_free_disk_gb": 10_000_000}, "sentry_min_free_disk_gb=10000000"),
        ({"sentry_version": "27.1.0"}, "has no tag sentry_version=27.1.0"),
        (
            {"sentry_repo_url": "file:///nonexistent/self-hosted.git"},
            "Cannot reach sentry_repo_url=file:///nonexistent",
        ),
    ],
    ids=lambda value: str(value)[:40],
)
def test_bad_input_fails_before_any_change_naming_the_variable(env, overrides, expected):
    run = env.run(overrides)
    assert expected in _failed(run)
    assert not env.install_dir.exists()


def test_secret_values_are_not_printed_when_a_secret_check_fails(env):
    run = env.run({"sentry_admin_password": "Zq7uniq"})
    assert "sentry_admin_password is empty" in _failed(run)
    assert "Zq7uniq" not in run.stdout + run.stderr


def test_cpu_without_sse42_fails_naming_the_switch(env):
    cpuinfo = env.tmp / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Old CPU\nflags\t\t: fpu vme sse sse2 ssse3\n\n")
    run = env.run({"sentry_cpuinfo_file": str(cpuinfo)})
    assert "lacks SSE4.2" in _failed(run)
    assert "sentry_skip_sse42_check=true" in _failed(run)
    assert not env.install_dir.exists()


def test_kvm_cpu_hiding_sse42_passes_the_check(env):
    cpuinfo = env.tmp / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Common KVM processor\nflags\t\t: fpu sse2\n\n")
    run = env.run({"sentry_cpuinfo_file": str(cpuinfo)}, tags=("sentry_preflight",))
    assert run.rc == 0, run.failure_messages()


def test_profile_needing_more_cpus_or_ram_than_the_host_has_fails(env):
    cpus = os.cpu_count() or 0
    ram_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    if cpus >= 4 and ram_mb >= 14000:
        pytest.skip(f"this host has {cpus} CPUs and {ram_mb} MB: feature-complete fits")
    run = env.run({"sentry_compose_profile": "feature-complete"})
    message = _failed(run)
    assert "sentry_compose_profile=feature-complete needs at least 4 CPUs and 14000 MB" in message
    assert "sentry_compose_profile=errors-only" in message


def test_compose_older_than_upstream_minimum_fails(env):
    run = env.run(extra_env={"FAKE_COMPOSE_VERSION": "2.20.0"})
    message = _failed(run)
    assert "Docker Compose 2.32.2 or newer is needed" in message
    assert "sentry_compose_command" in message
    assert not env.install_dir.exists()


def test_compose_check_is_skipped_with_the_stack_tag(env):
    run = env.run(tags=("sentry_preflight",), skip_tags=("sentry_stack",), extra_env={"FAKE_COMPOSE_VERSION": "2.20.0"})
    assert run.rc == 0, run.failure_messages()


@pytest.fixture
def registry_stub():
    """A loopback HTTP server answering /v2/ with 401, as a registry without credentials does."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(401 if self.path == "/v2/" else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 22001), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:22001/v2/"
    server.shutdown()
    server.server_close()


def test_every_registry_of_the_release_is_checked_and_an_unreachable_mirror_fails(env, registry_stub):
    # 26.8.0 pulls from Docker Hub, ghcr.io (here: the mirror) and registry.gitlab.com.
    run = env.run(
        {
            "sentry_check_registry": True,
            "sentry_image_registry_mirror": "127.0.0.1:9/getsentry",
            "sentry_registry_probe_urls": {"docker.io": registry_stub, "registry.gitlab.com": registry_stub},
        }
    )
    message = _failed(run)
    assert "The image registry 127.0.0.1:9 (https://127.0.0.1:9/v2/) did not answer" in message
    assert "docker.io" in message and "registry.gitlab.com" in message
    assert "sentry_image_registry_mirror" in message
    probed = [
        item["item"]
        for item in run.task("Check every registry the releases of the plan pull from")[-1]["result"]["results"]
    ]
    assert probed == ["127.0.0.1:9", "docker.io", "registry.gitlab.com"]
    assert not env.install_dir.exists()


def test_argument_spec_rejects_an_unknown_profile(env):
    run = env.run({"sentry_compose_profile": "everything"})
    assert run.rc != 0
    assert "sentry_compose_profile" in run.stdout
    assert "errors-only" in run.stdout
