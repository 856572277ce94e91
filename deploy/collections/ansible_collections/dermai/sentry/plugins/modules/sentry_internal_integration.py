#!/usr/bin/python
# Copyright: DermAI
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Manage a Sentry internal integration and its one API token (a CI credential)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: sentry_internal_integration
short_description: An internal integration (Sentry App) with fixed scopes and exactly one token, for CI
version_added: 1.1.0
description:
  - Finds the organization's internal integration named O(name)
    (C(GET /api/0/organizations/{organization}/sentry-apps/)), creates it with C(POST /api/0/sentry-apps/)
    (C(isInternal=true)) when missing and sets its scopes with C(PUT /api/0/sentry-apps/{slug}/) when they
    differ (Sentry updates the scopes of its tokens too).
  - Keeps exactly one token. When O(current_token) is one of the integration's tokens and O(rotate) is false,
    nothing changes and the token is not returned. Otherwise a new token is created
    (C(POST /api/0/sentry-apps/{slug}/api-tokens/)), returned once in RV(new_token), and every other token of
    the integration is deleted, so a rotated token stops working at once.
  - The token belongs to the integration's proxy user, not to a person, so it keeps working when the admin
    who ran this module leaves, and it carries only O(scopes).
  - Sentry 23.7.1 accepts a user auth token on the token endpoints. Later releases accept only a signed-in
    session there (C(SessionNoAuthTokenAuthentication)); the module then fails with a message saying so, or
    with O(require_token_api=false) returns RV(token_api=false) so that the token is managed on the Sentry
    host with Sentry's own code.
  - The token never appears in the module's output except in RV(new_token); run the task with C(no_log).
extends_documentation_fragment: [dermai.sentry.sentry, dermai.sentry.sentry.organization, dermai.sentry.sentry.state]
options:
  organization:
    description: Slug of the organization that owns (and installs) the integration.
  name:
    description: Name of the integration (unique in the Sentry installation; Sentry derives the slug from it).
    type: str
    required: true
  scopes:
    description:
      - Scopes of the integration and its token. For releases, commits, deploys and source maps
        C(project:releases) and C(org:read) are enough.
      - Each must be a Sentry scope, and the O(token) user must hold it.
    type: list
    elements: str
    default: [project:releases, org:read]
  current_token:
    description:
      - The integration token the caller holds (from its store), or an empty string. Kept when it is still one
        of the integration's tokens and O(rotate) is false.
    type: str
    default: ""
  rotate:
    description: Create a new token and delete every other one, even when O(current_token) is valid.
    type: bool
    default: false
  require_token_api:
    description:
      - When Sentry refuses token auth on the token endpoints (releases after 23.7.1), fail (V(true)) or return
        with RV(token_api=false) after ensuring the integration itself (V(false)), so the caller manages the
        token on the Sentry host with Sentry's own code (the sentry_config role does).
    type: bool
    default: true
  state:
    description: C(absent) deletes the integration and with it every token.
author:
  - DermAI infrastructure team (@dermai)
"""

EXAMPLES = r"""
- name: CI credential for releases and source maps
  dermai.sentry.sentry_internal_integration:
    url: https://sentry.dermai.example
    token: "{{ vault_sentry_api_token }}"
    organization: sentry
    name: DermAI CI releases
    scopes: [project:releases, org:read]
    current_token: "{{ stored_ci_token | default('') }}"
  register: ci_credential
  no_log: true
"""

RETURN = r"""
integration:
  description: The integration (name, slug, uuid, scopes, status); empty after deletion.
  returned: always
  type: dict
  sample: {"name": "DermAI CI releases", "slug": "dermai-ci-releases-1a2b3c", "scopes": ["org:read"]}
token_changed:
  description: A new token was issued (and every other token deleted).
  returned: always
  type: bool
new_token:
  description:
    - The new token, only when RV(token_changed) is true and not in check mode.
    - Store it; it is never returned again.
  returned: when a token was issued
  type: str
token_count:
  description: How many tokens the integration has after the run (1 when present; null when RV(token_api) is false).
  returned: always
  type: int
token_api:
  description: Sentry let the module manage the tokens with the API token (false only with O(require_token_api=false)).
  returned: always
  type: bool
"""

from ansible_collections.dermai.sentry.plugins.module_utils.sentry_api import URL_APP, URL_APPS, URL_ORG_APPS
from ansible_collections.dermai.sentry.plugins.module_utils.sentry_app_tokens import (
    MASKED,
    SessionOnly,
    create_token,
    delete_token,
    list_tokens,
    token_works,
)
from ansible_collections.dermai.sentry.plugins.module_utils.sentry_checks import SCOPES
from ansible_collections.dermai.sentry.plugins.module_utils.sentry_resource import ORGANIZATION, STATE, Resource

OPTIONS = dict(ORGANIZATION, name=dict(type="str", required=True), **STATE)
OPTIONS.update(scopes=dict(type="list", elements="str", default=["project:releases", "org:read"]))
OPTIONS.update(current_token=dict(type="str", default="", no_log=True), rotate=dict(type="bool", default=False))
OPTIONS.update(require_token_api=dict(type="bool", default=True))
DEFAULTS = dict(token_changed=False, token_count=0, token_api=True)
SUMMARY = ("name", "slug", "uuid", "status", "scopes", "author")  # what the result shows of the integration


class Integration(Resource):
    kind = "internal integration"
    key = "integration"
    options = OPTIONS
    identity = ("name", "scopes")
    set_fields = ("scopes",)
    defaults = DEFAULTS

    def validate(self):
        p, fail = self.params, self.module.fail_json
        unknown = sorted(set(p["scopes"]) - set(SCOPES))
        if unknown:
            fail(msg=f"scopes: unknown {unknown}; allowed: {', '.join(SCOPES)}")
        if p["state"] == "present" and not p["scopes"]:
            fail(msg="scopes must name at least one scope (project:releases and org:read for releases)")
        if not 1 <= len(p["name"].strip()) <= 57:
            fail(msg="name must be 1 to 57 characters long")

    def item_path(self, obj=None):
        return self.client.path(URL_APP, app=obj["slug"])

    def find(self):
        for app in self.client.get_all(self.client.path(URL_ORG_APPS, org=self.params["organization"])):
            if app.get("name") == self.params["name"] and app.get("status") == "internal":
                return app
        return None

    def desired(self, current):
        return {"name": self.params["name"], "scopes": sorted(set(self.params["scopes"]))}

    def view(self, obj, desired):
        return {"name": obj.get("name"), "scopes": sorted(obj.get("scopes") or [])}

    def create(self, desired):
        body = dict(desired, organization=self.params["organization"], isInternal=True, isAlertable=False)
        body.update(verifyInstall=False, events=[])
        return self.client.create_verified(self.client.path(URL_APPS), body, self.find)

    def update(self, current, desired, changed):
        return self.client.put(self.item_path(current), {"scopes": desired["scopes"]})

    def converge_more(self, obj, before, after):
        """Keep exactly one token: the caller's while it is valid and rotate is off, else a new one."""
        p = self.params
        self.extras.update(token_count=1)
        if "slug" not in obj:  # check mode, the integration would be created
            before["token"], after["token"] = "(none)", "(new token)"
            self.extras.update(token_changed=True)
            return True, obj
        try:
            tokens = list_tokens(self.client, obj["slug"])
        except SessionOnly:
            if p["require_token_api"]:
                raise
            self.extras.update(token_api=False, token_count=None)
            return False, obj
        held = p["current_token"]
        known = [t for t in tokens if held and t.get("token") == held]
        masked = [t for t in tokens if t.get("token") in (None, MASKED)]
        # Masked list (later releases): prove the token by using it (it answers for its own organization).
        if not known and held and masked and token_works(self.client, p["organization"], held):
            known = masked[:1]
        keep = None if p["rotate"] or not known else known[0]
        extra = [t for t in tokens if keep is None or t.get("id") != keep.get("id")]
        self.extras.update(token_changed=keep is None)
        if keep is not None and not extra:
            return False, obj
        before["token"] = "(current)" if keep is not None else ("(none)" if not tokens else "(replaced)")
        after["token"] = "(current)" if keep is not None else "(new token)"
        if not self.check:
            if keep is None:
                created = create_token(self.client, obj["slug"])
                if not (created or {}).get("token") or created["token"] == MASKED:
                    self.module.fail_json(
                        msg=f"Sentry created a token for {obj['slug']} but did not return it (masked)"
                    )
                self.extras["new_token"] = created["token"]
                extra = [t for t in extra if t.get("id") != created.get("id")]
            for tok in extra:
                delete_token(self.client, obj["slug"], tok)
        return True, obj

    def outputs(self, obj):
        return {self.key: {k: obj.get(k) for k in SUMMARY} if obj else {}}

    def scrub(self, err):
        """23.7.1 deletes tokens by value (the value is in the URL): never let it reach a message."""
        secret = self.params["current_token"]
        if secret:
            err.args = (str(err).replace(secret, MASKED),)
            err.path = (err.path or "").replace(secret, MASKED)
        return err


def main():
    Integration.main()


if __name__ == "__main__":
    main()
