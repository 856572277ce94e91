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
extends_documentation_fragment:
  - dermai.sentry.sentry
  - dermai.sentry.sentry.attributes
options:
  organization:
    description: Slug of the organization that owns (and installs) the integration.
    type: str
    required: true
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
    type: str
    choices: [present, absent]
    default: present
author:
  - DermAI infrastructure team
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

from ansible_collections.dermai.sentry.plugins.module_utils.sentry_api import (
    SentryAPIError,
    SentryClient,
    build_module,
    fail,
)

URL_APPS = "sentry-apps/"
URL_APP = "sentry-apps/{app}/"
URL_APP_TOKENS = "sentry-apps/{app}/api-tokens/"
URL_APP_TOKEN = "sentry-apps/{app}/api-tokens/{token}/"  # noqa: S105 - a URL template
URL_ORG_APPS = "organizations/{org}/sentry-apps/"
MASKED = "*" * 64
SCOPES = (
    "org:read",
    "org:write",
    "org:admin",
    "org:integrations",
    "org:ci",
    "member:invite",
    "member:read",
    "member:write",
    "member:admin",
    "team:read",
    "team:write",
    "team:admin",
    "project:read",
    "project:write",
    "project:admin",
    "project:releases",
    "project:distribution",
    "event:read",
    "event:write",
    "event:admin",
    "alerts:read",
    "alerts:write",
)
SESSION_ONLY = (
    "Sentry refused to manage the tokens of internal integration {slug} with an API token (HTTP {status}): "
    "this Sentry release accepts only a signed-in session on /api/0/sentry-apps/{{slug}}/api-tokens/. "
    "Create the token on the Sentry host with Sentry's own code, or in the UI (Settings > Custom Integrations)."
)


def main():
    module = build_module(
        dict(
            organization=dict(type="str", required=True),
            name=dict(type="str", required=True),
            scopes=dict(type="list", elements="str", default=["project:releases", "org:read"]),
            current_token=dict(type="str", default="", no_log=True),
            rotate=dict(type="bool", default=False),
            require_token_api=dict(type="bool", default=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
        )
    )
    p = module.params
    unknown = sorted(set(p["scopes"]) - set(SCOPES))
    if unknown:
        module.fail_json(msg=f"scopes: unknown {unknown}; allowed: {', '.join(SCOPES)}")
    if p["state"] == "present" and not p["scopes"]:
        module.fail_json(msg="scopes must name at least one scope (project:releases and org:read for releases)")
    if not 1 <= len(p["name"].strip()) <= 57:
        module.fail_json(msg="name must be 1 to 57 characters long")

    client = SentryClient.from_module(module)
    try:
        result = converge(module, client)
    except SentryAPIError as err:
        fail(module, _masked(err, p["current_token"]))
    module.exit_json(**result)


def _masked(err, *secrets):
    """23.7.1 deletes tokens by value (the value is in the URL): never let it reach a message."""
    text = str(err)
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASKED)
    err.args = (text,)
    if err.path:
        for secret in secrets:
            if secret:
                err.path = err.path.replace(secret, MASKED)
    return err


def _summary(app):
    if not app:
        return {}
    return {k: app.get(k) for k in ("name", "slug", "uuid", "status", "scopes", "author")}


def find(client, org, name):
    for app in client.get_all(client.path(URL_ORG_APPS, org=org)):
        if app.get("name") == name and app.get("status") == "internal":
            return app
    return None


def converge(module, client):
    p = module.params
    org, name = p["organization"], p["name"]
    current = find(client, org, name)

    if p["state"] == "absent":
        if current is None:
            return dict(changed=False, integration={}, token_changed=False, token_count=0, token_api=True)
        if not module.check_mode:
            client.delete(client.path(URL_APP, app=current["slug"]))
        return dict(
            changed=True,
            integration={},
            token_changed=False,
            token_count=0,
            token_api=True,
            diff=dict(before={"name": name, "scopes": sorted(current.get("scopes") or [])}, after={}),
        )

    want_scopes = sorted(set(p["scopes"]))
    before = {} if current is None else {"name": name, "scopes": sorted(current.get("scopes") or [])}
    after = {"name": name, "scopes": want_scopes}
    changed = False
    if current is None:
        changed = True
        if module.check_mode:
            before["token"], after["token"] = "(none)", "(new token)"
            return dict(
                changed=True,
                integration=after,
                token_changed=True,
                token_count=1,
                token_api=True,
                diff=dict(before=before, after=after),
            )
        body = {
            "name": name,
            "organization": org,
            "isInternal": True,
            "isAlertable": False,
            "verifyInstall": False,
            "scopes": want_scopes,
            "events": [],
        }
        current = client.create_verified(client.path(URL_APPS), body, lambda: find(client, org, name))
    elif sorted(current.get("scopes") or []) != want_scopes:
        changed = True
        if not module.check_mode:
            current = client.put(client.path(URL_APP, app=current["slug"]), {"scopes": want_scopes})
        else:
            current = dict(current, scopes=want_scopes)

    slug = current["slug"]
    try:
        tokens = list_tokens(client, slug)
    except SessionOnly:
        if p["require_token_api"]:
            raise
        out = dict(changed=changed, integration=_summary(current), token_api=False, token_changed=False)
        out["token_count"] = None
        if changed:
            out["diff"] = dict(before=before, after=after)
        return out
    known = [t for t in tokens if p["current_token"] and t.get("token") == p["current_token"]]
    masked = any(t.get("token") in (None, MASKED) for t in tokens)
    # Masked list (later releases): prove the token by using it (it answers for its own organization).
    if not known and p["current_token"] and masked and token_works(module, client, org, p["current_token"]):
        known = [t for t in tokens if t.get("token") in (None, MASKED)][:1]
    keep = None if p["rotate"] or not known else known[0]
    token_changed = keep is None
    extra = [t for t in tokens if keep is None or t.get("id") != keep.get("id")]
    result = dict(token_changed=token_changed, token_count=1, token_api=True)
    if token_changed or extra:
        changed = True
        before["token"] = "(current)" if keep is not None else ("(none)" if not tokens else "(replaced)")
        after["token"] = "(current)" if keep is not None else "(new token)"
        if not module.check_mode:
            if token_changed:
                created = client.request("POST", client.path(URL_APP_TOKENS, app=slug), body={})[1] or {}
                if not created.get("token") or created["token"] == MASKED:
                    module.fail_json(msg=f"Sentry created a token for {slug} but did not return it (masked)")
                result["new_token"] = created["token"]
                extra = [t for t in extra if t.get("id") != created.get("id")]
            for tok in extra:
                delete_token(client, slug, tok)
    integration = _summary(current)
    out = dict(changed=changed, integration=integration, **result)
    if changed:
        out["diff"] = dict(before=before, after=after)
    return out


class SessionOnly(SentryAPIError):
    """Sentry accepts only a signed-in session on the integration's token endpoints."""


def list_tokens(client, slug):
    try:
        return client.get(client.path(URL_APP_TOKENS, app=slug)) or []
    except SentryAPIError as err:
        if err.status in (401, 403):
            raise SessionOnly(err.method, err.path, None, SESSION_ONLY.format(slug=slug, status=err.status)) from None
        raise


def delete_token(client, slug, tok):
    """Sentry 23.7.1 takes the token value in the URL, later releases the token id: try the id first."""
    if client.delete(client.path(URL_APP_TOKEN, app=slug, token=tok["id"]), missing_ok=True):
        return
    value = tok.get("token")
    if value and value != MASKED:
        client.delete(client.path(URL_APP_TOKEN, app=slug, token=value), missing_ok=True)


def token_works(module, client, org, token):
    probe = SentryClient(
        client.base,
        token,
        validate_certs=client.validate_certs,
        ca_path=client.ca_path,
        timeout=client.timeout,
        retries=0,
    )
    try:
        probe.get(probe.path("organizations/{org}/", org=org))
    except SentryAPIError:
        return False
    return True


if __name__ == "__main__":
    main()
