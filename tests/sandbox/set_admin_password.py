# Give tests/real_sentry's superuser a password, so a person can sign in to the sandbox's real Sentry
# (run by tests/sandbox/sandbox.sh through `sentry exec`, Sentry 23.7.1 models). The password is read
# from the file named by SANDBOX_PASSWORD_FILE and never printed.
import os

from sentry.models import User

user = User.objects.get(username=os.environ["REAL_SENTRY_ADMIN_EMAIL"])
with open(os.environ["SANDBOX_PASSWORD_FILE"]) as fh:
    password = fh.read().strip()
if not user.check_password(password):
    user.set_password(password)
    user.save()
    print("sandbox: admin password set")
else:
    print("sandbox: admin password unchanged")
