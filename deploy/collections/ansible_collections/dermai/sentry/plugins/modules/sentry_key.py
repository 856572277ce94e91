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
extends_documentation_fragment: [dermai.sentry.sentry, dermai.sentry.sentry.organization,
  dermai.sentry.sentry.project, dermai.sentry.sentry.state]
options:
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

from ansible_collections.dermai.sentry.plugins.module_utils.sentry_api import MASK, URL_KEY, URL_KEYS
from ansible_collections.dermai.sentry.plugins.module_utils.sentry_resource import (
    ORGANIZATION,
    PROJECT,
    STATE,
    Resource,
    managed_of,
)

DEFAULT_NAME = "Default"
MAX_WINDOW = 86400
RATE = dict(window=dict(type="int", required=True), count=dict(type="int", required=True))


def rate_of(key):
    """Normalised rate limit: None when unset (null, or zero/empty parts)."""
    rate = (key or {}).get("rateLimit")
    if not rate or not rate.get("window") or not rate.get("count"):
        return None
    return {"window": int(rate["window"]), "count": int(rate["count"])}


def by_creation(keys):
    """Keys sorted by creation time (ties: by public key), whatever order the server lists them in."""
    return sorted(keys, key=lambda k: (str(k.get("dateCreated") or ""), str(k.get("id") or "")))


def masked(key):
    out = dict(key or {})
    if "secret" in out:
        out["secret"] = MASK
    if isinstance(out.get("dsn"), dict):
        out["dsn"] = {k: (MASK if k == "secret" else v) for k, v in out["dsn"].items()}
    return out


OPTIONS = dict(ORGANIZATION, **PROJECT, **STATE)
OPTIONS.update(name=dict(type="str", required=True), rate_limit=dict(type="dict", options=RATE))
OPTIONS.update(active=dict(type="bool", default=True), adopt_default=dict(type="bool", default=False))
DEFAULTS = {"adopted": False}


class Key(Resource):
    kind = key = "key"
    options = OPTIONS
    defaults = DEFAULTS

    def validate(self):
        p, fail = self.params, self.module.fail_json
        if not p["name"] or len(p["name"]) > 64:
            fail(msg="name must be 1 to 64 characters long")
        if p["name"].strip().lower() == DEFAULT_NAME.lower():
            fail(
                msg="name must be our own key name, not 'Default' (the auto-created key); "
                "use adopt_default: true to rename and manage that key"
            )
        rate = p["rate_limit"]
        if rate is not None and not 1 <= rate["window"] <= MAX_WINDOW:
            fail(msg=f"rate_limit.window is {rate['window']}; allowed: 1 to {MAX_WINDOW} seconds")
        if rate is not None and rate["count"] < 1:
            fail(msg=f"rate_limit.count is {rate['count']}; allowed: a positive integer")

    def list_path(self):
        return self.client.path(URL_KEYS, org=self.params["organization"], project=self.params["project"])

    def item_path(self, obj=None):
        p = self.params
        return self.client.path(URL_KEY, org=p["organization"], project=p["project"], key=obj["id"])

    def named(self, name, keys=None):
        # Sentry lists keys newest first (order_by -id); never rely on the position in the list.
        keys = self.client.get_all(self.list_path()) if keys is None else keys
        return [k for k in by_creation(keys) if k.get("name") == name]

    def find(self):
        keys = self.client.get_all(self.list_path())
        current = managed_of(self.module, self.kind, self.params["name"], self.named(self.params["name"], keys))
        if current is None and self.params["adopt_default"] and self.params["state"] == "present":
            current = next(iter(self.named(DEFAULT_NAME, keys)), None)
            self.extras["adopted"] = current is not None
        return current

    def desired(self, current):
        p = self.params
        return {"name": p["name"], "isActive": p["active"], "rateLimit": p["rate_limit"]}

    def view(self, obj, desired):
        return {"name": obj.get("name"), "isActive": bool(obj.get("isActive", True)), "rateLimit": rate_of(obj)}

    def compare(self, desired, current):
        have = self.view(current, desired)
        return sorted(f for f, want in desired.items() if have[f] != want)

    def create(self, desired):
        body = {k: v for k, v in desired.items() if k != "isActive" and v is not None}
        return self.client.create_verified(
            self.list_path(), body, lambda: next(iter(self.named(desired["name"])), None)
        )

    def update_body(self, desired, changed):
        return desired

    def not_stored(self, path, fields, end):
        return (
            f"Sentry accepted the update of key {self.params['name']!r} but stores {self.view(end, {})} instead of "
            f"{self.desired(end)} (is the projects:rate-limits feature disabled?)"
        )

    def outputs(self, obj):
        out = {"key": masked(obj)}
        if self.params["state"] == "present":
            dsn = (obj or {}).get("dsn")
            out["dsn"] = dsn.get("public") if isinstance(dsn, dict) else None
        return out


def main():
    Key.main()


if __name__ == "__main__":
    main()
