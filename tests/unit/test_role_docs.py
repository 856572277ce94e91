"""Each role's README.md is generated from its meta/argument_specs.yml and must not be stale."""

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT / "deploy" / "bin" / "role-docs"
ROLES = sorted(p.parents[1] for p in (ROOT / "roles").glob("*/meta/argument_specs.yml"))


def test_every_role_readme_matches_its_argument_specs():
    result = subprocess.run([sys.executable, GENERATOR, "--check"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr + "\nRun `make role-docs` and commit the READMEs."


def test_every_role_readme_names_every_variable_of_its_spec():
    for role in ROLES:
        readme = (role / "README.md").read_text()
        specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
        for name in specs["main"].get("options") or {}:
            assert f"| `{name}` |" in readme, f"roles/{role.name}/README.md does not document {name}"


def test_check_mode_reports_a_stale_readme(tmp_path):
    # The generator's --check must fail on a README that differs from the spec (run on a copy).
    copy = tmp_path / "repo"
    (copy / "deploy" / "bin").mkdir(parents=True)
    (copy / "deploy" / "bin" / "role-docs").write_text(GENERATOR.read_text())
    role = copy / "roles" / "demo"
    (role / "meta").mkdir(parents=True)
    (role / "meta" / "argument_specs.yml").write_text(
        "argument_specs:\n  main:\n    short_description: Demo\n    options:\n"
        "      demo_port:\n        type: int\n        default: 80\n        description: A port.\n"
    )
    gen = [sys.executable, copy / "deploy" / "bin" / "role-docs"]
    assert subprocess.run([*gen, "--check"], capture_output=True, check=False).returncode == 1
    subprocess.run(gen, check=True, capture_output=True)
    readme = (role / "README.md").read_text()
    assert "| `demo_port` | int | `80` | A port. |" in readme
    assert subprocess.run([*gen, "--check"], capture_output=True, check=False).returncode == 0
    (role / "meta" / "argument_specs.yml").write_text(
        (role / "meta" / "argument_specs.yml").read_text().replace("default: 80", "default: 8080")
    )
    stale = subprocess.run([*gen, "--check"], capture_output=True, text=True, check=False)
    assert stale.returncode == 1
    assert "roles/demo/README.md" in stale.stderr
