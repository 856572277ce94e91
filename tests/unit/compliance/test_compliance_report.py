"""The HIPAA compliance report of `make verify` (tests/verify/compliance.py), end to end.

A small suite stands in for tests/verify: checks mapped by marker and by name, passing, failing
and skipping with a reason. It runs in its own pytest process with the report plugin registered
the way tests/verify/conftest.py does; the HTML it writes is then rendered by headless Chromium
(Debian's `chromium`), and the rendered page must show every safeguard with its status.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.sandbox.browser import HEADLESS
from tests.verify.compliance import SAFEGUARDS

REPO = Path(__file__).resolve().parents[3]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

CONFTEST = """
from tests.verify import compliance

def pytest_addoption(parser):
    compliance.add_option(parser)

def pytest_configure(config):
    compliance.register(config, "inventories/example")
"""

SUITE = """
import pytest

@pytest.mark.hipaa("164.312(b)")
def test_audit_export_runs():
    pass

@pytest.mark.hipaa("164.312(b)", "164.308(a)(7)")
def test_audit_archive_keeps_six_years():
    assert 6 < 5, "keep_within 5y is shorter than 6 years"

@pytest.mark.hipaa("164.308(a)(7)")
def test_needs_the_stack():
    pytest.skip("needs the image-based stack: the Sentry API double serves instead")

def test_ufw_denies_incoming_by_default():
    pass

def test_protocols_follow_the_mozilla_profile():
    pass

def test_unrelated_helper_check():
    pass
"""


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("suite")
    suite = work / "tests" / "verify"  # only checks under the verify suite's directory report
    suite.mkdir(parents=True)
    (suite / "conftest.py").write_text(CONFTEST)
    (suite / "test_sample.py").write_text(SUITE)
    out = work / "out"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(work),
            f"--compliance-dir={out}",
            str(suite),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=work,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr  # one check fails on purpose
    assert "HIPAA compliance report:" in result.stdout
    return out


def test_report_is_skipped_outside_the_verify_suite(tmp_path):
    # tests/e2e loads the verify conftest too: its checks must not overwrite the verify report
    from tests.verify import compliance

    class Item:
        path = tmp_path / "tests" / "e2e" / "test_x.py"

    reporter = compliance.Reporter(None, tmp_path / "out", "inv")
    reporter.pytest_collection_modifyitems([Item()])
    assert reporter.checks == {}


def test_markdown_maps_each_safeguard_to_its_checks_with_outcomes(report):
    text = (report / "compliance.md").read_text()
    for sid, (title, _control) in SAFEGUARDS.items():
        assert f"## {sid} {title}:" in text
    assert re.search(r"## 164\.312\(b\) Audit controls: FAILED", text)
    assert re.search(r"\| `[^`]*test_audit_export_runs` \| passed \|", text)
    assert "keep_within 5y is shorter than 6 years" in text
    assert re.search(r"test_needs_the_stack` \| skipped \| needs the image-based stack: the Sentry API double", text)
    assert "## 164.312(a)(1) Access control: PASSED" in text  # by name: test_ufw_*
    assert "## 164.312(e)(1) Transmission security: PASSED" in text
    assert "## 164.312(a)(2)(iii) Automatic logoff: NOT VERIFIED" in text
    assert "test_unrelated_helper_check" not in text
    assert "- **Inventory:** inventories/example" in text
    assert re.search(r"- \*\*Date \(UTC\):\*\* \d{4}-\d\d-\d\d \d\d:\d\d:\d\d", text)
    assert re.search(r"- \*\*Bundle version:\*\* \S+", text)


def _chromium(*args: str) -> subprocess.CompletedProcess:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is missing (deploy/bin/test-packages.txt lists it; make test-deps)")
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    try:
        flags = [*HEADLESS, f"--user-data-dir={profile}"]
        return subprocess.run([CHROMIUM, *flags, *args], capture_output=True, text=True, timeout=90, check=False)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def test_html_renders_in_chromium_and_shows_every_safeguard(report):
    page = report / "compliance.html"
    result = _chromium("--dump-dom", page.as_uri())
    dom = result.stdout
    assert '<table id="summary">' in dom or 'id="summary"' in dom, result.stderr[-1000:]
    rows = re.findall(r'<tr class="safeguard-row" data-safeguard="([^"]+)">', dom)
    assert rows == list(SAFEGUARDS), rows
    for sid in SAFEGUARDS:
        assert f'<section id="{sid}">' in dom
    statuses = re.findall(r'<span class="status"[^>]*>([^<]+)</span>', dom)
    assert len(statuses) == len(SAFEGUARDS)
    assert set(statuses) == {"PASSED", "FAILED", "NOT VERIFIED"}


def test_html_screenshot_is_a_rendered_page(report, tmp_path):
    shot = tmp_path / "report.png"
    result = _chromium(f"--screenshot={shot}", "--window-size=1200,2400", (report / "compliance.html").as_uri())
    assert shot.exists(), result.stderr[-1000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000  # text and tables, not a blank page
