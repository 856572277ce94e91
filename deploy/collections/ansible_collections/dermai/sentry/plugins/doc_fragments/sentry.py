# Copyright: DermAI
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection options and attributes of every dermai.sentry module; options that several of them share."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  url:
    description:
      - Base URL of the Sentry server, for example C(https://sentry.dermai.example).
      - The modules append C(/api/0/) themselves.
      - If not set, the environment variable E(SENTRY_URL) is used.
    type: str
    required: true
  token:
    description:
      - "Sentry user auth token (C(sntryu_...)), sent as C(Authorization: Bearer <token>)."
      - Organization tokens (C(sntrys_...)) cannot change settings.
      - Needs the scopes C(org:admin), C(team:write), C(project:admin) and C(alerts:write) for all these modules;
        on HTTP 403 the error names the scope the call needs (result key C(missing_scope)).
      - If neither O(token) nor O(token_file) is set, the environment variable E(SENTRY_AUTH_TOKEN) is used.
        Never logged.
      - Mutually exclusive with O(token_file).
    type: str
  token_file:
    description:
      - File holding the token (its first line), read on the host where the module runs, so that the token
        never has to pass through a fact or a registered result. Keep it mode C(0600) or C(0400).
      - Mutually exclusive with O(token).
    type: path
  validate_certs:
    description:
      - Verify the server's TLS certificate. Only set to V(false) against a throwaway test server.
    type: bool
    default: true
  ca_path:
    description:
      - PEM file with the CA certificate(s) to trust, for a server whose certificate comes from an internal CA.
    type: path
  timeout:
    description:
      - Seconds to wait for each HTTP response.
    type: int
    default: 30
  retries:
    description:
      - How many times a call is retried after HTTP 429, HTTP 5xx, a timeout or a connection error.
      - Waits grow exponentially (1, 2, 4, ... seconds, at most 30); a C(Retry-After) header is honoured.
    type: int
    default: 5
  retry_deadline:
    description:
      - The retry budget of a whole run, as an absolute time (UTC epoch seconds, for example
        C({{ now(utc=true).timestamp() + 60 }}) fixed once with M(ansible.builtin.set_fact)).
      - After it, no call is retried (the first attempt of each call is still made) and no retry sleeps past it,
        so a Sentry that keeps failing costs at most this budget across every task and loop item.
      - A refused connection or a host name that does not resolve is never retried, whatever this option says.
      - If not set, the environment variable E(SENTRY_RETRY_DEADLINE) is used; unset means no run-wide budget.
    type: float
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
notes:
  - All calls go through one REST client (M(ansible.builtin.uri) is not needed); list endpoints are
    followed through their C(Link) cursors.
  - HTTP 401 means the token is invalid or revoked; the error says so and never shows the token.
"""

    # Options that several modules share (organization slug, project slug, state).
    ORGANIZATION = r"""
options:
  organization:
    description: Slug of the organization.
    type: str
    required: true
"""

    PROJECT = r"""
options:
  project:
    description: Slug of the project.
    type: str
    required: true
"""

    STATE = r"""
options:
  state:
    description: Whether the object should exist.
    type: str
    choices: [present, absent]
    default: present
"""

    # Options of the alert modules: per rule (also the keys of each item of `rules`), and for Sentry 26.7+
    # (the workflow engine).
    RULE = r"""
options:
  name:
    description:
      - Name of the rule (at most 256 characters), used to find it.
      - Required unless O(rules) is given; mutually exclusive with O(rules).
    type: str
  environment:
    description: Environment name the rule is limited to (it must already exist in Sentry); V(null) for all.
    type: str
  owner:
    description: Owner of the rule, V(team:<id>) or V(user:<id>).
    type: str
  resave:
    description:
      - Send every managed rule with C(PUT) even when it is unchanged (reported as changed), so that a Sentry that
        switched to the workflow engine (self-hosted 26.7.0 and later) migrates rules made before the upgrade,
        which otherwise do not fire (getsentry/self-hosted#4452).
    type: bool
    default: false
  workflow_engine:
    description:
      - Whether the server runs the workflow engine. V(true) reads back the workflow (and detector) behind every
        managed rule through C(/organizations/{organization}/alert-rule-workflow/), C(alert-rule-detector/),
        C(workflows/) and C(detectors/) and lists the rules without one in RV(unbacked); V(false) skips that.
      - Unset, one C(GET /organizations/{organization}/workflows/) decides (HTTP 404 on Sentry before 26.x).
    type: bool
"""
