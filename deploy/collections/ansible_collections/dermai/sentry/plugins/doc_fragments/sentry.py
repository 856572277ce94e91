# Copyright: DermAI
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection options shared by every dermai.sentry module."""

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
      - Needs the scopes C(org:admin), C(team:write), C(project:admin) and C(alerts:write) for all these modules.
      - If not set, the environment variable E(SENTRY_AUTH_TOKEN) is used. Never logged.
    type: str
    required: true
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
notes:
  - All calls go through one REST client (M(ansible.builtin.uri) is not needed); list endpoints are
    followed through their C(Link) cursors.
  - HTTP 401 means the token is invalid or revoked; the error says so and never shows the token.
"""

    ATTRIBUTES = r"""
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
"""
