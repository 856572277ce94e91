#!/usr/bin/python
# Copyright: DermAI
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Manage a Sentry client key (DSN)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: sentry_key
short_description: Manage a client key (DSN) of a Sentry project
version_added: 1.0.0
description:
  - Lists the project's keys (C(GET /api/0/projects/{organization}/{project}/keys/), every page) and picks the key
    whose name is O(name). Keys are identified by name only; the name must be our own, never C(Default).
    Sentry lists keys newest first; when several keys share the name the oldest one is managed.
  - When no key has that name and O(adopt_default=true), the key Sentry created with the project (named C(Default))
    is renamed to O(name) and managed from then on, so the project keeps a single DSN. Otherwise a new key is created.
  - Name, active flag and rate limit are compared with the server and only a differing key is updated with C(PUT).
  - Returns the public DSN. The secret part of the key is masked in every output.
extends_documentation_fragment:
  - dermai.sentry.sentry
  - dermai.sentry.sentry.attributes
options:
  organization:
    description: Slug of the organization.
    type: str
    required: true
  project:
    description: Slug of the project.
    type: str
    required: true
  name:
    description: Name of the key, our own identifier (at most 64 characters, not C(Default)).
    type: str
    required: true
  rate_limit:
    description:
      - Maximum number of events the key accepts per O(rate_limit.window) seconds.
      - Omit (or V(null)) for no limit; an existing limit is then removed.
    type: dict
    suboptions:
      window:
        description: Window in seconds, 1 to 86400.
        type: int
        required: true
      count:
        description: Events per window, a positive integer.
        type: int
        required: true
  active:
    description: Whether the key accepts events.
    type: bool
    default: true
  adopt_default:
    description:
      - When no key is named O(name), rename the auto-created C(Default) key instead of creating a second key.
    type: bool
    default: false
  state:
    description: Whether the key should exist. V(absent) revokes it (events sent with its DSN are rejected).
    type: str
    choices: [present, absent]
    default: present
author:
  - DermAI infrastructure team (@dermai)
"""

EXAMPLES = r"""
- name: DSN of the backend, adopting the key Sentry created with the project
  dermai.sentry.sentry_key:
    url: https://sentry.dermai.example
    token: "{{ vault_sentry_api_token }}"
    organization: sentry
    project: dermai-api
    name: dermai-api-production
    adopt_default: true
    rate_limit:
      window: 60
      count: 1000
  register: backend_key

- name: Use the public DSN
  ansible.builtin.debug:
    msg: "{{ backend_key.dsn }}"
"""

RETURN = r"""
dsn:
  description: The public DSN of the key (what SDKs need). Null in check mode when the key would be created.
  returned: when state is present
  type: str
  sample: https://0123456789abcdef0123456789abcdef@sentry.dermai.example/2
key:
  description: The key as Sentry returns it, with C(secret) and C(dsn.secret) masked.
  returned: always
  type: dict
  sample: {"id": "0123456789abcdef0123456789abcdef", "name": "dermai-api-production", "isActive": true,
           "rateLimit": {"window": 60, "count": 1000}, "secret": "********"}
adopted:
  description: Whether the auto-created C(Default) key was renamed in this run.
  returned: always
  type: bool
"""

from ansible_collections.dermai.sentry.plugins.module_utils.sentry_api import (
    MASK,
    URL_KEY,
    URL_KEYS,
    build_module,
    execute,
)

DEFAULT_NAME = "Default"
MAX_WINDOW = 86400


def validate(module):
    p = module.params
    if not p["name"] or len(p["name"]) > 64:
        module.fail_json(msg="name must be 1 to 64 characters long")
    if p["name"].strip().lower() == DEFAULT_NAME.lower():
        module.fail_json(
            msg="name must be our own key name, not 'Default' (the auto-created key); "
            "use adopt_default: true to rename and manage that key"
        )
    rate = p["rate_limit"]
    if rate is not None:
        if not 1 <= rate["window"] <= MAX_WINDOW:
            module.fail_json(msg=f"rate_limit.window is {rate['window']}; allowed: 1 to {MAX_WINDOW} seconds")
        if rate["count"] < 1:
            module.fail_json(msg=f"rate_limit.count is {rate['count']}; allowed: a positive integer")


def rate_of(key):
    """Normalised rate limit: None when unset (null, or zero/empty parts)."""
    rate = (key or {}).get("rateLimit")
    if not rate or not rate.get("window") or not rate.get("count"):
        return None
    return {"window": int(rate["window"]), "count": int(rate["count"])}


def oldest_first(keys):
    """Keys sorted by creation time (ties: by public key), whatever order the server lists them in."""
    return sorted(keys, key=lambda k: (str(k.get("dateCreated") or ""), str(k.get("id") or "")))


def state_of(key):
    return {"name": key.get("name"), "isActive": bool(key.get("isActive", True)), "rateLimit": rate_of(key)}


def masked(key):
    if not key:
        return {}
    out = dict(key)
    if "secret" in out:
        out["secret"] = MASK
    if isinstance(out.get("dsn"), dict):
        out["dsn"] = {k: (MASK if k == "secret" else v) for k, v in out["dsn"].items()}
    return out


def public_dsn(key):
    dsn = (key or {}).get("dsn")
    return dsn.get("public") if isinstance(dsn, dict) else None


def main():
    module = build_module(
        dict(
            organization=dict(type="str", required=True),
            project=dict(type="str", required=True),
            name=dict(type="str", required=True),
            rate_limit=dict(
                type="dict", options=dict(window=dict(type="int", required=True), count=dict(type="int", required=True))
            ),
            active=dict(type="bool", default=True),
            adopt_default=dict(type="bool", default=False),
            state=dict(type="str", default="present", choices=["present", "absent"]),
        )
    )
    validate(module)
    execute(module, converge)


def converge(module, client):
    p = module.params
    org, proj = p["organization"], p["project"]
    # Sentry lists keys newest first (order_by -id); never rely on the position in the list.
    keys = oldest_first(client.get_all(client.path(URL_KEYS, org=org, project=proj)))
    named = [k for k in keys if k.get("name") == p["name"]]
    if len(named) > 1:
        module.warn(f"{len(named)} keys are named {p['name']!r}; managing the oldest one ({named[0].get('id')})")
    current = named[0] if named else None

    if p["state"] == "absent":
        if current is None:
            return dict(changed=False, key={}, adopted=False, msg="key does not exist")
        if not module.check_mode:
            client.delete(client.path(URL_KEY, org=org, project=proj, key=current["id"]))
        return dict(changed=True, key={}, adopted=False, diff=dict(before=state_of(current), after={}))

    adopted = False
    if current is None and p["adopt_default"]:
        defaults = [k for k in keys if k.get("name") == DEFAULT_NAME]
        if defaults:
            current = defaults[0]
            adopted = True

    desired = {"name": p["name"], "isActive": p["active"], "rateLimit": p["rate_limit"]}
    if current is not None and state_of(current) == desired:
        return dict(changed=False, key=masked(current), dsn=public_dsn(current), adopted=False)

    diff = dict(before=state_of(current) if current else {}, after=desired)
    if module.check_mode:
        planned = dict(current or {}, **desired)
        return dict(changed=True, key=masked(planned), dsn=public_dsn(current), adopted=adopted, diff=diff)

    if current is None:
        body = {"name": p["name"]}
        if p["rate_limit"]:
            body["rateLimit"] = p["rate_limit"]
        keys_path = client.path(URL_KEYS, org=org, project=proj)
        current = client.create_verified(
            keys_path, body, lambda: next((k for k in client.get_all(keys_path) if k.get("name") == p["name"]), None)
        )
        if state_of(current) == desired:
            return dict(changed=True, key=masked(current), dsn=public_dsn(current), adopted=False, diff=diff)
    path = client.path(URL_KEY, org=org, project=proj, key=current["id"])
    client.put(path, desired)
    end = client.get(path)
    if state_of(end) != desired:
        module.fail_json(
            msg=f"Sentry accepted the update of key {p['name']!r} but stores {state_of(end)} instead of {desired} "
            "(is the projects:rate-limits feature disabled?)",
            key=masked(end),
        )
    return dict(changed=True, key=masked(end), dsn=public_dsn(end), adopted=adopted, diff=diff)


if __name__ == "__main__":
    main()
