"""Fixtures for the release tests: a double with DermAI's org, the CI credential module run in-process,
the real sentry-cli, a temporary git checkout and a small generated frontend build."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[3]
COLLECTIONS = REPO / "deploy" / "collections"
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))

from ansible_collections.dermai.sentry.tests.unit.plugins.modules.conftest import run_module as _run_collection_module

from tests.sentry_double.clients import sentry_cli_path
from tests.sentry_double.server import start_double
from tests.unit.real_sentry.conftest import real_sentry  # noqa: F401 - the real Sentry peer, with its policy

API = importlib.import_module("ansible_collections.dermai.sentry.plugins.module_utils.sentry_api")
RELEASE_SCRIPT = REPO / "deploy" / "bin" / "sentry-release"
ORG = "sentry"
FRONTEND = "dermai-web"
BACKEND = "dermai-api"


def run_module(args, check=False):
    """sentry_internal_integration in-process, as Ansible runs it; its result dict (failed=True on fail_json)."""
    return _run_collection_module("sentry_internal_integration", args, check=check)


class Api:
    """requests against /api/0/ with a bearer token; never raises on status."""

    def __init__(self, url: str, token: str):
        self.url, self.token = url.rstrip("/"), token

    def call(self, method: str, path: str, json=None, token: str | None = None) -> requests.Response:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        return requests.request(method, f"{self.url}/api/0/{path.lstrip('/')}", json=json, headers=headers, timeout=60)


def setup_org(api: Api, org: str) -> None:
    """DermAI's team and its two projects (what configure creates)."""
    api.call("POST", f"organizations/{org}/teams/", {"slug": "dermai", "name": "DermAI"})
    for slug, platform in ((BACKEND, "python-fastapi"), (FRONTEND, "javascript-react")):
        resp = api.call("POST", f"teams/{org}/dermai/projects/", {"slug": slug, "name": slug, "platform": platform})
        assert resp.status_code in (201, 409), resp.text


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    monkeypatch.setattr(API, "SLEEP", lambda _seconds: None)


@pytest.fixture
def double():
    server = start_double(host="127.0.0.1", port=0)
    setup_org(Api(server.url, server.token), ORG)
    yield server
    server.stop()


@pytest.fixture
def api(double) -> Api:
    return Api(double.url, double.token)


def credential(url: str, token: str, org: str = ORG, **extra):
    args = dict(
        url=url, token=token, organization=org, name="DermAI CI releases", scopes=["project:releases", "org:read"]
    )
    args.update(extra)
    return run_module(args)


def cli(url: str, token: str, org: str, *args: str, cwd: Path | None = None, project: str = FRONTEND):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTRY_")}
    env.update(
        SENTRY_URL=url,
        SENTRY_AUTH_TOKEN=token,
        SENTRY_ORG=org,
        SENTRY_PROJECT=project,
        SENTRY_DISABLE_UPDATE_CHECK="1",
    )
    return subprocess.run(
        [sentry_cli_path(), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def git(repo: Path, *args: str) -> str:
    env = dict(
        os.environ,
        GIT_AUTHOR_NAME="DermAI CI",
        GIT_AUTHOR_EMAIL="ci@dermai.test",
        GIT_COMMITTER_NAME="DermAI CI",
        GIT_COMMITTER_EMAIL="ci@dermai.test",
    )
    return subprocess.run(["git", "-C", str(repo), *args], env=env, capture_output=True, text=True, check=True).stdout


@pytest.fixture
def checkout(tmp_path) -> Path:
    """A git checkout with three commits and a remote that no Sentry integration knows."""
    repo = tmp_path / "web"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    for n in range(3):
        (repo / f"f{n}.ts").write_text(f"export const n = {n};\n")
        git(repo, "add", ".")
        git(repo, "commit", "-q", "-m", f"feat: step {n}")
    git(repo, "remote", "add", "origin", "https://git.dermai.test/dermai/web.git")
    return repo


@pytest.fixture
def build(tmp_path) -> Path:
    """A Vite-like production build: minified JS with its source maps."""
    out = tmp_path / "dist"
    (out / "assets").mkdir(parents=True)
    for name in ("index", "vendor"):
        (out / "assets" / f"{name}.js").write_text(
            f'function {name}(){{throw new Error("{name} failed")}}{name}();\n//# sourceMappingURL={name}.js.map\n'
        )
        source_map = {
            "version": 3,
            "file": f"{name}.js",
            "sources": [f"../src/{name}.ts"],
            "names": [],
            "mappings": "AAAA",
            "sourcesContent": [f'export function {name}() {{ throw new Error("{name} failed"); }}'],
        }
        (out / "assets" / f"{name}.js.map").write_text(json.dumps(source_map))
    (out / "index.html").write_text('<script type="module" src="/assets/index.js"></script>\n')
    return out


def run_release(*args: str, env_file: Path | None = None, env: dict | None = None, cwd: Path | None = None):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SENTRY_")}
    environ["SENTRY_CLI"] = sentry_cli_path()
    environ.update(env or {})
    cmd = [str(RELEASE_SCRIPT), *args]
    if env_file is not None:
        cmd += ["--env-file", str(env_file)]
    return subprocess.run(cmd, env=environ, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


def write_env_ci(path: Path, url: str, org: str, token: str) -> Path:
    """An .env.ci as configure writes it (tests of the script alone)."""
    path.write_text(
        f"SENTRY_URL={url}\nSENTRY_ORG={org}\nSENTRY_PROJECT={FRONTEND}\n"
        f"SENTRY_PROJECT_FRONTEND={FRONTEND}\nSENTRY_PROJECT_BACKEND={BACKEND}\nSENTRY_AUTH_TOKEN={token}\n"
    )
    path.chmod(0o600)
    return path


@pytest.fixture(scope="module")
def real_org(real_sentry) -> str:  # noqa: F811 - the fixture imported above
    """A new organization with DermAI's team and projects (the peer allows creating organizations)."""
    import secrets

    admin = Api(real_sentry.url, real_sentry.token)
    slug = f"dermai-rel{secrets.token_hex(4)}"
    resp = admin.call("POST", "organizations/", {"name": slug, "slug": slug})
    assert resp.status_code == 201, resp.text
    setup_org(admin, slug)
    return slug


def ci_file_values(path: Path) -> dict[str, str]:
    """KEY=value lines of a CI file (.env.ci, .sentryclirc), comments and [sections] left out."""
    out = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith(("#", "[")) and "=" in line:
            key, _, value = line.partition("=")
            out[key] = value
    return out
