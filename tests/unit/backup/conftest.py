"""Fixtures of the backup role's unit tests: the role runner of tests/unit/roles."""

from __future__ import annotations

from tests.unit.roles.conftest import run_role  # noqa: F401  (re-exported fixture)

# A valid set of the role's required inputs; each test spoils one of them.
VALID = {
    "backup_repository": "rest:https://dermai:secret-in-url@backup.example.test:8443/sentry/",
    "backup_password": "correct-horse-battery-staple-42",
    "sentry_event_retention_days": 30,
}
