"""deploy/bin/sentry-release with the real sentry-cli against the Sentry double, using the CI credential."""

from __future__ import annotations

from tests.unit.releases.conftest import BACKEND, FRONTEND, ORG, cli, credential, run_release, write_env_ci


def ci_env(tmp_path, double):
    token = credential(double.url, double.token)["new_token"]
    return write_env_ci(tmp_path / ".env.ci", double.url, ORG, token), token


def test_release_records_commits_source_maps_finalize_and_deploy_then_removes_the_maps(
    tmp_path, double, api, checkout, build
):
    env_file, token = ci_env(tmp_path, double)
    version = "dermai-web@1.2.0"
    result = run_release(
        version, "--repo", str(checkout), "--build", str(build), "--env", "production", env_file=env_file
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert token not in result.stdout + result.stderr

    release = api.call("GET", f"organizations/{ORG}/releases/{version}/").json()
    assert sorted(p["slug"] for p in release["projects"]) == [BACKEND, FRONTEND]
    assert release["dateReleased"] is not None  # finalized
    assert release["commitCount"] == 3
    commits = api.call("GET", f"organizations/{ORG}/releases/{version}/commits/").json()
    assert [c["message"] for c in commits] == ["feat: step 2", "feat: step 1", "feat: step 0"]

    deploys = api.call("GET", f"organizations/{ORG}/releases/{version}/deploys/").json()
    assert [d["environment"] for d in deploys] == ["production"]

    # The listing shows the uploaded bundle with both scripts and their source maps, for this release.
    bundles = api.call("GET", f"projects/{ORG}/{FRONTEND}/files/artifact-bundles/", token=token).json()
    assert [b["associations"] for b in bundles] == [[{"release": version, "dist": None}]]
    files = api.call(
        "GET", f"projects/{ORG}/{FRONTEND}/artifact-bundles/{bundles[0]['bundleId']}/files/", token=token
    ).json()["files"]
    assert sorted(f["filePath"] for f in files) == [
        "~/assets/index.js",
        "~/assets/index.js.map",
        "~/assets/vendor.js",
        "~/assets/vendor.js.map",
    ]
    assert {f["filePath"]: f["sourcemap"] for f in files}["~/assets/index.js"] == "index.js.map"

    assert sorted(p.name for p in build.rglob("*") if p.is_file()) == ["index.html", "index.js", "vendor.js"]


def test_next_release_gets_only_the_new_commits(tmp_path, double, api, checkout, build):
    env_file, _token = ci_env(tmp_path, double)
    args = ("--repo", str(checkout), "--build", str(build), "--env", "production", "--keep-maps")
    assert run_release("dermai-web@1.0.0", *args, env_file=env_file).returncode == 0
    (checkout / "fix.ts").write_text("export const fixed = true;\n")
    from tests.unit.releases.conftest import git

    git(checkout, "add", ".")
    git(checkout, "commit", "-q", "-m", "fix: lesion upload")
    result = run_release("dermai-web@1.0.1", *args, env_file=env_file)
    assert result.returncode == 0, result.stderr
    commits = api.call("GET", f"organizations/{ORG}/releases/dermai-web@1.0.1/commits/").json()
    assert [c["message"] for c in commits] == ["fix: lesion upload"]
    assert (build / "assets" / "index.js.map").exists()  # --keep-maps


def test_a_revoked_token_stops_at_the_first_step_with_sentry_clis_message(tmp_path, double, api, checkout, build):
    env_file, token = ci_env(tmp_path, double)
    credential(double.url, double.token, current_token=token, rotate=True)  # revokes `token`
    result = run_release(
        "dermai-web@2.0.0", "--repo", str(checkout), "--build", str(build), "--env", "production", env_file=env_file
    )
    assert result.returncode != 0
    assert "step 'releases new' failed" in result.stderr
    assert "Invalid token" in result.stderr or "401" in result.stderr
    assert "==> releases set-commits" not in result.stderr
    assert api.call("GET", f"organizations/{ORG}/releases/dermai-web@2.0.0/").status_code == 404
    assert len(list(build.rglob("*.map"))) == 2  # kept for the rerun


def test_a_failing_upload_stops_before_finalize_and_keeps_the_maps(tmp_path, double, api, checkout, build):
    env_file, _token = ci_env(tmp_path, double)
    double.inject_fault(status=400, method="GET", path=r"/chunk-upload/$", body={"detail": "Chunk upload disabled"})
    result = run_release(
        "dermai-web@3.0.0", "--repo", str(checkout), "--build", str(build), "--env", "staging", env_file=env_file
    )
    assert result.returncode != 0
    assert "step 'sourcemaps upload' failed" in result.stderr
    assert "Chunk upload disabled" in result.stderr
    release = api.call("GET", f"organizations/{ORG}/releases/dermai-web@3.0.0/").json()
    assert release["dateReleased"] is None  # never finalized
    assert api.call("GET", f"organizations/{ORG}/releases/dermai-web@3.0.0/deploys/").json() == []
    assert len(list(build.rglob("*.map"))) == 2


def test_bad_arguments_are_refused_before_any_request(tmp_path, double, checkout, build):
    env_file, _token = ci_env(tmp_path, double)
    mark = len(double.requests)
    cases = [
        (
            ("web/1", "--repo", str(checkout), "--build", str(build), "--env", "production"),
            "not a valid Sentry release",
        ),
        (("web@1", "--repo", str(tmp_path), "--build", str(build), "--env", "production"), "is not a git checkout"),
        (
            ("web@1", "--repo", str(checkout), "--build", str(tmp_path / "nope"), "--env", "production"),
            "is not a directory",
        ),
        (("web@1", "--repo", str(checkout), "--build", str(build)), "--env ENV"),
        (("web@1", "--repo", str(checkout), "--build", str(build), "--env", "prod", "--bogus"), "unknown option"),
    ]
    for args, message in cases:
        result = run_release(*args, env_file=env_file)
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr, (args, result.stderr)
    result = run_release(
        "web@1",
        "--repo",
        str(checkout),
        "--build",
        str(build),
        "--env",
        "production",
        env={"SENTRY_URL": double.url, "SENTRY_ORG": ORG},
        cwd=tmp_path / "dist",
    )
    assert result.returncode == 2 and "SENTRY_AUTH_TOKEN is not set" in result.stderr
    assert double.requests[mark:] == []


def test_sentry_cli_alone_with_the_ci_token_runs_the_guides_commands(tmp_path, double, api, checkout, build):
    _env_file, token = ci_env(tmp_path, double)
    version = "dermai-web@4.0.0"
    for args in (
        ("releases", "new", version),
        ("releases", "set-commits", version, "--auto"),
        ("sourcemaps", "upload", "--release", version, str(build)),
        ("releases", "finalize", version),
        ("deploys", "new", "--release", version, "-e", "production"),
    ):
        result = cli(double.url, token, ORG, *args, cwd=checkout)
        assert result.returncode == 0, (args, result.stderr[-2000:])
    listed = cli(double.url, token, ORG, "releases", "list")
    assert version in listed.stdout
