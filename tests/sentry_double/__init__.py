"""A stateful test double of the Sentry REST API and ingest endpoints (test-only).

Import ``start_double`` from ``tests.sentry_double.server`` or run ``python -m tests.sentry_double``.
"""
