"""A Sentry that does not answer: a real run fails plainly, a dry run says it cannot predict.

On a fresh host `make check` reaches the configure step before Sentry or its proxy run.
"""

from __future__ import annotations

import socket

import pytest

from tests.unit.configure.runner import Backend, run_configure

pytestmark = pytest.mark.slow


@pytest.fixture
def nobody_listening() -> Backend:
    with socket.socket() as sock:  # a free port that nothing listens on afterwards
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    return Backend(url=url, token="sntryu_" + "0" * 64, url_prefix=url, metric_alerts=False)


def test_real_run_against_an_unreachable_sentry_fails_naming_the_url(nobody_listening, tmp_path):
    run = run_configure(
        nobody_listening,
        tmp_path,
        tmp_path / "token",
        extra_vars={"sentry_config_api_retries": 0},
    )
    assert run.rc != 0
    assert f"The Sentry API step failed at {nobody_listening.url}" in run.stdout
    assert not list(tmp_path.glob(".env*"))


def test_check_mode_against_an_unreachable_sentry_reports_and_writes_nothing(nobody_listening, tmp_path):
    run = run_configure(
        nobody_listening, tmp_path, tmp_path / "token", "--check", "--diff", extra_vars={"sentry_config_api_retries": 0}
    )
    assert run.rc == 0, run.stdout[-3000:]
    assert "Check mode: Sentry's API at" in run.stdout
    assert not list(tmp_path.glob(".env*"))
    assert nobody_listening.token not in run.stdout
