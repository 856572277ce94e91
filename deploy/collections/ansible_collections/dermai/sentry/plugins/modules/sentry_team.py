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
extends_documentation_fragment: [dermai.sentry.sentry, dermai.sentry.sentry.organization, dermai.sentry.sentry.state]
options:
  slug:
    description: Slug of the team (lower-case letters, digits, C(_) and C(-), at most 50 characters).
    type: str
    required: true
  name:
    description: Display name. Defaults to O(slug) when the team is created; left alone on an existing team when unset.
    type: str
  state:
    description: Whether the team should exist. Deleting a team does not delete its projects.
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

from ansible_collections.dermai.sentry.plugins.module_utils.sentry_api import URL_ORG_TEAMS, URL_TEAM, SentryAPIError
from ansible_collections.dermai.sentry.plugins.module_utils.sentry_resource import ORGANIZATION, STATE, Resource

SLUG_RE = re.compile(r"^[a-z0-9_-]{1,50}$")


OPTIONS = dict(ORGANIZATION, slug=dict(type="str", required=True), name=dict(type="str"), **STATE)


class Team(Resource):
    kind = key = "team"
    options = OPTIONS
    identity = ("slug", "name")

    def validate(self):
        p = self.params
        if not SLUG_RE.match(p["slug"]) or p["slug"].isdigit():
            self.module.fail_json(
                msg=f"slug {p['slug']!r} is not a valid team slug: use 1-50 lower-case letters, digits, '_' or '-' "
                "(not only digits)"
            )
        if p["name"] is not None and not 1 <= len(p["name"]) <= 64:
            self.module.fail_json(msg="name must be 1 to 64 characters long")

    def item_path(self, obj=None):
        return self.client.path(URL_TEAM, org=self.params["organization"], team=self.params["slug"])

    def find(self):
        return self.client.get(self.item_path(), missing_ok=True)

    def desired(self, current):
        p = self.params
        return {
            "slug": p["slug"],
            "name": p["name"] if p["name"] is not None else (current or {}).get("name") or p["slug"],
        }

    def create(self, desired):
        try:
            self.client.post(self.client.path(URL_ORG_TEAMS, org=self.params["organization"]), desired)
        except SentryAPIError as err:
            if err.status != 409:
                raise
            return None  # created meanwhile (or by an earlier interrupted run): converge on it
        return self.client.get(self.item_path())

    def update_body(self, desired, changed):
        return {"name": desired["name"]}


def main():
    Team.main()


if __name__ == "__main__":
    main()
