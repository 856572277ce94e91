#!/usr/bin/python
# Copyright: DermAI
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Manage a Sentry project and its privacy settings."""

from __future__ import annotations

DOCUMENTATION = r"""
module: sentry_project
short_description: Create, configure or delete a Sentry project
version_added: 1.0.0
description:
  - Looks the project up with C(GET /api/0/projects/{organization}/{slug}/). A missing project is created under
    O(team) with C(POST /api/0/teams/{organization}/{team}/projects/) and C(default_rules=false), so Sentry does not
    add its default "notify on new issue" alert rule (manage alert rules with M(dermai.sentry.sentry_issue_alert)).
    HTTP 409 on creation (created meanwhile) is treated as "already exists" and the module converges on it.
  - An existing project that is not linked to O(team) gets linked (other teams stay).
  - Settings you set are compared with the server's values after normalisation and only differing fields are sent
    with C(PUT /api/0/projects/{organization}/{slug}/); the project is read again afterwards.
  - Sentry creates a default client key (DSN) for every new project; manage keys with M(dermai.sentry.sentry_key).
extends_documentation_fragment: [dermai.sentry.sentry, dermai.sentry.sentry.organization, dermai.sentry.sentry.state]
options:
  team:
    description: Slug of the team that owns the project. Required for O(state=present).
    type: str
  slug:
    description: Slug of the project (lower-case letters, digits, C(_) and C(-), at most 50 characters).
    type: str
    required: true
  name:
    description: Display name (at most 50 characters). Defaults to O(slug) on creation.
    type: str
  platform:
    description:
      - Sentry platform id, for example V(python-fastapi) or V(javascript-react). Must be one of Sentry's platforms
        (C(GETTING_STARTED_DOCS_PLATFORMS)) or V(other); checked before any request.
    type: str
  data_scrubber:
    description: Enable the server-side data scrubber (C(dataScrubber)).
    type: bool
  data_scrubber_defaults:
    description: Use the default scrubbers (C(dataScrubberDefaults)).
    type: bool
  scrub_ip_addresses:
    description: Never store IP addresses (C(scrubIPAddresses)).
    type: bool
  sensitive_fields:
    description: Field names whose values are always scrubbed (added to the organization's list). Order does not matter.
    type: list
    elements: str
  safe_fields:
    description: Field names the scrubber never touches. Order does not matter.
    type: list
    elements: str
  store_crash_reports:
    description: Crash reports kept per issue; V(0) disables, V(-1) unlimited, at most V(100).
    type: int
  relay_pii_config:
    description:
      - Advanced data scrubbing rules as a dict; sent as the JSON string Sentry wants, compared parsed; V({}) clears it.
      - Merged by Sentry with the organization's rules.
    type: dict
  allowed_domains:
    description:
      - Origins allowed to send events (C(allowedDomains)); V(["*"]) allows all.
      - Must not be empty. Order does not matter.
    type: list
    elements: str
  resolve_age:
    description: Hours of inactivity after which issues are resolved automatically; V(0) turns it off.
    type: int
  subject_prefix:
    description:
      - Prefix of notification e-mail subjects (at most 200 characters).
      - Leading and trailing white space is dropped before it is sent and compared, as Sentry trims it
        when it stores the value (a trailing space would otherwise never converge).
    type: str
  state:
    description: Whether the project should exist. V(absent) deletes the project with all its events and keys.
author:
  - DermAI infrastructure team (@dermai)
"""

EXAMPLES = r"""
- name: Backend project
  dermai.sentry.sentry_project:
    url: https://sentry.dermai.example
    token: "{{ vault_sentry_api_token }}"
    organization: sentry
    team: dermai
    slug: dermai-api
    name: dermai-api
    platform: python-fastapi
    data_scrubber: true
    data_scrubber_defaults: true
    scrub_ip_addresses: true
    sensitive_fields: [mrn, patient_id]
    resolve_age: 168
    subject_prefix: "[DermAI-API]"
  register: backend

- name: Show the project id
  ansible.builtin.debug:
    msg: "{{ backend.project.id }}"
"""

RETURN = r"""
project:
  description: The project as Sentry returns it after the run (empty dict when absent).
  returned: always
  type: dict
  sample: {"id": "2", "slug": "dermai-api", "name": "dermai-api", "platform": "python-fastapi", "dataScrubber": true}
changed_fields:
  description: API names of the settings that were (or would be) changed on an existing project.
  returned: always
  type: list
  elements: str
  sample: [resolveAge]
"""

import re

from ansible_collections.dermai.sentry.plugins.module_utils.sentry_api import (
    URL_PROJECT,
    URL_PROJECT_TEAM,
    URL_TEAM_PROJECTS,
    SentryAPIError,
    camel_payload,
)
from ansible_collections.dermai.sentry.plugins.module_utils.sentry_checks import (
    PLATFORMS,
    PRIVACY_FIELDS,
    PRIVACY_OPTIONS,
    api_fields,
    check_privacy,
)
from ansible_collections.dermai.sentry.plugins.module_utils.sentry_resource import ORGANIZATION, STATE, Resource

SLUG_RE = re.compile(r"^[a-z0-9_-]{1,50}$")
# option -> API field of the settings this module manages
FIELDS = dict(PRIVACY_FIELDS, **api_fields("name", "platform", "allowed_domains", "resolve_age", "subject_prefix"))


def teams_of(current):
    teams = current.get("teams")
    if teams is None:  # older servers: a single "team" object
        teams = [current["team"]] if current.get("team") else []
    return teams


OPTIONS = dict(ORGANIZATION, team=dict(type="str"), slug=dict(type="str", required=True), **STATE)
OPTIONS.update(PRIVACY_OPTIONS, name=dict(type="str"), platform=dict(type="str"), subject_prefix=dict(type="str"))
OPTIONS.update(allowed_domains=dict(type="list", elements="str"), resolve_age=dict(type="int"))
MODULE_KWARGS = dict(required_if=[("state", "present", ("team",))])


class Project(Resource):
    kind = key = "project"
    options = OPTIONS
    module_kwargs = MODULE_KWARGS
    identity = ("slug", "name")
    set_fields = ("sensitiveFields", "safeFields", "allowedDomains")
    pii_fields = ("relayPiiConfig",)
    report_fields = True

    def validate(self):
        p, fail = self.params, self.module.fail_json
        if not SLUG_RE.match(p["slug"]) or p["slug"].isdigit():
            fail(msg=f"slug {p['slug']!r} is not a valid project slug: use 1-50 lower-case letters, digits, '_' or '-'")
        if p["name"] is not None and not 1 <= len(p["name"]) <= 50:
            fail(msg="name must be 1 to 50 characters long")
        if p["platform"] is not None and p["platform"] not in PLATFORMS:
            fail(msg=f"platform {p['platform']!r} is not a Sentry platform; allowed: {', '.join(PLATFORMS)}")
        if p["allowed_domains"] is not None and not p["allowed_domains"]:
            fail(msg="allowed_domains must not be empty: use ['*'] to accept events from every origin")
        if p["resolve_age"] is not None and p["resolve_age"] < 0:
            fail(msg="resolve_age must be 0 (off) or a positive number of hours")
        if p["subject_prefix"] is not None:
            # Sentry's serializer trims CharFields (DRF trim_whitespace): send what it will store.
            p["subject_prefix"] = p["subject_prefix"].strip()
            if len(p["subject_prefix"]) > 200:
                fail(msg="subject_prefix may be at most 200 characters")
        check_privacy(self.module)

    def item_path(self, obj=None):
        return self.client.path(URL_PROJECT, org=self.params["organization"], project=self.params["slug"])

    def find(self):
        return self.client.get(self.item_path(), missing_ok=True)

    def desired(self, current):
        return camel_payload(self.params, FIELDS, self.pii_fields)

    def create_body(self):
        p = self.params
        body = {"name": p["name"] or p["slug"], "slug": p["slug"], "default_rules": False}
        if p["platform"]:
            body["platform"] = p["platform"]
        return body

    def planned(self, desired):
        body = self.create_body()
        body.pop("default_rules")
        return dict(body, **desired)

    def create(self, desired):
        # default_rules=false: Sentry adds no "notify on new issue" rule (alerts are managed on their own).
        p = self.params
        path = self.client.path(URL_TEAM_PROJECTS, org=p["organization"], team=p["team"])
        try:
            self.client.create_verified(path, self.create_body(), self.find)
        except SentryAPIError as err:
            if err.status != 409:
                raise
            return None  # created meanwhile: converge on it
        return self.find()

    def converge_more(self, obj, before, after):
        """Link the project to the team when it is not (POST .../teams/{team}/); other teams stay."""
        team = self.params["team"]
        have = sorted(t.get("slug") for t in teams_of(obj))
        if "id" not in obj or team in have:
            return False, obj
        before["teams"], after["teams"] = have, sorted([*have, team])
        if self.check:
            return True, obj
        org = self.params["organization"]
        self.client.post(self.client.path(URL_PROJECT_TEAM, org=org, project=obj["slug"], team=team), None)
        return True, self.find()


def main():
    Project.main()


if __name__ == "__main__":
    main()
