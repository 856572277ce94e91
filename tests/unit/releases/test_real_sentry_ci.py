"""The CI credential and sentry-cli against the real Sentry 23.7.1 test peer (tests/real_sentry).

The peer runs Sentry's web process only (no Snuba, no worker), so some calls cannot succeed there and are
covered by the double only:
- anything that serializes a release (POST/GET/PUT .../releases/, hence `releases new`, `set-commits` and
  `finalize`) answers 500: the release serializer queries Snuba;
- an uploaded artifact bundle is assembled by a worker task, so the listing stays empty; the upload itself
  (chunk-upload + artifactbundle/assemble) is accepted.
"""

from __future__ import annotations

import hashlib

import pytest

from tests.real_sentry.backend import sentry_exec
from tests.unit.releases.conftest import FRONTEND, REPO, Api, cli, credential

pytestmark = [pytest.mark.real_sentry, pytest.mark.slow]


@pytest.fixture
def admin(real_sentry) -> Api:
    return Api(real_sentry.url, real_sentry.token)


def test_real_credential_is_created_once_and_cannot_change_organization_settings(real_sentry, admin, real_org):
    org = real_org
    name = f"DermAI CI {org}"
    first = credential(real_sentry.url, real_sentry.token, org=org, name=name)
    assert not first["failed"], first
    token = first["new_token"]
    assert first["integration"]["status"] == "internal"
    assert admin.call("GET", f"organizations/{org}/", token=token).status_code == 200
    denied = admin.call("PUT", f"organizations/{org}/", {"openMembership": True}, token=token)
    assert denied.status_code == 403, denied.text

    again = credential(real_sentry.url, real_sentry.token, org=org, name=name, current_token=token)
    assert not again["failed"], again
    assert again["changed"] is False and "new_token" not in again
    apps = admin.call("GET", f"organizations/{org}/sentry-apps/").json()
    assert [a["name"] for a in apps if a["name"] == name] == [name]
    tokens = admin.call("GET", f"sentry-apps/{first['integration']['slug']}/api-tokens/").json()
    assert [t["token"] for t in tokens] == [token]


def test_real_rotation_revokes_the_old_token_and_sentry_cli_says_so(real_sentry, admin, real_org):
    org = real_org
    name = f"DermAI CI rotate {org}"
    old = credential(real_sentry.url, real_sentry.token, org=org, name=name)["new_token"]
    rotated = credential(real_sentry.url, real_sentry.token, org=org, name=name, current_token=old, rotate=True)
    assert not rotated["failed"], rotated
    new = rotated["new_token"]
    gone = admin.call("GET", f"organizations/{org}/", token=old)
    assert gone.status_code == 401 and gone.json() == {"detail": "Invalid token"}
    assert admin.call("GET", f"organizations/{org}/", token=new).status_code == 200
    result = cli(real_sentry.url, old, org, "deploys", "new", "--release", "x@1", "-e", "production")
    assert result.returncode != 0
    assert "Invalid token" in result.stderr or "401" in result.stderr, result.stderr[-1500:]


def test_real_ci_token_uploads_source_maps_and_records_a_deploy(real_sentry, admin, real_org, build, checkout):
    org = real_org
    token = credential(real_sentry.url, real_sentry.token, org=org, name=f"DermAI CI upload {org}")["new_token"]
    version = "dermai-web@real-1"
    # The release itself: the API creates it but its 500 comes from the serializer (no Snuba on the peer).
    admin.call("POST", f"organizations/{org}/releases/", {"version": version, "projects": [FRONTEND]})

    upload = cli(real_sentry.url, token, org, "sourcemaps", "upload", "--release", version, str(build))
    assert upload.returncode == 0, upload.stderr[-2000:]
    assert "Upload type: artifact bundle" in upload.stdout
    assert "~/assets/index.js (sourcemap at index.js.map)" in upload.stdout

    deploy = cli(real_sentry.url, token, org, "deploys", "new", "--release", version, "-e", "production")
    assert deploy.returncode == 0, deploy.stderr[-2000:]
    deploys = admin.call("GET", f"organizations/{org}/releases/{version}/deploys/", token=token).json()
    assert [d["environment"] for d in deploys] == ["production"]
    # The listing endpoint answers the CI token; assembling the bundle needs the worker the peer lacks.
    listing = admin.call("GET", f"projects/{org}/{FRONTEND}/files/artifact-bundles/", token=token)
    assert listing.status_code == 200


SCRIPT = REPO / "roles" / "sentry_config" / "files" / "ci_token.py"


def host_keep_token(slug: str, current: str, rotate: bool) -> dict:
    """roles/sentry_config/files/ci_token.py as the role runs it (`sentry exec -c`), on the peer's venv."""
    env = {
        "DERMAI_APP_SLUG": slug,
        "DERMAI_CURRENT_SHA256": hashlib.sha256(current.encode()).hexdigest() if current else "",
        "DERMAI_ROTATE": "1" if rotate else "0",
        "DERMAI_CHECK": "0",
    }
    return sentry_exec(SCRIPT, "DERMAI_CI_TOKEN", env)


def test_real_host_script_keeps_one_token_and_rotates_with_sentrys_own_code(real_sentry, admin, real_org):
    org = real_org
    first = credential(real_sentry.url, real_sentry.token, org=org, name=f"DermAI CI host {org}")
    slug, old = first["integration"]["slug"], first["new_token"]
    kept = host_keep_token(slug, old, rotate=False)
    assert kept == {"changed": False, "token": None, "count": 1}
    rotated = host_keep_token(slug, old, rotate=True)
    assert rotated["changed"] and rotated["count"] == 1 and rotated["token"] not in (None, old)
    assert admin.call("GET", f"organizations/{org}/", token=old).status_code == 401
    assert admin.call("GET", f"organizations/{org}/", token=rotated["token"]).status_code == 200
    denied = admin.call("PUT", f"organizations/{org}/", {"openMembership": True}, token=rotated["token"])
    assert denied.status_code == 403
