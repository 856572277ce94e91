"""The same corpus with the configuration real Sentry 23.7.1 holds after deploy/configure.yml.

A fresh organization is configured with the role's defaults (deploy/configure.yml with the
standalone inventory, the operator's `make configure` path, limited to the organization and
project phases: keys, alerts and env files carry no privacy setting and are covered by
tests/unit/real_sentry/test_configure_playbook.py), the organization and project settings are
read back through Sentry's API, rebuilt as Relay receives them (src/sentry/datascrubbing.py),
and the corpus goes through sentry_relay.
"""

from __future__ import annotations

import pytest

from tests.phi import corpus
from tests.unit.privacy import scrubbing
from tests.unit.real_sentry.conftest import configure_real, new_org, real_api, real_sentry  # noqa: F401 - fixtures

pytest.importorskip("sentry_relay")
pytestmark = [pytest.mark.real_sentry, pytest.mark.slow]

PROJECTS = ("dermai-api", "dermai-web")
TAGS = "sentry_config_organization,sentry_config_projects"


@pytest.fixture(scope="module")
def configured_org(real_sentry, real_api, tmp_path_factory):  # noqa: F811 - pytest fixtures
    org = new_org(real_api)
    run = configure_real(real_sentry, org, tmp_path_factory.mktemp("env"), "--tags", TAGS)
    assert run.rc == 0 and run.recap.get("failed") == 0, run.stdout[-4000:] + run.stderr[-2000:]
    return org


@pytest.mark.parametrize("slug", PROJECTS)
def test_configuration_read_back_from_real_sentry_leaves_no_phi(real_api, configured_org, slug):  # noqa: F811
    org = real_api.call("GET", f"organizations/{configured_org}/").json()
    project = real_api.call("GET", f"projects/{configured_org}/{slug}/").json()
    configs = scrubbing.configs_from_api(org, project)
    assert configs and "organization:dermai_phi_fields" in configs[0]["rules"], "relayPiiConfig not read back"
    leaked = scrubbing.leaks(configs)
    assert not leaked, "PHI survived:\n" + "\n".join(leaked)
    lost = scrubbing.lost_non_phi(configs)
    assert len(lost) <= 0.05 * len(corpus.NON_PHI), lost


def test_real_sentry_stores_the_privacy_project_settings(real_api, configured_org):  # noqa: F811
    org = real_api.call("GET", f"organizations/{configured_org}/").json()
    assert org["scrubIPAddresses"] is True and org["dataScrubber"] is True
    web = real_api.call("GET", f"projects/{configured_org}/dermai-web/").json()
    assert web["allowedDomains"] == ["https://app.dermai.example"]
    assert web["scrubIPAddresses"] is True
