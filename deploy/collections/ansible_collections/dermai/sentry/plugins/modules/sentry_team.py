#!/usr/bin/python
# Copyright: DermAI
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Manage a Sentry team."""

from __future__ import annotations

DOCUMENTATION = r"""
module: sentry_team
short_description: Create, rename or delete a Sentry team
version_added: 1.0.0
description:
  - Looks the team up with C(GET /api/0/teams/{organization}/{slug}/); creates it with
    C(POST /api/0/organizations/{organization}/teams/) when missing (HTTP 409 from a concurrent creation is treated
    as "already exists" and the module converges on the existing team), renames it with C(PUT) when O(name) differs,
    deletes it with C(DELETE) for O(state=absent).
extends_documentation_fragment:
  - dermai.sentry.sentry
  - dermai.sentry.sentry.attributes
options:
  organization:
    description: Slug of the organization.
    type: str
    required: true
  slug:
    description: Slug of the team (lower-case letters, digits, C(_) and C(-), at most 50 characters).
    type: str
    required: true
  name:
    description: Display name. Defaults to O(slug) when the team is created; left alone on an existing team when unset.
    type: str
  state:
    description: Whether the team should exist. Deleting a team does not delete its projects.
    type: str
    choices: [present, absent]
    default: present
author:
  - DermAI infrastructure team (@dermai)
"""

EXAMPLES = r"""
- name: The DermAI team
  dermai.sentry.sentry_team:
    url: https://sentry.dermai.example
    token: "{{ vault_sentry_api_token }}"
    organization: sentry
    slug: dermai
    name: DermAI
"""

RETURN = r"""
team:
  description: The team as Sentry returns it (empty dict after deletion or when absent).
  returned: always
  type: dict
  sample: {"id": "2", "slug": "dermai", "name": "DermAI"}
"""

import re

from ansible_collections.dermai.sentry.plugins.module_utils.sentry_api import (
    URL_ORG_TEAMS,
    URL_TEAM,
    SentryAPIError,
    build_module,
    execute,
)

SLUG_RE = re.compile(r"^[a-z0-9_-]{1,50}$")


def main():
    module = build_module(
        dict(
            organization=dict(type="str", required=True),
            slug=dict(type="str", required=True),
            name=dict(type="str"),
            state=dict(type="str", default="present", choices=["present", "absent"]),
        )
    )
    p = module.params
    if not SLUG_RE.match(p["slug"]) or p["slug"].isdigit():
        module.fail_json(
            msg=f"slug {p['slug']!r} is not a valid team slug: use 1-50 lower-case letters, digits, '_' or '-' "
            "(not only digits)"
        )
    if p["name"] is not None and not 1 <= len(p["name"]) <= 64:
        module.fail_json(msg="name must be 1 to 64 characters long")

    execute(module, converge)


def converge(module, client):
    path = client.path(URL_TEAM, org=module.params["organization"], team=module.params["slug"])
    current = client.get(path, missing_ok=True)
    p = module.params
    if p["state"] == "absent":
        if current is None:
            return dict(changed=False, team={}, msg="team does not exist")
        diff = dict(before={"slug": current.get("slug"), "name": current.get("name")}, after={})
        if not module.check_mode:
            client.delete(path)
        return dict(changed=True, team={}, diff=diff)

    name = p["name"] if p["name"] is not None else (current or {}).get("name") or p["slug"]
    before = {} if current is None else {"slug": current.get("slug"), "name": current.get("name")}
    after = {"slug": p["slug"], "name": name}
    if before == after:
        return dict(changed=False, team=current)
    diff = dict(before=before, after=after)
    if module.check_mode:
        return dict(changed=True, team=dict(current or {}, **after), diff=diff)
    if current is None:
        try:
            client.post(client.path(URL_ORG_TEAMS, org=p["organization"]), {"slug": p["slug"], "name": name})
        except SentryAPIError as err:
            if err.status != 409:
                raise
            # Created meanwhile (or by an earlier interrupted run): converge on it.
            current = client.get(path)
            if current.get("name") == name:
                return dict(changed=False, team=current)
    if current is not None and current.get("name") != name:
        client.put(path, {"name": name})
    return dict(changed=True, team=client.get(path), diff=diff)


if __name__ == "__main__":
    main()
