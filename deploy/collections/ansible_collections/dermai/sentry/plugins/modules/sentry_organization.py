#!/usr/bin/python
# Copyright: DermAI
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Manage the privacy settings of a Sentry organization."""

from __future__ import annotations

DOCUMENTATION = r"""
module: sentry_organization
short_description: Manage the privacy and access settings of a Sentry organization
version_added: 1.0.0
description:
  - Reads the organization with C(GET /api/0/organizations/{slug}/), compares the options you set with the server's
    values (lists compared as sets, O(relay_pii_config) compared parsed) and sends a C(PUT) with only the fields that
    differ, then reads the organization again.
  - Options left unset are not managed.
  - The organization must already exist (self-hosted Sentry creates C(sentry) on install). The module has no
    O(state=absent) on purpose - deleting an organization schedules the deletion of every project, event and key
    in it, and a self-hosted install runs exactly one organization. Delete it by hand in the UI if you really mean to.
extends_documentation_fragment: [dermai.sentry.sentry]
options:
  slug:
    description: Slug of the organization.
    type: str
    required: true
  state:
    description: Only V(present) - see the description for why there is no V(absent).
    type: str
    choices: [present]
    default: present
  data_scrubber:
    description: Require the server-side data scrubber for every project (C(dataScrubber)).
    type: bool
  data_scrubber_defaults:
    description: Require the default scrubbers (passwords, credit cards, ...) everywhere (C(dataScrubberDefaults)).
    type: bool
  scrub_ip_addresses:
    description: Never store IP addresses (C(scrubIPAddresses)).
    type: bool
  sensitive_fields:
    description:
      - Field names whose values are always scrubbed (C(sensitiveFields)).
      - Order does not matter; compared case-insensitively.
      - No empty strings; at most 4000 characters in total.
    type: list
    elements: str
  safe_fields:
    description: Field names the scrubber never touches (C(safeFields)). Order does not matter.
    type: list
    elements: str
  store_crash_reports:
    description: Crash reports kept per issue (C(storeCrashReports)); V(0) disables, V(-1) is unlimited, at most V(100).
    type: int
  relay_pii_config:
    description:
      - Advanced data scrubbing rules as a dict (C(rules), C(applications), optionally C(vars)).
        The module sends the JSON string Sentry wants and compares the parsed value. An empty dict clears it.
      - Rule types and redaction methods are checked before any request; if C(sentry_relay) is installed where
        the module runs, the config is also validated with Relay's own validator.
    type: dict
  enhanced_privacy:
    description: Keep event data and source code out of e-mail notifications (C(enhancedPrivacy)).
    type: bool
  allow_shared_issues:
    description: Allow sharing issues through public links (C(allowSharedIssues)).
    type: bool
  attachments_role:
    description: Lowest role allowed to download event attachments (C(attachmentsRole)).
    type: str
    choices: [member, admin, manager, owner]
  debug_files_role:
    description: Lowest role allowed to download debug files (C(debugFilesRole)).
    type: str
    choices: [member, admin, manager, owner]
  scrape_javascript:
    description: Let Sentry fetch JavaScript source files from your servers (C(scrapeJavaScript)).
    type: bool
  open_membership:
    description: Let members join any team (C(openMembership)).
    type: bool
  allow_join_requests:
    description: Let people without an invitation ask to join the organization (C(allowJoinRequests)).
    type: bool
  require_2fa:
    description:
      - Require two-factor authentication for every member (C(require2FA)).
      - Sentry refuses this unless the user that owns O(token) has 2FA enabled itself (and refuses it when SSO is on);
        the module then fails with a message saying so. Members without 2FA are removed once it is enabled.
    type: bool
author:
  - DermAI infrastructure team (@dermai)
"""

EXAMPLES = r"""
- name: Enforce HIPAA-grade scrubbing for the whole organization
  dermai.sentry.sentry_organization:
    url: https://sentry.dermai.example
    token: "{{ vault_sentry_api_token }}"
    slug: sentry
    data_scrubber: true
    data_scrubber_defaults: true
    scrub_ip_addresses: true
    sensitive_fields: [mrn, patient_id, patient_name, dob, ssn, diagnosis]
    store_crash_reports: 0
    enhanced_privacy: true
    allow_shared_issues: false
    attachments_role: admin
    relay_pii_config:
      rules:
        ssn:
          type: us_ssn
          redaction: {method: replace, text: "[SSN]"}
      applications:
        "$string": [ssn, "@email:replace"]
"""

RETURN = r"""
organization:
  description: The organization as Sentry returns it after the run (in check mode, with the planned changes applied).
  returned: always
  type: dict
  sample: {"id": "1", "slug": "sentry", "dataScrubber": true, "sensitiveFields": ["mrn"], "relayPiiConfig": "{...}"}
changed_fields:
  description: API names of the fields that were (or in check mode would be) changed.
  returned: always
  type: list
  elements: str
  sample: [dataScrubber, sensitiveFields]
"""

from ansible_collections.dermai.sentry.plugins.module_utils.sentry_api import URL_ORG, SentryAPIError, camel_payload
from ansible_collections.dermai.sentry.plugins.module_utils.sentry_checks import (
    PRIVACY_FIELDS,
    PRIVACY_OPTIONS,
    api_fields,
    check_privacy,
)
from ansible_collections.dermai.sentry.plugins.module_utils.sentry_resource import Resource

ROLES = ["member", "admin", "manager", "owner"]
# option -> API field of the settings this module manages
FIELDS = dict(PRIVACY_FIELDS, **api_fields("enhanced_privacy", "allow_shared_issues", "attachments_role"))
FIELDS.update(
    api_fields("debug_files_role", "scrape_javascript", "open_membership", "allow_join_requests", "require_2fa")
)
ROLE_OPTION = dict(type="str", choices=ROLES)
MORE = dict(PRIVACY_OPTIONS, attachments_role=ROLE_OPTION, debug_files_role=ROLE_OPTION)
OPTIONS = dict(slug=dict(type="str", required=True), state=dict(type="str", default="present", choices=["present"]))
OPTIONS.update({opt: MORE.get(opt, dict(type="bool")) for opt in FIELDS})


class Organization(Resource):
    """The settings of one existing organization: never created, never deleted."""

    kind = key = "organization"
    options = OPTIONS
    set_fields = ("sensitiveFields", "safeFields")
    pii_fields = ("relayPiiConfig",)
    report_fields = True

    def validate(self):
        check_privacy(self.module)

    def item_path(self, obj=None):
        return self.client.path(URL_ORG, org=self.params["slug"])

    def find(self):
        current = self.client.get(self.item_path(), missing_ok=True)
        if current is None:
            self.module.fail_json(
                msg=f"organization {self.params['slug']!r} does not exist (or the token cannot see it)"
            )
        return current

    def desired(self, current):
        return camel_payload(self.params, FIELDS, self.pii_fields)

    def update(self, current, desired, changed):
        try:
            return super().update(current, desired, changed)
        except SentryAPIError as err:
            body = err.body if isinstance(err.body, dict) else {}
            # The refusal comes as a field error ({"require2FA": [...]}) or, before the serializer runs, as a detail.
            reason = body.get("require2FA") or (body.get("detail") if "two-factor" in str(body.get("detail")) else None)
            if err.status == 400 and reason:
                self.module.fail_json(
                    msg="require_2fa: Sentry refused to require two-factor authentication: "
                    f"{reason}. Precondition: the user that owns the API token must have 2FA enabled "
                    "itself (and the organization must not use SSO). Enable 2FA for that user, or leave require_2fa "
                    "unset.",
                    status=400,
                )
            raise


def main():
    Organization.main()


if __name__ == "__main__":
    main()
