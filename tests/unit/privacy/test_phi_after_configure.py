"""After a fresh `make configure` (deploy/configure.yml, standalone inventory) the PHI corpus is scrubbed.

The scrubbing configuration is READ BACK through the API from the Sentry the role configured
(the double here, real Sentry 23.7.1 in test_phi_real_sentry.py), rebuilt as Relay receives it,
and the corpus goes through sentry_relay with it; the corpus is also sent through the double's
ingest (store endpoint, the way an SDK sends it) and the stored events are checked.
"""

from __future__ import annotations

import json

import pytest
import requests

from tests.phi import corpus
from tests.unit.configure.runner import assert_ok, run_configure, start_double_backend
from tests.unit.privacy import scrubbing

pytest.importorskip("sentry_relay")
pytestmark = pytest.mark.slow

ORG = "sentry"
PROJECTS = ("dermai-api", "dermai-web")


@pytest.fixture(scope="module")
def configured(tmp_path_factory):
    backend = start_double_backend()
    tmp = tmp_path_factory.mktemp("phi-configure")
    (tmp / "env").mkdir()
    run = run_configure(backend, tmp / "env", tmp / "token")
    assert_ok(run)
    yield backend
    backend.server.stop()


def read_back(backend) -> tuple[dict, dict[str, dict]]:
    org = backend.api("GET", f"organizations/{ORG}/").json()
    projects = {slug: backend.api("GET", f"projects/{ORG}/{slug}/").json() for slug in PROJECTS}
    return org, projects


@pytest.mark.parametrize("slug", PROJECTS)
def test_read_back_configuration_leaves_no_phi(configured, slug):
    org, projects = read_back(configured)
    configs = scrubbing.configs_from_api(org, projects[slug])
    leaked = scrubbing.leaks(configs)
    assert not leaked, "PHI survived:\n" + "\n".join(leaked)
    lost = scrubbing.lost_non_phi(configs)
    assert len(lost) <= 0.05 * len(corpus.NON_PHI), lost


def test_read_back_configuration_is_the_role_default(configured):
    org, _ = read_back(configured)
    d = scrubbing.role_defaults()
    assert json.loads(org["relayPiiConfig"]) == d["sentry_config_org_relay_pii_config"]
    assert org["sensitiveFields"] == d["sentry_config_org_sensitive_fields"]


def test_projects_never_store_ips_and_the_browser_project_accepts_only_the_app_origin(configured):
    org, projects = read_back(configured)
    assert org["scrubIPAddresses"] is True and org["dataScrubber"] is True
    assert all(p["scrubIPAddresses"] is True for p in projects.values())
    assert projects["dermai-web"]["allowedDomains"] == ["https://app.dermai.example"]


def _store(backend, slug: str, event: dict) -> str:
    project = backend.api("GET", f"projects/{ORG}/{slug}/").json()
    (key,) = [k for k in backend.api("GET", f"projects/{ORG}/{slug}/keys/").json() if k["isActive"]][:1]
    resp = requests.post(
        f"{backend.url}/api/{project['id']}/store/",
        json=event,
        headers={"X-Sentry-Auth": f"Sentry sentry_version=7, sentry_key={key['public']}"},
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    return project["id"], resp.json()["id"]


def test_events_sent_through_the_doubles_ingest_are_stored_without_phi(configured):
    found = []
    for phi in corpus.PHI:
        event = corpus.error_event(phi)
        project_id, event_id = _store(configured, "dermai-api", event)
        served = configured.api("GET", f"projects/{ORG}/dermai-api/events/{event_id}/").json()
        stored = configured.server.state.data["events"][f"{project_id}:{event_id}"]["data"]
        for where, doc in (("API", served), ("stored", stored)):
            found += [f"{phi.kind} {phi.literal!r} {where}: {p}" for p in corpus.survivors(phi, doc)]
    assert not found, "PHI stored:\n" + "\n".join(found)
