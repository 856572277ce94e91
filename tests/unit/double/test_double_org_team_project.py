"""Organisation privacy settings, teams and projects: status codes and stored values."""

from __future__ import annotations

import json

from tests.sentry_double.samples import ORG_PRIVACY, PROJECT_PRIVACY

PII = {"applications": {"$string": ["@email:replace"]}}


def test_seeded_organization_is_sentry_with_team_and_internal_project(api):
    body = api.get("/organizations/sentry/").json()
    assert body["slug"] == "sentry"
    assert [t["slug"] for t in body["teams"]] == ["sentry"]
    assert [p["slug"] for p in body["projects"]] == ["internal"]


def test_org_privacy_settings_round_trip(api):
    wanted = {**ORG_PRIVACY, "relayPiiConfig": json.dumps(PII)}
    assert api.put("/organizations/sentry/", json=wanted).status_code == 200
    body = api.get("/organizations/sentry/").json()
    assert {k: body[k] for k in wanted} == wanted


def test_org_put_ignores_unknown_fields(api):
    response = api.put("/organizations/sentry/", json={"noSuchField": 1, "dataScrubber": True})
    assert response.status_code == 200
    assert "noSuchField" not in response.json()


def test_invalid_relay_pii_config_is_400_with_relay_message(api):
    bad = json.dumps({"rules": {"x": {"type": "nope"}}})
    response = api.put("/organizations/sentry/", json={"relayPiiConfig": bad})
    assert response.status_code == 400
    assert "unknown variant `nope`" in response.json()["relayPiiConfig"][0]


def test_relay_pii_config_must_be_a_string(api):
    response = api.put("/organizations/sentry/", json={"relayPiiConfig": PII})
    assert response.status_code == 400


def test_empty_sensitive_field_is_rejected(api):
    response = api.put("/organizations/sentry/", json={"sensitiveFields": ["mrn", ""]})
    assert response.json() == {"sensitiveFields": ["Empty values are not allowed."]}


def test_require_2fa_without_personal_2fa_is_400(api):
    response = api.put("/organizations/sentry/", json={"require2FA": True})
    assert response.status_code == 400
    assert "two-factor" in response.json()["detail"]


def test_default_role_needs_org_admin(double):
    from tests.sentry_double.samples import Client

    token = "sntryu_" + "3" * 64
    double.add_token(token, ["org:write"])
    client = Client(double.url, token)
    assert client.put("/organizations/sentry/", json={"defaultRole": "admin"}).status_code == 200
    assert client.get("/organizations/sentry/").json()["defaultRole"] == "member"


def test_team_create_is_201_then_409(api):
    first = api.post("/organizations/sentry/teams/", json={"slug": "dermai", "name": "DermAI"})
    second = api.post("/organizations/sentry/teams/", json={"slug": "dermai", "name": "DermAI"})
    assert first.status_code == 201
    assert second.status_code == 409
    assert second.json()["detail"] == "A team with this slug already exists."


def test_team_needs_name_or_slug(api):
    response = api.post("/organizations/sentry/teams/", json={})
    assert response.json() == {"non_field_errors": ["Name or slug is required"]}


def test_team_slug_must_be_a_slug(api):
    response = api.post("/organizations/sentry/teams/", json={"slug": "Derm AI"})
    assert response.status_code == 400
    assert "valid slug" in response.json()["slug"][0]


def test_team_query_filters_by_slug(api, team):
    rows = api.get("/organizations/sentry/teams/", params={"query": "slug:dermai", "detailed": "0"}).json()
    assert [t["slug"] for t in rows] == ["dermai"]


def test_project_create_is_201_then_409(api, team):
    body = {"name": "dermai-web", "slug": "dermai-web", "platform": "javascript-react"}
    assert api.post("/teams/sentry/dermai/projects/", json=body).status_code == 201
    again = api.post("/teams/sentry/dermai/projects/", json=body)
    assert again.status_code == 409
    assert again.json() == {"detail": "A project with this slug already exists."}


def test_project_with_invalid_platform_is_400(api, team):
    response = api.post("/teams/sentry/dermai/projects/", json={"name": "x", "platform": "cobol"})
    assert response.status_code == 400
    assert response.json() == {"platform": ["Invalid platform"]}


def test_project_name_is_required(api, team):
    response = api.post("/teams/sentry/dermai/projects/", json={"slug": "x"})
    assert response.json() == {"name": ["This field is required."]}


def test_project_in_unknown_team_is_404(api):
    assert api.post("/teams/sentry/nope/projects/", json={"name": "x"}).status_code == 404


def test_new_project_has_a_default_key(api, project):
    keys = api.get("/projects/sentry/dermai-api/keys/").json()
    assert [k["name"] for k in keys] == ["Default"]


def test_default_rules_false_creates_no_rule(api, project):
    assert api.get("/projects/sentry/dermai-api/rules/").json() == []


def test_default_rules_default_creates_the_default_rule(api, team):
    api.post("/teams/sentry/dermai/projects/", json={"name": "withrules", "platform": "python"})
    rules = api.get("/projects/sentry/withrules/rules/").json()
    assert [r["name"] for r in rules] == ["Send a notification for high priority issues"]


def test_project_slug_is_derived_from_name(api, team):
    body = api.post("/teams/sentry/dermai/projects/", json={"name": "DermAI Worker"}).json()
    assert body["slug"] == "dermai-worker"


def test_project_privacy_settings_round_trip(api, project):
    wanted = {
        **PROJECT_PRIVACY,
        "subjectPrefix": "[DermAI-API]",
        "allowedDomains": ["https://app.dermai.example"],
        "scrapeJavaScript": False,
        "relayPiiConfig": json.dumps(PII),
    }
    assert api.put("/projects/sentry/dermai-api/", json=wanted).status_code == 200
    body = api.get("/projects/sentry/dermai-api/").json()
    assert {k: body[k] for k in wanted} == wanted


def test_char_fields_are_trimmed_like_drf(api, project):
    body = api.put("/projects/sentry/dermai-api/", json={"subjectPrefix": "[DermAI-API] "}).json()
    assert body["subjectPrefix"] == "[DermAI-API]"


def test_empty_allowed_domains_is_400(api, project):
    response = api.put("/projects/sentry/dermai-api/", json={"allowedDomains": []})
    assert response.status_code == 400
    assert "use * to accept from all domains" in response.json()["allowedDomains"][0]


def test_project_put_needs_write_scope(limited, project):
    assert limited.put("/projects/sentry/dermai-api/", json={"resolveAge": 1}).status_code == 403


def test_project_delete_is_204_then_404(api, project):
    assert api.delete("/projects/sentry/dermai-api/").status_code == 204
    assert api.get("/projects/sentry/dermai-api/").status_code == 404


def test_project_lookup_by_id_works(api, project):
    assert api.get(f"/projects/sentry/{project['id']}/").json()["slug"] == "dermai-api"
