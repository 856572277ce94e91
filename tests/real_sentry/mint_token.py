# Mint the API token the tests use (run by up.sh through `sentry exec`, Sentry 23.7.1 models).
# The token is written to the file named by REAL_SENTRY_TOKEN_OUT with mode 0600; never printed.
import os

from sentry.models import ApiToken, User

LEVELS = {"org": "read write admin", "team": "read write admin", "project": "read write admin releases"}
LEVELS.update(member="read", event="read", alerts="read write")
SCOPES = [f"{resource}:{level}" for resource, levels in LEVELS.items() for level in levels.split()]

user = User.objects.get(username=os.environ["REAL_SENTRY_ADMIN_EMAIL"])
ApiToken.objects.filter(user=user).delete()
token = ApiToken.objects.create(user=user, scope_list=SCOPES, expires_at=None)
out = os.environ["REAL_SENTRY_TOKEN_OUT"]
fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
with os.fdopen(fd, "w") as fh:
    fh.write(token.token + "\n")
