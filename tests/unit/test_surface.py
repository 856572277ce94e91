"""The user's surface: the make targets the docs name exist, CI installs nothing itself, the
controller gets only the virtualenv for a remote deploy, test-deps installs exactly what is
missing, one licence, and a README a newcomer can read (short, links inside the repository)."""

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted(p for p in (ROOT / "docs").rglob("*.md") if "_from-readme" not in p.parts)
LICENCE = "GPL-3.0-or-later"


def make(*args, **env):
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **env},
    )


def help_targets():
    result = make("help")
    assert result.returncode == 0, result.stderr
    plain = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)
    return set(re.findall(r"^\s+([a-zA-Z0-9_-]+)\s", plain, flags=re.M))


def code_of(markdown: str) -> str:
    """The code in a Markdown text: fenced blocks and `inline` spans."""
    fenced = re.findall(r"^```[^\n]*\n(.*?)^```", markdown, flags=re.M | re.S)
    rest = re.sub(r"^```[^\n]*\n.*?^```", "", markdown, flags=re.M | re.S)
    return "\n".join(fenced + re.findall(r"`([^`\n]+)`", rest))


def named_targets(path: Path) -> set[str]:
    return set(re.findall(r"(?<![\w/.-])make ([a-z][a-z0-9_-]*)", code_of(path.read_text())))


@pytest.mark.parametrize("page", [ROOT / "README.md", *DOCS], ids=lambda p: str(p.relative_to(ROOT)))
def test_make_help_lists_every_target_the_docs_name(page):
    missing = named_targets(page) - help_targets()
    assert not missing, f"{page.relative_to(ROOT)} names make targets that `make help` does not list: {sorted(missing)}"


def test_the_docs_name_the_two_commands_and_the_sandbox():
    readme = named_targets(ROOT / "README.md")
    assert {"deploy", "test", "sandbox", "sandbox-real", "test-deps"} <= readme


def test_ci_only_calls_make_test():
    ci = (ROOT / ".ci" / "run").read_text()
    code = "\n".join(line for line in ci.splitlines() if not line.lstrip().startswith("#"))
    assert re.search(r"^\s*make test\b", code, flags=re.M) or "make test ||" in code
    for installer in ("apt-get", "apt ", "pip install", "ensure-docker", "dpkg", "make deps"):
        assert installer not in code, f".ci/run must not install anything itself ({installer})"


def test_make_test_installs_its_system_packages_first():
    dry = make("-n", "test")
    assert dry.returncode == 0, dry.stderr
    first = dry.stdout.splitlines()[0]
    assert "deploy/bin/test-deps" in first, dry.stdout[:500]


# (make verify is the testinfra suite itself: it runs tests/verify by design.)
@pytest.mark.parametrize("target", ["deps", "deploy", "check", "configure"])
def test_a_remote_inventory_installs_nothing_on_the_controller_but_the_venv(target):
    dry = make("-n", target, "INVENTORY=inventories/production")
    assert dry.returncode == 0, dry.stderr
    for word in ("ensure-docker", "test-deps", "apt-get", "local_vm.yml", "tests/"):
        assert word not in dry.stdout, f"make {target} on a remote inventory runs {word}:\n{dry.stdout}"


def test_the_local_deploy_is_the_sandbox_and_says_so():
    dry = make("-n", "deploy")
    assert dry.returncode == 0, dry.stderr
    assert "ensure-docker" in dry.stdout
    assert "tests/sandbox/sandbox.sh up" in dry.stdout
    script = (ROOT / "tests" / "sandbox" / "sandbox.sh").read_text()
    assert "a test rig on this machine, not a product install" in script


def test_package_list_is_sorted_and_names_the_test_tools():
    lines = (ROOT / "deploy" / "bin" / "test-packages.txt").read_text().splitlines()
    packages = [line for line in lines if line and not line.startswith("#")]
    assert packages == sorted(set(packages)), "deploy/bin/test-packages.txt: keep it sorted, one package a line"
    assert {"docker.io", "testssl.sh", "nginx", "pebble", "postgresql", "restic", "chromium"} <= set(packages)


def fake_debian(tmp_path, installed):
    """A PATH with dpkg-query, apt-get and sudo stand-ins that record what they are asked."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "apt.log"
    (bin_dir / "dpkg-query").write_text(
        "#!/bin/sh\nfor p in " + " ".join(installed) + '; do [ "$p" = "$4" ] && printf "install ok installed" '
        "&& exit 0; done\nexit 1\n"
    )
    (bin_dir / "apt-get").write_text(f'#!/bin/sh\necho "$*" >>{log}\n')
    (bin_dir / "sudo").write_text('#!/bin/sh\n[ "$1" = -n ] && shift\nexec "$@"\n')
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    return {"PATH": f"{bin_dir}:{os.environ['PATH']}", "REAL_SENTRY_PYTHON": "/bin/true"}, log


def run_test_deps(env, package_list):
    return subprocess.run(
        [ROOT / "deploy" / "bin" / "test-deps", package_list],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **env},
    )


def test_test_deps_is_quiet_when_nothing_is_missing(tmp_path):
    env, log = fake_debian(tmp_path, ["nginx", "wrk"])
    listing = tmp_path / "list.txt"
    listing.write_text("# tools\nnginx\n\nwrk\n")
    result = run_test_deps(env, listing)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and not log.exists()


def test_test_deps_installs_exactly_the_missing_packages_and_says_so(tmp_path):
    env, log = fake_debian(tmp_path, ["nginx"])
    listing = tmp_path / "list.txt"
    listing.write_text("nginx\npebble  # ACME test CA\nwrk\n")
    result = run_test_deps(env, listing)
    assert result.returncode == 0, result.stderr
    assert "installing from Debian (2 missing of 3" in result.stdout and "pebble wrk" in result.stdout
    calls = log.read_text().splitlines()
    assert calls[0] == "update -qq"
    assert calls[1].endswith("install -y -qq --no-install-recommends pebble wrk")


def test_one_licence_everywhere():
    assert (ROOT / "LICENSE").read_text().lstrip().startswith("GNU GENERAL PUBLIC LICENSE")
    galaxy = yaml.safe_load((ROOT / "deploy/collections/ansible_collections/dermai/sentry/galaxy.yml").read_text())
    assert galaxy["license"] == [LICENCE]
    for meta in sorted((ROOT / "roles").glob("*/meta/main.yml")):
        info = (yaml.safe_load(meta.read_text()) or {}).get("galaxy_info", {})
        assert info.get("license") == LICENCE, f"{meta.relative_to(ROOT)}: license {info.get('license')!r}"
    readme = (ROOT / "README.md").read_text()
    assert readme.count(LICENCE) == 1


def test_readme_is_short_with_a_table_of_contents():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    assert "## Contents" in readme
    for anchor in re.findall(r"\]\(#([a-z0-9-]+)\)", readme):
        headings = {
            re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in re.findall(r"^#+ (.+)$", readme, re.M)
        }
        assert anchor in headings, f"README's contents link #{anchor} has no heading"


@pytest.mark.parametrize("page", [ROOT / "README.md", *DOCS], ids=lambda p: str(p.relative_to(ROOT)))
def test_links_stay_inside_the_repository_and_resolve(page):
    text = page.read_text()
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        assert not re.match(r"[a-z]+:", target), f"{page.relative_to(ROOT)} links outside the repository: {target}"
        path = target.split("#", 1)[0]
        if not path:
            continue
        resolved = (page.parent / path).resolve()
        assert resolved.exists(), f"{page.relative_to(ROOT)}: broken link {target}"


def deploy_summary(inventory, *extra, **env):
    """The summary play of deploy/site.yml alone (the other plays find no host under --limit)."""
    result = subprocess.run(
        [
            ROOT / ".venv" / "bin" / "ansible-playbook",
            "-i",
            inventory,
            "-i",
            "localhost,",
            "-c",
            "local",
            "deploy/site.yml",
            "--limit",
            "localhost",
            "--skip-tags",
            "sentry_config",
            *extra,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1", **env},
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return result.stdout[result.stdout.index("PLAY [Summary of this deploy]") :]


def test_deploy_summary_of_a_real_inventory_says_where_things_are():
    summary = deploy_summary("inventories/production")
    assert "Sentry URL: https://sentry.dermai.example (served by sentry-prod-1)" in summary
    assert "Admin user: sentry-admin@dermai.example" in summary
    assert "Env files (.env.production): /etc/dermai on app-prod-1" in summary
    assert "Skipped tags: sentry_config" in summary
    assert "local VM" not in summary


def test_deploy_summary_of_the_sandbox_says_how_to_reach_it_and_what_was_skipped():
    summary = deploy_summary(
        "inventories/local", "--skip-tags", "sentry_stack", LOCAL_VM_NAME="vm-x", LOCAL_VM_PORT_OFFSET="7"
    )
    assert "https port 8450 on 127.0.0.1, sending the name sentry.dermai.test" in summary
    assert "trust the CA " + str(ROOT / ".local-vm" / "vm-x-ca.crt") in summary
    assert "Env files (.env.production, .env.staging): /etc/dermai on dermai-vm" in summary
    assert "The sentry_stack tasks did not run" in summary and "sandbox test rig" in summary
    secrets = ROOT / ".local-vm" / "secrets"
    for secret in secrets.glob("*") if secrets.is_dir() else []:
        assert secret.read_text().split()[0] not in summary, f"the summary shows the secret {secret.name}"
