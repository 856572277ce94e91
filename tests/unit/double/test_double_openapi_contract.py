"""Contract: the double's responses validate against Sentry's published OpenAPI schemas.

Rule endpoints (/rules/, /alert-rules/) are checked against the 2026-05-08 schema, the last
one that documents them; everything else against the latest schema. Operations the double
serves that neither schema documents are listed in NOT_IN_SCHEMA (and the test proves they
really are absent, so the report cannot go stale).
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
import uuid
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests

from tests.sentry_double.samples import Client, issue_rule, metric_alert
from tests.sentry_double.server import start_double

SCHEMA_DIR = Path(
    os.environ.get("SENTRY_OPENAPI_DIR", Path(__file__).resolve().parents[4] / "shared" / "sentry-openapi")
)
LATEST = "openapi-derefed.2026-08-16.latest.json"
LEGACY = "openapi-derefed.2026-05-08.with-legacy-alert-rules.json"

# Served by the double, documented by neither schema (checked below).
NOT_IN_SCHEMA = {
    ("GET", "/api/0/"),
    ("GET", "/api/0/projects/"),
    ("POST", "/api/0/projects/{org}/{project}/releases/"),
    ("GET", "/api/0/projects/{org}/{project}/releases/{version}/"),
    ("PUT", "/api/0/projects/{org}/{project}/releases/{version}/"),
    # workflow engine (26.7+): the legacy-id mappings are internal to Sentry's UI
    ("GET", "/api/0/organizations/{org}/alert-rule-workflow/"),
    ("GET", "/api/0/organizations/{org}/alert-rule-detector/"),
    # the organization audit log (tests/sentry_double/audit.py): undocumented in both schemas
    ("GET", "/api/0/organizations/{org}/audit-logs/"),
    # sentry-cli's commit and upload protocol, internal integrations (releases.py, sentry_apps.py)
    ("GET", "/api/0/organizations/{org}/releases/{version}/previous-with-commits/"),
    ("GET", "/api/0/organizations/{org}/chunk-upload/"),
    ("POST", "/api/0/organizations/{org}/chunk-upload/"),
    ("POST", "/api/0/organizations/{org}/artifactbundle/assemble/"),
    ("GET", "/api/0/projects/{org}/{project}/files/artifact-bundles/"),
    ("GET", "/api/0/projects/{org}/{project}/artifact-bundles/{bundle}/files/"),
    ("GET", "/api/0/sentry-apps/"),
    ("POST", "/api/0/sentry-apps/"),
    ("GET", "/api/0/sentry-apps/{app}/api-tokens/"),
    ("POST", "/api/0/sentry-apps/{app}/api-tokens/"),
    ("DELETE", "/api/0/sentry-apps/{app}/api-tokens/{api_token}/"),
}
# Fields the schema types as strings but Sentry's serializer returns as the stored JSON object
# (SentryAppSerializerResponse says `schema: str`, `metadata: str`; serialize() returns obj.schema /
# obj.metadata, JSONFields): the double follows the code.
# Commits set from a local git tree belong to a placeholder repository without provider: its
# RepositorySerializer provider id is null (typed string).
TYPE_DIFFERS = {
    ("/sentry-apps/", ("schema",)),
    ("/sentry-apps/", ("metadata",)),
    ("/commits/", ("repository", "provider", "id")),
}
# Documented status differs from what Sentry's code returns (the double follows the code).
STATUS_DIFFERS = {
    ("POST", "/api/0/projects/{organization_id_or_slug}/{project_id_or_slug}/rules/"): (200, "201"),
    ("POST", "/api/0/organizations/{organization_id_or_slug}/teams/"): (409, "404"),
}


def _nullable(schema: Any) -> Any:
    """OpenAPI 3.0 `nullable: true` -> JSON Schema type lists (jsonschema ignores `nullable`)."""
    if isinstance(schema, list):
        return [_nullable(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _nullable(value) for key, value in schema.items()}
    if out.pop("nullable", False):
        if "type" in out:
            out["type"] = [out["type"], "null"] if isinstance(out["type"], str) else [*out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
        if "type" not in out and "enum" not in out:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


if not (SCHEMA_DIR / LATEST).exists():
    pytest.skip(f"Sentry OpenAPI schemas not found in {SCHEMA_DIR} (set SENTRY_OPENAPI_DIR)", allow_module_level=True)


@functools.cache
def load(name: str) -> dict[str, Any]:
    return json.loads((SCHEMA_DIR / name).read_text())


def template_regex(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$")


def find_operation(schema_name: str, method: str, path: str) -> tuple[str, dict[str, Any]] | None:
    for template, operations in load(schema_name)["paths"].items():
        if method.lower() in operations and template_regex(template).match(path):
            return template, operations[method.lower()]
    return None


def schema_for(path: str) -> str:
    return LEGACY if "/rules/" in path or "/alert-rules/" in path else LATEST


# ----------------------------------------------------------------------------- recorded traffic
@pytest.fixture(scope="module")
def traffic():
    """Drive every operation once against a populated double; record (method, path, status, body)."""
    double = start_double(url_prefix="https://sentry.dermai.test")
    api = Client(double.url, double.token)
    calls: list[tuple[str, str, int, Any]] = []

    def call(method: str, path: str, **kwargs) -> Any:
        response = api.session.request(method, api.base + path, timeout=10, **kwargs)
        body = response.json() if response.content else None
        calls.append((method, "/api/0" + path.split("?")[0], response.status_code, body))
        return body

    try:
        call("GET", "/organizations/sentry/")
        call("PUT", "/organizations/sentry/", json={"dataScrubber": True, "sensitiveFields": ["mrn"]})
        team = call("POST", "/organizations/sentry/teams/", json={"slug": "dermai", "name": "DermAI"})
        call("POST", "/organizations/sentry/teams/", json={"slug": "dermai"})
        call("GET", "/organizations/sentry/teams/")
        call("GET", "/teams/sentry/dermai/")
        call("PUT", "/teams/sentry/dermai/", json={"name": "DermAI team"})
        body = {"name": "dermai-api", "slug": "dermai-api", "platform": "python-fastapi", "default_rules": False}
        call("POST", "/teams/sentry/dermai/projects/", json=body)
        call("POST", "/teams/sentry/dermai/projects/", json={"name": "dermai-web", "platform": "javascript-react"})
        call("GET", "/teams/sentry/dermai/projects/")
        call("GET", "/organizations/sentry/projects/")
        call("GET", "/projects/")
        call("GET", "/projects/sentry/dermai-api/")
        call("PUT", "/projects/sentry/dermai-api/", json={"resolveAge": 168, "dataScrubber": True})
        key = call(
            "POST", "/projects/sentry/dermai-api/keys/", json={"name": "prod", "rateLimit": {"window": 60, "count": 10}}
        )
        call("GET", "/projects/sentry/dermai-api/keys/")
        call("GET", f"/projects/sentry/dermai-api/keys/{key['id']}/")
        call("PUT", f"/projects/sentry/dermai-api/keys/{key['id']}/", json={"name": "prod2"})
        event_id = uuid.uuid4().hex
        requests.post(
            f"{double.url}/api/{key['projectId']}/store/?sentry_key={key['public']}",
            json={"event_id": event_id, "message": "m", "environment": "production", "tags": {"a": "b"}},
            timeout=5,
        )
        call("GET", "/projects/sentry/dermai-api/environments/")
        call("GET", "/projects/sentry/dermai-api/events/")
        call("GET", f"/projects/sentry/dermai-api/events/{event_id}/")
        call("POST", "/projects/sentry/dermai-api/teams/sentry/")
        call("DELETE", "/projects/sentry/dermai-api/teams/sentry/")
        double.set_release("26.8.0")  # from here on: the workflow engine (rules dual-written, read from it)
        rule = call("POST", "/projects/sentry/dermai-api/rules/", json=issue_rule())
        call("GET", "/projects/sentry/dermai-api/rules/")
        call("GET", f"/projects/sentry/dermai-api/rules/{rule['id']}/")
        call("PUT", f"/projects/sentry/dermai-api/rules/{rule['id']}/", json=issue_rule(frequency=60))
        alert = call("POST", "/organizations/sentry/alert-rules/", json=metric_alert(team["id"]))
        call("GET", "/organizations/sentry/alert-rules/")
        call("GET", f"/organizations/sentry/alert-rules/{alert['id']}/")
        call("PUT", f"/organizations/sentry/alert-rules/{alert['id']}/", json=metric_alert(team["id"], name="n2"))
        workflow = call("GET", f"/organizations/sentry/alert-rule-workflow/?rule_id={rule['id']}")
        detector = call("GET", f"/organizations/sentry/alert-rule-detector/?alert_rule_id={alert['id']}")
        call("GET", f"/organizations/sentry/workflows/?id={workflow['workflowId']}")
        call("GET", f"/organizations/sentry/workflows/{workflow['workflowId']}/")
        call("GET", "/organizations/sentry/detectors/")
        call("GET", f"/organizations/sentry/detectors/{detector['detectorId']}/")
        release = {"version": "dermai-api@1.0.0", "projects": ["dermai-api"], "ref": "abc"}
        call("POST", "/organizations/sentry/releases/", json=release)
        call("POST", "/organizations/sentry/releases/", json=release)
        call("GET", "/organizations/sentry/releases/")
        call("GET", "/organizations/sentry/releases/dermai-api@1.0.0/")
        call("PUT", "/organizations/sentry/releases/dermai-api@1.0.0/", json={"dateReleased": "2026-11-29T00:00:00Z"})
        deploy = {"environment": "production", "name": "d1"}
        call("POST", "/organizations/sentry/releases/dermai-api@1.0.0/deploys/", json=deploy)
        call("GET", "/organizations/sentry/releases/dermai-api@1.0.0/deploys/")
        call("POST", "/projects/sentry/dermai-api/releases/", json={"version": "dermai-api@1.0.1"})
        call("GET", "/projects/sentry/dermai-api/releases/")
        call("GET", "/projects/sentry/dermai-api/releases/dermai-api@1.0.1/")
        call("PUT", "/projects/sentry/dermai-api/releases/dermai-api@1.0.1/", json={"ref": "def"})
        _exercise_ci(call)
        call("GET", "/organizations/")
        call("GET", "/organizations/sentry/audit-logs/")
        call("GET", "/")
        call("DELETE", f"/organizations/sentry/alert-rules/{alert['id']}/")
        call("DELETE", f"/projects/sentry/dermai-api/rules/{rule['id']}/")
        call("DELETE", f"/projects/sentry/dermai-api/keys/{key['id']}/")
        call("DELETE", "/organizations/sentry/releases/dermai-api@1.0.0/")
        call("DELETE", "/projects/sentry/dermai-web/")
        call("DELETE", "/teams/sentry/dermai/")
        yield calls, double
    finally:
        double.stop()


def _exercise_ci(call) -> None:
    """The CI side (tests/sentry_double/releases.py, sentry_apps.py): credential, commits, source maps."""
    import hashlib
    import io
    import json
    import zipfile

    body = {"name": "CI", "organization": "sentry", "isInternal": True, "scopes": ["project:releases", "org:read"]}
    app = call("POST", "/sentry-apps/", json=body)
    call("GET", "/sentry-apps/")
    call("GET", f"/sentry-apps/{app['slug']}/")
    call("PUT", f"/sentry-apps/{app['slug']}/", json={"scopes": ["project:releases"]})
    call("GET", "/organizations/sentry/sentry-apps/")
    token = call("POST", f"/sentry-apps/{app['slug']}/api-tokens/")
    call("GET", f"/sentry-apps/{app['slug']}/api-tokens/")
    call("DELETE", f"/sentry-apps/{app['slug']}/api-tokens/{token['id']}/")
    call("DELETE", f"/sentry-apps/{app['slug']}/")
    call("GET", "/organizations/sentry/repos/")
    commits = {"commits": [{"id": "a" * 40, "message": "fix: upload", "author_email": "ci@dermai.test"}]}
    call("PUT", "/organizations/sentry/releases/dermai-api@1.0.0/", json=commits)
    call("GET", "/organizations/sentry/releases/dermai-api@1.0.0/commits/")
    call("GET", "/organizations/sentry/releases/dermai-api@1.0.0/previous-with-commits/")
    call("GET", "/organizations/sentry/chunk-upload/")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("files/_/_/app.js", "f();\n")
        manifest = {"files": {"files/_/_/app.js": {"url": "~/app.js", "type": "minified_source"}}}
        archive.writestr("manifest.json", json.dumps(manifest))
    blob = buffer.getvalue()
    checksum = hashlib.sha1(blob).hexdigest()  # noqa: S324 - Sentry's chunk protocol
    call("POST", "/organizations/sentry/chunk-upload/", files={"file": (checksum, blob)})
    assemble = {"checksum": checksum, "chunks": [checksum], "projects": ["dermai-api"], "version": "dermai-api@1.0.0"}
    call("POST", "/organizations/sentry/artifactbundle/assemble/", json=assemble)
    bundles = call("GET", "/projects/sentry/dermai-api/files/artifact-bundles/")
    call("GET", f"/projects/sentry/dermai-api/artifact-bundles/{bundles[0]['bundleId']}/files/")


def _documented(calls):
    for method, path, status, body in calls:
        found = find_operation(schema_for(path), method, path)
        if found:
            yield method, path, status, body, found


def _type_differs(template: str, error: Any) -> bool:
    path = tuple(error.path)
    return error.validator == "type" and any(
        part in template and path[-len(suffix) :] == suffix for part, suffix in TYPE_DIFFERS
    )


def test_every_documented_response_validates_against_its_schema(traffic):
    calls, _double = traffic
    failures, checked = [], 0
    for method, _path, status, body, (template, operation) in _documented(calls):
        documented = operation["responses"]
        expected = STATUS_DIFFERS.get((method, template))
        key = expected[1] if expected and expected[0] == status else str(status)
        assert key in documented, f"{method} {template}: status {status} not documented ({sorted(documented)})"
        content = documented[key].get("content", {}).get("application/json", {})
        if "schema" not in content or body is None:
            continue
        schema = _nullable(copy.deepcopy(content["schema"]))
        errors = sorted(jsonschema.Draft4Validator(schema).iter_errors(body), key=lambda e: list(e.path))
        errors = [e for e in errors if not _type_differs(template, e)]
        failures += [f"{method} {template} {status}: {list(e.path)}: {e.message[:160]}" for e in errors[:5]]
        checked += 1
    assert not failures, "\n".join(failures)
    assert checked >= 35


def test_issue_rule_create_returns_200_where_the_schema_says_201(traffic):
    calls, _double = traffic
    statuses = [s for m, p, s, _ in calls if m == "POST" and p.endswith("/rules/")]
    assert statuses == [200]


def _double_operations(double) -> set[tuple[str, str]]:
    operations = set()
    for pattern, methods in double.api.routes:
        template = re.sub(r"\(\?P<(\w+)>\[\^/\]\+\)", r"{\1}", pattern.pattern.strip("^$"))
        operations.update((method, template) for method in methods)
    return operations


def _sample(template: str) -> str:
    return re.sub(r"\{\w+\}", "x", template)


def test_operations_missing_from_both_schemas_are_exactly_the_reported_ones(traffic):
    _calls, double = traffic
    missing = {
        (method, template)
        for method, template in _double_operations(double)
        if not find_operation(LATEST, method, _sample(template))
        and not find_operation(LEGACY, method, _sample(template))
    }
    print("\nOperations the double serves that no OpenAPI schema documents:")
    for method, template in sorted(missing, key=lambda item: (item[1], item[0])):
        print(f"  {method:6} {template}")
    assert missing == NOT_IN_SCHEMA


def test_every_served_operation_was_exercised(traffic):
    calls, double = traffic
    exercised = set()
    for method, path, _status, _body in calls:
        for pattern, methods in double.api.routes:
            if method in methods and pattern.match(path):
                exercised.add((method, pattern.pattern))
    served = {(m, p.pattern) for p, methods in double.api.routes for m in methods}
    assert served - exercised == set()
