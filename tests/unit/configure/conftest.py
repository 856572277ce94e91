"""Fixtures for the configure tests: fresh Sentry doubles and a runner of deploy/configure.yml."""

from __future__ import annotations

import pytest

from tests.unit.configure.runner import Backend, Run, run_configure, start_double_backend


@pytest.fixture
def backend_factory():
    """Start fresh doubles (each with its own empty state); all are stopped after the test."""
    started: list[Backend] = []

    def start(url_prefix: str | None = None) -> Backend:
        backend = start_double_backend(url_prefix)
        started.append(backend)
        return backend

    yield start
    for backend in started:
        backend.server.stop()


@pytest.fixture
def configure(tmp_path):
    """configure(backend, *ansible_args, extra_vars=..., env=...) -> Run; env files go to tmp_path/env."""
    env_dir = tmp_path / "env"
    env_dir.mkdir()
    token_file = tmp_path / "api-token"

    def run(backend: Backend, *args: str, **kwargs) -> Run:
        return run_configure(backend, env_dir, token_file, *args, **kwargs)

    return run
