"""Fixtures for the tests against the real Sentry 23.7.1 server (tests/real_sentry/up.sh).

`real_sentry` (session): builds and starts the server on first use; a build or start failure fails the
tests (CI included); REAL_SENTRY=0 skips them locally with the reason. The server is stopped at the end
of the pytest process when this process started it, unless REAL_SENTRY_KEEP=1 (shared_real_sentry()).
`real_api`: a small requests session with the bearer token, for tests that speak HTTP directly.
`fresh_org`: a new organization per test session, so create/update/delete tests start from nothing even
though the server's database is cached between runs.
`configure_real`: deploy/configure.yml run as the operator runs it (tests/unit/configure/runner.py) into one
organization of this server.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
import requests

from tests.real_sentry.backend import RealSentry, RealSentrySkipped, RealSentryUnavailable, shared_real_sentry
from tests.unit.configure.runner import Backend, Run, run_playbook


@pytest.fixture(scope="session")
def real_sentry() -> RealSentry:
    try:
        return shared_real_sentry()
    except RealSentrySkipped as exc:
        pytest.skip(str(exc))
    except RealSentryUnavailable as exc:
        pytest.fail(f"real Sentry unavailable: {exc}\n(set REAL_SENTRY=0 to skip these tests locally)", pytrace=False)


class Api:
    """requests with the base URL and the bearer token of one Sentry; never retries, never raises on status."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, json=None, token: str | None = None) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return self.session.request(
            method, f"{self.url}/api/0/{path.lstrip('/')}", json=json, headers=headers, timeout=60
        )


@pytest.fixture(scope="session")
def real_api(real_sentry: RealSentry) -> Api:
    return Api(real_sentry.url, real_sentry.token)


def new_org(api: Api) -> str:
    """A new, empty organization owned by the token's user (the server allows creating them, see sentry.conf.py.in)."""
    slug = f"dermai-t{secrets.token_hex(4)}"
    resp = api.call("POST", "organizations/", {"name": slug, "slug": slug})
    assert resp.status_code == 201, resp.text
    return slug


@pytest.fixture(scope="session")
def fresh_org(real_api: Api) -> str:
    return new_org(real_api)


def configure_real(real_sentry: RealSentry, org: str, env_dir: Path, *args: str, metric_alerts=False) -> Run:
    """deploy/configure.yml into `org` with the server's token file; metric alerts off unless asked
    (this server has no Snuba), None for the inventory's default."""
    backend = Backend(real_sentry.url, real_sentry.token, url_prefix=real_sentry.url, metric_alerts=metric_alerts)
    return run_playbook(backend, env_dir, real_sentry.token_file, *args, timeout=900, env={"SENTRY_ORG": org})
