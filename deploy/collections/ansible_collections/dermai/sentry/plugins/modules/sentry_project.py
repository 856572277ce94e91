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
extends_documentation_fragment:
  - dermai.sentry.sentry
  - dermai.sentry.sentry.attributes
options:
  organization:
    description: Slug of the organization.
    type: str
    required: true
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
    type: str
    choices: [present, absent]
    default: present
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
    SentryClient,
    build_module,
    camel_payload,
    fail,
    fields_differ,
    parse_pii,
    project,
    update_settings,
)
from ansible_collections.dermai.sentry.plugins.module_utils.sentry_checks import (
    PLATFORMS,
    check_crash_reports,
    check_field_list,
    check_pii_config,
)

SLUG_RE = re.compile(r"^[a-z0-9_-]{1,50}$")
FIELDS = {
    "name": "name",
    "platform": "platform",
    "data_scrubber": "dataScrubber",
    "data_scrubber_defaults": "dataScrubberDefaults",
    "scrub_ip_addresses": "scrubIPAddresses",
    "sensitive_fields": "sensitiveFields",
    "safe_fields": "safeFields",
    "store_crash_reports": "storeCrashReports",
    "relay_pii_config": "relayPiiConfig",
    "allowed_domains": "allowedDomains",
    "resolve_age": "resolveAge",
    "subject_prefix": "subjectPrefix",
}
SET_FIELDS = ("sensitiveFields", "safeFields", "allowedDomains")
PII_FIELDS = ("relayPiiConfig",)


def validate(module):
    p = module.params
    if not SLUG_RE.match(p["slug"]) or p["slug"].isdigit():
        module.fail_json(
            msg=f"slug {p['slug']!r} is not a valid project slug: use 1-50 lower-case letters, digits, '_' or '-'"
        )
    if p["name"] is not None and not 1 <= len(p["name"]) <= 50:
        module.fail_json(msg="name must be 1 to 50 characters long")
    if p["platform"] is not None and p["platform"] not in PLATFORMS:
        module.fail_json(msg=f"platform {p['platform']!r} is not a Sentry platform; allowed: {', '.join(PLATFORMS)}")
    if p["allowed_domains"] is not None and not p["allowed_domains"]:
        module.fail_json(msg="allowed_domains must not be empty: use ['*'] to accept events from every origin")
    if p["resolve_age"] is not None and p["resolve_age"] < 0:
        module.fail_json(msg="resolve_age must be 0 (off) or a positive number of hours")
    if p["subject_prefix"] is not None:
        # Sentry's serializer trims CharFields (DRF trim_whitespace): send what it will store.
        p["subject_prefix"] = p["subject_prefix"].strip()
    if p["subject_prefix"] is not None and len(p["subject_prefix"]) > 200:
        module.fail_json(msg="subject_prefix may be at most 200 characters")
    check_field_list(module, "sensitive_fields", p["sensitive_fields"])
    check_field_list(module, "safe_fields", p["safe_fields"])
    check_crash_reports(module, p["store_crash_reports"])
    check_pii_config(module, "relay_pii_config", p["relay_pii_config"])


def main():
    module = build_module(
        dict(
            organization=dict(type="str", required=True),
            team=dict(type="str"),
            slug=dict(type="str", required=True),
            name=dict(type="str"),
            platform=dict(type="str"),
            data_scrubber=dict(type="bool"),
            data_scrubber_defaults=dict(type="bool"),
            scrub_ip_addresses=dict(type="bool"),
            sensitive_fields=dict(type="list", elements="str", no_log=False),
            safe_fields=dict(type="list", elements="str"),
            store_crash_reports=dict(type="int"),
            relay_pii_config=dict(type="dict"),
            allowed_domains=dict(type="list", elements="str"),
            resolve_age=dict(type="int"),
            subject_prefix=dict(type="str"),
            state=dict(type="str", default="present", choices=["present", "absent"]),
        ),
        required_if=[("state", "present", ("team",))],
    )
    validate(module)
    client = SentryClient.from_module(module)
    path = client.path(URL_PROJECT, org=module.params["organization"], project=module.params["slug"])
    try:
        current = client.get(path, missing_ok=True)
        if module.params["state"] == "absent":
            result = absent(module, client, path, current)
        else:
            result = present(module, client, path, current)
    except SentryAPIError as err:
        fail(module, err)
    module.exit_json(**result)


def absent(module, client, path, current):
    if current is None:
        return dict(changed=False, project={}, changed_fields=[], msg="project does not exist")
    diff = dict(before={"slug": current.get("slug"), "name": current.get("name")}, after={})
    if not module.check_mode:
        client.delete(path)
    return dict(changed=True, project={}, changed_fields=[], diff=diff)


def present(module, client, path, current):
    p = module.params
    desired = camel_payload(p, FIELDS, PII_FIELDS)
    created = False
    if current is None:
        create = {"name": p["name"] or p["slug"], "slug": p["slug"], "default_rules": False}
        if p["platform"]:
            create["platform"] = p["platform"]
        if module.check_mode:
            after = dict(create)
            after.update({k: parse_pii(v) if k in PII_FIELDS else v for k, v in desired.items()})
            after.pop("default_rules")
            return dict(changed=True, project=after, changed_fields=sorted(desired), diff=dict(before={}, after=after))
        try:
            client.post(client.path(URL_TEAM_PROJECTS, org=p["organization"], team=p["team"]), create)
            created = True
        except SentryAPIError as err:
            if err.status != 409:
                raise
        current = client.get(path)

    linked = link_team(module, client, current)
    changed_fields = fields_differ(desired, current, SET_FIELDS, PII_FIELDS)
    changed, end, diff = update_settings(module, client, path, current, desired, SET_FIELDS, PII_FIELDS)
    if created:
        diff = dict(before={}, after=project(end, sorted(set(desired) | {"slug", "name"}), PII_FIELDS))
    elif linked:
        if diff is None:
            base = project(current, sorted(desired), PII_FIELDS)
            diff = dict(before=base, after=dict(base))
        have = sorted(t.get("slug") for t in teams_of(current))
        diff["before"]["teams"] = have
        diff["after"]["teams"] = sorted([*have, p["team"]])
        if not module.check_mode:
            end = client.get(path)
    return dict(changed=created or linked or changed, project=end, changed_fields=sorted(changed_fields), diff=diff)


def teams_of(current):
    teams = current.get("teams")
    if teams is None:  # older servers: a single "team" object
        teams = [current["team"]] if current.get("team") else []
    return teams


def link_team(module, client, current):
    """Link the project to the team when it is not (POST .../teams/{team}/)."""
    team = module.params["team"]
    if any(t.get("slug") == team for t in teams_of(current)):
        return False
    if not module.check_mode:
        client.post(
            client.path(URL_PROJECT_TEAM, org=module.params["organization"], project=current["slug"], team=team), None
        )
    return True


if __name__ == "__main__":
    main()
