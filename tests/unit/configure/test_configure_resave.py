"""After an upgrade across 26.7.0 the managed alerts are re-saved once, then the marker goes (issue 12, item 1).

The double imitates 23.7.1 for the first converge, then an in-place upgrade to 26.8.0 (rules made before
it are not migrated to the workflow engine). The sentry role's marker file makes the next run re-save
every managed alert (PUTs although nothing changed) and remove the marker; the run after that is a no-op.
"""

from __future__ import annotations

import pytest

from tests.unit.configure.runner import assert_ok, run_configure, start_double_backend

pytestmark = pytest.mark.slow


def test_the_resave_marker_resaves_every_alert_once_and_is_removed(tmp_path):
    backend = start_double_backend()
    env_dir = tmp_path / "env"
    env_dir.mkdir()
    marker = tmp_path / "alerts-resave-pending"
    # localhost stands for the Sentry host holding the marker (no alert environment: no `sentry exec`).
    sentry_host = {"sentry_config_sentry_host": "localhost", "sentry_config_alerts_resave_marker": str(marker)}
    try:
        backend.server.set_release("23.7.1")
        assert_ok(run_configure(backend, env_dir, tmp_path / "token", extra_vars=sentry_host))
        backend.server.set_release("26.8.0")
        marker.write_text("upgraded 23.7.1 -> 26.8.0 across 26.7.0 (workflow engine)\n")
        before = len(backend.requests_log())
        resaved = run_configure(backend, env_dir, tmp_path / "token", extra_vars=sentry_host)
        assert_ok(resaved)
        writes = [(m, p) for m, p, _ in backend.requests_log()[before:] if m != "GET"]
        assert sum(1 for m, p in writes if m == "PUT" and "/rules/" in p) == 6, writes
        assert sum(1 for m, p in writes if m == "PUT" and "/alert-rules/" in p) == 2, writes
        assert "alerts re-saved for the workflow engine" in resaved.stdout
        assert not marker.exists()
        again = run_configure(backend, env_dir, tmp_path / "token", extra_vars=sentry_host)
        assert_ok(again)
        assert again.changed == 0, again.changed_tasks()
    finally:
        backend.server.stop()
