"""docs/privacy.md: the SDK example DermAI copies is valid, ruff-clean Python, and its hooks work."""

from __future__ import annotations

import re
import subprocess
import sys
import types
from pathlib import Path

from tests.phi import corpus

REPO = Path(__file__).resolve().parents[3]
DOC = REPO / "docs" / "privacy.md"
RUFF = Path(sys.executable).with_name("ruff")


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)


def test_the_python_example_is_ruff_formatted_and_lint_clean(tmp_path):
    (block,) = python_blocks()
    path = tmp_path / "example.py"
    path.write_text(block)
    config = ["--config", str(REPO / "pyproject.toml")]
    fmt = subprocess.run([RUFF, "format", "--diff", *config, path], capture_output=True, text=True, check=False)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr
    lint = subprocess.run([RUFF, "check", *config, path], capture_output=True, text=True, check=False)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def load_example():
    """Execute the example with the FastAPI/Starlette integrations stubbed (no web framework here)."""
    (block,) = python_blocks()
    stubs = {}
    for name, cls in (("fastapi", "FastApiIntegration"), ("starlette", "StarletteIntegration")):
        module = types.ModuleType(f"sentry_sdk.integrations.{name}")
        setattr(module, cls, type(cls, (), {"__init__": lambda self, **kw: None}))
        stubs[module.__name__] = module
    saved = {k: sys.modules.get(k) for k in stubs}
    sys.modules.update(stubs)
    try:
        namespace: dict = {}
        exec(compile(block, "docs/privacy.md", "exec"), namespace)  # noqa: S102 - our own documentation
        return namespace
    finally:
        for key, value in saved.items():
            if value is None:
                sys.modules.pop(key, None)
            else:
                sys.modules[key] = value


def test_before_send_removes_what_the_server_cannot_reach():
    example = load_example()
    phi = next(p for p in corpus.PHI if p.literal == "88123")
    event = corpus.error_event(phi)
    event["transaction"] = "/api/v1/patients/88123/notes"
    out = example["before_send"](event, {})
    assert out["transaction"] == "/api/v1/patients/{patient_id}/notes"
    assert out["request"]["url"] == "https://api.dermai.example/api/v1/patients/{patient_id}/notes"
    assert "data" not in out["request"] and "query_string" not in out["request"]
    assert out["user"] == {"id": "clinician-17"}
    crumb = example["before_breadcrumb"]({"category": "navigation", "data": {"to": "/patients/88123?tab=images"}}, {})
    assert crumb["data"]["to"] == "/patients/{patient_id}"
