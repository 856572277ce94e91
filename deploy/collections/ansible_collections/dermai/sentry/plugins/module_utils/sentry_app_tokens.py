# Copyright: DermAI
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The token endpoints of an internal integration (Sentry App), as they differ between Sentry releases.

PRIVATE to this collection: the interface may change without notice.
"""

from __future__ import annotations

from ansible_collections.dermai.sentry.plugins.module_utils.sentry_api import (
    URL_APP_TOKEN,
    URL_APP_TOKENS,
    URL_ORG,
    SentryAPIError,
    SentryClient,
)

# How later releases list a token (23.7.1 lists the value).
MASKED = "*" * 64
SESSION_ONLY = (
    "Sentry refused to manage the tokens of internal integration {slug} with an API token (HTTP {status}): "
    "this Sentry release accepts only a signed-in session on /api/0/sentry-apps/{{slug}}/api-tokens/. "
    "Create the token on the Sentry host with Sentry's own code, or in the UI (Settings > Custom Integrations)."
)


class SessionOnly(SentryAPIError):
    """Sentry accepts only a signed-in session on the integration's token endpoints."""


def list_tokens(client, slug):
    """The integration's tokens; SessionOnly when this release refuses token auth there (after 23.7.1)."""
    try:
        return client.get(client.path(URL_APP_TOKENS, app=slug)) or []
    except SentryAPIError as err:
        if err.status in (401, 403):
            msg = SESSION_ONLY.format(slug=slug, status=err.status)
            raise SessionOnly(err.method, err.path, None, msg) from None
        raise


def create_token(client, slug):
    """A new token of the integration, as Sentry returns it (with its value)."""
    return client.request("POST", client.path(URL_APP_TOKENS, app=slug), body={})[1]


def delete_token(client, slug, tok):
    """Sentry 23.7.1 takes the token value in the URL, later releases the token id: try the id first."""
    if client.delete(client.path(URL_APP_TOKEN, app=slug, token=tok["id"]), missing_ok=True):
        return
    value = tok.get("token")
    if value and value != MASKED:
        client.delete(client.path(URL_APP_TOKEN, app=slug, token=value), missing_ok=True)


def token_works(client, org, token):
    """Whether `token` answers for its own organization (one call, no retries)."""
    c = client
    probe = SentryClient(
        c.base, token, validate_certs=c.validate_certs, ca_path=c.ca_path, timeout=c.timeout, retries=0
    )
    try:
        return probe.get(probe.path(URL_ORG, org=org), missing_ok=True) is not None
    except SentryAPIError:
        return False
