# Run by `sentry exec` inside Sentry's web container (tasks/ci.yml) where the API accepts only a
# signed-in session on an internal integration's token endpoints (releases after 23.7.1): keeps exactly
# one token for the integration, with Sentry's own token creator (the code the endpoint calls).
# Input (environment): DERMAI_APP_SLUG (the integration, created through the API), DERMAI_CURRENT_SHA256
# (SHA-256 hex of the token the caller holds, "" for none: the token itself never leaves the caller),
# DERMAI_ROTATE=1 for a new token, DERMAI_CHECK=1 to only report.
# Output: one line "DERMAI_CI_TOKEN <json>" {"changed", "token" (the new token or null), "count"}.
# `sentry exec` exits 0 even when the script raises: the output line is the proof of success.
import hashlib
import json
import os

from sentry.models.apitoken import ApiToken
from sentry.sentry_apps.installations import SentryAppInstallationTokenCreator

try:
    from sentry.sentry_apps.models.sentry_app import SentryApp
    from sentry.sentry_apps.models.sentry_app_installation import SentryAppInstallation
except ImportError:  # releases before the sentry_apps/ split (23.x)
    from sentry.models import SentryApp, SentryAppInstallation


def digest(token):
    stored = getattr(token, "hashed_token", None)
    return stored or hashlib.sha256(token.token.encode()).hexdigest()


app = SentryApp.objects.get(slug=os.environ["DERMAI_APP_SLUG"])
installation = SentryAppInstallation.objects.get(sentry_app_id=app.id)
current = os.environ.get("DERMAI_CURRENT_SHA256", "")
rotate = os.environ.get("DERMAI_ROTATE") == "1"
check = os.environ.get("DERMAI_CHECK") == "1"
tokens = list(ApiToken.objects.filter(application_id=app.application_id).order_by("id"))
keep = None if rotate or not current else next((t for t in tokens if digest(t) == current), None)
others = [t for t in tokens if keep is None or t.id != keep.id]
new = None
if not check:
    if keep is None:
        created = SentryAppInstallationTokenCreator(sentry_app_installation=installation).run(user=app.proxy_user)
        new = getattr(created, "plaintext_token", None) or created.token
    for token in others:
        token.delete()  # cascades to its SentryAppInstallationToken
count = ApiToken.objects.filter(application_id=app.application_id).count()
print("DERMAI_CI_TOKEN " + json.dumps({"changed": keep is None or bool(others), "token": new, "count": count}))
