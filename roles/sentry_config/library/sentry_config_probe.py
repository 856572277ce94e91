#!/usr/bin/python
# Copyright: DermAI
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read-only checks of the Sentry server before the sentry_config role writes anything."""

from __future__ import annotations

DOCUMENTATION = r"""
module: sentry_config_probe
short_description: Check that Sentry can take the configuration, with GET requests only
description:
  - Sends a handful of GET requests (never a write, never a retry) before the sentry_config role
    changes anything, and fails with the variable to change when
    the server does not answer (the message holds the URL), the token is rejected or lacks a scope
    the role needs, the organization does not exist, metric alerts are managed but the server cannot
    hold them, or an alert names an environment Sentry has not got and nothing will create it.
options:
  url:
    description: Base URL of Sentry.
    type: str
    required: true
  token:
    description: API token (or use O(token_file)).
    type: str
  token_file:
    description: File holding the token on the host the module runs on.
    type: path
  validate_certs:
    description: Verify the TLS certificate.
    type: bool
    default: true
  ca_path:
    description: CA bundle to verify the certificate with.
    type: path
  timeout:
    description: Seconds to wait for each response.
    type: int
    default: 10
  organization:
    description: Organization slug.
    type: str
    required: true
  metric_alerts:
    description: Metric alerts will be managed; check that the server has them.
    type: bool
    default: false
  environments:
    description: Environment names alerts are scoped to.
    type: list
    elements: str
    default: []
  projects:
    description:
      - Slugs of the managed projects (informative; the environments of every project of the
        organization count, as Sentry checks them per organization).
    type: list
    elements: str
    default: []
  create_environments:
    description: The role will create missing environments (a Sentry host is managed); do not fail on them.
    type: bool
    default: false
author: DermAI
"""

EXAMPLES = r"""
- name: Check the Sentry server before any write
  sentry_config_probe:
    url: https://sentry.dermai.example
    token_file: /etc/sentry-bundle/api-token
    organization: sentry
    metric_alerts: true
"""

RETURN = r"""
workflow_engine:
  description: Whether Sentry runs its workflow engine (workflows/ answers 200; 404 before 26.7.0); null if unsure.
  returned: success
  type: bool
scopes:
  description: Scopes of the token as Sentry reports them (empty when it does not say).
  returned: success
  type: list
  elements: str
sentry_unreachable:
  description: True when the failure is that Sentry did not answer (the role's check mode then stops predicting).
  returned: failure
  type: bool
missing_environments:
  description: Alert environments Sentry has not got yet (created by the role's environments task).
  returned: success
  type: list
  elements: str
"""

import json
from urllib.parse import quote

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible.module_utils.urls import open_url
from ansible_collections.dermai.sentry.plugins.module_utils.sentry_api import first_line

# Scopes the role's writes need, each satisfied by any one of the listed scopes (Sentry's endpoint
# permission classes: OrganizationPermission, TeamPermission, ProjectPermission, ProjectAlertRulePermission,
# OrganizationAlertRulePermission).
NEEDED = (
    ("organization privacy settings (PUT organizations/{org}/)", ("org:write", "org:admin")),
    ("team (POST organizations/{org}/teams/)", ("team:write", "team:admin", "org:write", "org:admin")),
    (
        "projects and keys (POST teams/{org}/{team}/projects/, projects/{org}/{p}/keys/)",
        ("project:write", "project:admin"),
    ),
    ("issue alerts (POST projects/{org}/{p}/rules/)", ("alerts:write", "project:write", "project:admin")),
)
METRIC_NEEDED = ("metric alerts (POST organizations/{org}/alert-rules/)", ("alerts:write", "org:write", "org:admin"))


class Probe:
    def __init__(self, module, token):
        self.module = module
        self.base = module.params["url"].rstrip("/")
        self.token = token

    def get(self, path):
        """(status, body) of one GET; fails the module at once when the server does not answer."""
        url = f"{self.base}/api/0/{path}"
        p = self.module.params
        try:
            resp = open_url(
                url,
                method="GET",
                headers={"Authorization": f"Bearer {self.token}", "Accept": "application/json"},
                validate_certs=p["validate_certs"],
                ca_path=p["ca_path"],
                timeout=p["timeout"],
                http_agent="dermai.sentry-config-probe",
            )
            status, raw = resp.getcode(), resp.read()
        except HTTPError as err:
            status = err.code
            try:
                raw = err.read()
            except Exception:
                raw = b""
        except (TimeoutError, URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            self.module.fail_json(
                msg=f"Sentry does not answer at {url}: {reason}. Check sentry_config_url (inventories/standalone: "
                "SENTRY_URL) and that Sentry runs; nothing was changed.",
                url=url,
                sentry_unreachable=True,
            )
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            body = None
        return status, body


def main():
    module = AnsibleModule(
        argument_spec=dict(
            url=dict(type="str", required=True),
            token=dict(type="str", no_log=True),
            token_file=dict(type="path"),
            validate_certs=dict(type="bool", default=True),
            ca_path=dict(type="path"),
            timeout=dict(type="int", default=10),
            organization=dict(type="str", required=True),
            metric_alerts=dict(type="bool", default=False),
            environments=dict(type="list", elements="str", default=[]),
            projects=dict(type="list", elements="str", default=[]),
            create_environments=dict(type="bool", default=False),
        ),
        required_one_of=[("token", "token_file")],
        mutually_exclusive=[("token", "token_file")],
        supports_check_mode=True,
    )
    p = module.params
    token = p["token"]
    if token is None:
        try:
            token = first_line(p["token_file"])
        except OSError as err:
            module.fail_json(msg=f"cannot read the API token file {p['token_file']}: {err.strerror}")
    if not token:
        module.fail_json(
            msg=f"The API token is empty: {p['token_file']} holds nothing. Write a Sentry user auth token there or "
            "set sentry_config_api_token (vault)."
        )
    module.no_log_values.add(token)
    probe = Probe(module, token)
    org = p["organization"]

    status, index = probe.get("")
    if status == 401:
        module.fail_json(
            msg=f"Sentry at {probe.base} rejected the API token (HTTP 401): check sentry_config_api_token / "
            "the token file"
        )
    if status != 200:
        module.fail_json(
            msg=f"Sentry at {probe.base}/api/0/ answered HTTP {status}; is sentry_config_url the Sentry base URL?"
        )
    auth = (index or {}).get("auth") if isinstance(index, dict) else None
    scopes = sorted((auth or {}).get("scopes") or [])
    if auth and scopes:
        needed = list(NEEDED) + ([METRIC_NEEDED] if p["metric_alerts"] else [])
        lacking = [f"{what}: one of {', '.join(any_of)}" for what, any_of in needed if not set(any_of) & set(scopes)]
        if lacking:
            module.fail_json(
                msg="The API token lacks scopes the role needs (nothing was changed): "
                + "; ".join(lacking)
                + f". The token has: {', '.join(scopes)}. Create a token with org:admin, team:write, project:admin "
                "and alerts:write.",
                scopes=scopes,
            )

    status, _body = probe.get(f"organizations/{quote(org, safe='')}/")
    if status in (403, 404):
        _s, orgs = probe.get("organizations/")
        known = sorted(o.get("slug") for o in orgs if isinstance(o, dict)) if isinstance(orgs, list) else []
        module.fail_json(
            msg=f"The organization {org!r} does not exist on {probe.base} or the token's user is not a member (HTTP "
            f"{status}). Set sentry_config_organization_slug (inventories/standalone: SENTRY_ORG) to one of: "
            f"{', '.join(known) or '(none visible to this token)'}. Nothing was changed.",
            organizations=known,
        )
    if status != 200:
        module.fail_json(
            msg=f"GET {probe.base}/api/0/organizations/{org}/ answered HTTP {status}; nothing was changed."
        )

    if p["metric_alerts"]:
        status, _body = probe.get(f"organizations/{quote(org, safe='')}/alert-rules/?per_page=1")
        if status != 200:
            module.fail_json(
                msg=f"This Sentry cannot hold metric alerts: GET {probe.base}/api/0/organizations/{org}/alert-rules/ "
                f"answered HTTP {status} (no Snuba or the incidents feature is off, e.g. a bare `sentry run web`). "
                "Set sentry_config_metric_alerts_enabled: false (inventories/standalone: SENTRY_METRIC_ALERTS=false) "
                "or run Sentry with Snuba. Nothing was changed.",
            )

    # Sentry's workflow engine (self-hosted 26.7.0 and later) answers its workflows endpoint; older
    # releases answer 404. Probed once here and passed to the alert modules, which would otherwise
    # each probe it themselves. Anything else (a 403, a 5xx) leaves the decision to the modules.
    status, _body = probe.get(f"organizations/{quote(org, safe='')}/workflows/?per_page=1")
    workflow_engine = True if status == 200 else False if status == 404 else None

    missing = []
    if p["environments"]:
        have = set()
        # Sentry checks an alert's environment per organization; the project summaries list each
        # project's environments (EnvironmentProject rows), so their union is what the org has.
        status, listed = probe.get(f"organizations/{quote(org, safe='')}/projects/?per_page=100")
        for project in listed if status == 200 and isinstance(listed, list) else []:
            if isinstance(project, dict):
                have.update(project.get("environments") or [])
        missing = sorted(set(p["environments"]) - have)
        if missing and not p["create_environments"]:
            module.fail_json(
                msg=f"Alerts are scoped to the environment(s) {', '.join(missing)}, which Sentry at {probe.base} "
                "has not got (Sentry refuses an alert on an environment it has not seen), and this inventory manages "
                "no Sentry host (group `sentry`) on which the role could create them. Run the role with the Sentry "
                "host in the inventory, send one event per environment, or drop `environment` from the alert."
                " Nothing was changed.",
                missing_environments=missing,
            )
    module.exit_json(changed=False, scopes=scopes, missing_environments=missing, workflow_engine=workflow_engine)


if __name__ == "__main__":
    main()
