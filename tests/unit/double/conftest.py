"""Fixtures for the Sentry double's own tests."""

from __future__ import annotations

import pytest

from tests.sentry_double.samples import Client
from tests.sentry_double.server import start_double

URL_PREFIX = "https://sentry.dermai.test"
LIMITED_TOKEN = "sntryu_" + "1" * 64  # org:read and project:read only


@pytest.fixture
def double():
    handle = start_double(url_prefix=URL_PREFIX, extra_tokens={LIMITED_TOKEN: ["org:read", "project:read"]})
    yield handle
    handle.stop()


@pytest.fixture
def api(double):
    return Client(double.url, double.token)


@pytest.fixture
def limited(double):
    return Client(double.url, LIMITED_TOKEN)


@pytest.fixture
def team(api):
    response = api.post("/organizations/sentry/teams/", json={"slug": "dermai", "name": "DermAI"})
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture
def project(api, team):
    body = {"name": "dermai-api", "slug": "dermai-api", "platform": "python-fastapi", "default_rules": False}
    response = api.post("/teams/sentry/dermai/projects/", json=body)
    assert response.status_code == 201, response.text
    return response.json()
