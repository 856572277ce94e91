"""Testinfra hosts of the verify suite, taken from an Ansible inventory.

    pytest tests/verify                                   # the local VM (inventories/local)
    pytest tests/verify --inventory-dir inventories/production

The suite runs against every host of the inventory's `sentry` group, through
testinfra's ansible backend (SSH as the inventory says, commands run as root through
sudo). Inventories template their connection settings (the local one reads
LOCAL_VM_PORT_OFFSET, its key path, ...), which testinfra does not do, so the values are
resolved once by Ansible itself into a temporary inventory that testinfra reads.

Fixtures besides testinfra's `host`:
- `outside(host, port) -> (address, port)`: where a test on this machine reaches a
  port of the host "from outside". The local VM publishes its ports on 127.0.0.1 under
  other numbers (host var `local_vm_published_ports`); for a real inventory it is the
  identity (ansible_host, port).
- `inventory_var(host, name)`: a variable of the host as Ansible templates it (for
  tests that read the same settings the roles used, e.g. `sentry_bind`).

Other suites (tests/e2e) load this file as a plugin: `pytest -p tests.verify.conftest`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path

import pytest

from tests.verify import compliance

REPO = Path(__file__).resolve().parents[2]
GROUP = "sentry"

# The connection settings testinfra's ansible backend reads, and the local VM's port map.
_RESOLVE = {
    "ansible_host": "ansible_host | default(inventory_hostname)",
    "ansible_port": "ansible_port | default(none)",
    "ansible_user": "ansible_user | default(none)",
    "ansible_connection": "ansible_connection | default(none)",
    "ansible_ssh_private_key_file": "ansible_ssh_private_key_file | default(ansible_private_key_file | default(none))",
    "ansible_ssh_common_args": "ansible_ssh_common_args | default(none)",
    "ansible_ssh_extra_args": "ansible_ssh_extra_args | default(none)",
    "local_vm_published_ports": "local_vm_published_ports | default(none)",
}

# Resolved variables of each host, by inventory name (filled at configure time).
_HOSTS: dict[str, dict] = {}
_STATE: dict[str, object] = {}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--inventory-dir",
        default=os.environ.get("INVENTORY", "inventories/local"),
        help="Ansible inventory whose `sentry` hosts the suite checks (default: inventories/local)",
    )
    compliance.add_option(parser)


def _ansible_env() -> dict[str, str]:
    env = dict(os.environ)
    # The venv's Ansible, and this checkout's ansible.cfg wherever pytest was started.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("ANSIBLE_CONFIG", str(REPO / "ansible.cfg"))
    env["ANSIBLE_LOAD_CALLBACK_PLUGINS"] = "1"
    env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.builtin.json"
    env["ANSIBLE_DEPRECATION_WARNINGS"] = "0"
    return env


def _template_on_hosts(inventory: str, pattern: str, expressions: dict[str, str]) -> dict[str, dict]:
    """Template `expressions` for each host matching `pattern`, the way a play would."""
    mapping = ", ".join(f"{json.dumps(name)}: ({expr})" for name, expr in expressions.items())
    args = json.dumps({"msg": "{{ {" + mapping + "} }}"})
    result = subprocess.run(
        ["ansible", "-i", inventory, pattern, "-m", "ansible.builtin.debug", "-a", args],
        capture_output=True,
        text=True,
        env=_ansible_env(),
        cwd=REPO,
        check=False,
    )
    start = re.search(r"^\{", result.stdout, re.MULTILINE)
    if result.returncode != 0 or start is None:
        output = result.stdout[-2000:] + result.stderr[-2000:]
        raise pytest.UsageError(f"Could not read the inventory {inventory} (hosts '{pattern}'):\n{output}")
    report, _ = json.JSONDecoder().raw_decode(result.stdout, start.start())
    hosts = report["plays"][0]["tasks"][0]["hosts"] if report["plays"] else {}
    failed = {name: res.get("msg") for name, res in hosts.items() if res.get("failed")}
    if failed:
        raise pytest.UsageError(f"Could not template variables of {sorted(failed)}: {failed}")
    return {name: res["msg"] for name, res in hosts.items()}


def _resolved_inventory(hosts: dict[str, dict]) -> dict:
    entries = {}
    for name, values in hosts.items():
        entry = {key: value for key, value in values.items() if value is not None}
        entry.pop("local_vm_published_ports", None)
        # The suite checks root-owned state: every command runs through sudo.
        entry["ansible_become"] = True
        entries[name] = entry
    return {"all": {"children": {GROUP: {"hosts": entries}}}}


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # The HIPAA compliance report (.artifacts/verify/compliance.md/.html) of this run.
    compliance.register(config, config.getoption("inventory_dir"))
    if config.option.hosts is not None:
        return  # the user named hosts explicitly (testinfra's --hosts)
    inventory = str((REPO / config.getoption("inventory_dir")).resolve())
    if not Path(inventory).exists():
        raise pytest.UsageError(f"--inventory-dir: {inventory} does not exist")
    hosts = _template_on_hosts(inventory, GROUP, _RESOLVE)
    if not hosts:
        raise pytest.UsageError(f"The inventory {inventory} has no host in the group '{GROUP}'")
    for name, values in hosts.items():
        ports = values.get("local_vm_published_ports") or {}
        values["local_vm_published_ports"] = {int(vm): int(published) for vm, published in ports.items()}
        _HOSTS[name] = values

    tmpdir = tempfile.mkdtemp(prefix="verify-inventory-")
    resolved = Path(tmpdir) / "inventory.json"
    resolved.write_text(json.dumps(_resolved_inventory(hosts), indent=2))
    _STATE.update(inventory=inventory, tmpdir=tmpdir)
    os.environ["PATH"] = _ansible_env()["PATH"]  # testinfra calls ansible-inventory itself
    os.environ.setdefault("ANSIBLE_CONFIG", str(REPO / "ansible.cfg"))
    config.option.connection = "ansible"
    config.option.ansible_inventory = str(resolved)
    config.option.hosts = ",".join(sorted(hosts))


def pytest_unconfigure(config: pytest.Config) -> None:
    tmpdir = _STATE.pop("tmpdir", None)
    if tmpdir:
        shutil.rmtree(str(tmpdir), ignore_errors=True)


def pytest_report_header(config: pytest.Config) -> list[str]:
    if not _HOSTS:
        return []
    return [f"inventory: {_STATE['inventory']} (group {GROUP}: {', '.join(sorted(_HOSTS))})"]


def _inventory_name(host) -> str:
    name = getattr(host.backend, "host", None)
    if name not in _HOSTS:
        raise LookupError(f"{name!r} is not a host of the inventory under test ({sorted(_HOSTS)})")
    return name


def outside(host, port: int) -> tuple[str, int]:
    """Address and port on which this machine reaches `port` of `host` from outside."""
    values = _HOSTS[_inventory_name(host)]
    published = values["local_vm_published_ports"]
    if published:
        if port not in published:
            raise LookupError(f"port {port} of the local VM is not published (local_vm_published_ports: {published})")
        return "127.0.0.1", published[port]
    return str(values["ansible_host"]), port


@cache
def _inventory_var(inventory: str, name: str, variable: str):
    return _template_on_hosts(inventory, name, {"value": variable})[name]["value"]


@pytest.fixture(name="outside", scope="session")
def outside_fixture():
    """`outside(host, port) -> (address, port)`, see the module docstring."""
    return outside


@pytest.fixture(scope="session")
def inventory_var():
    """`inventory_var(host, name)`: the host's variable `name`, templated by Ansible."""

    def lookup(host, name: str):
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ValueError(f"not a variable name: {name!r}")
        return _inventory_var(str(_STATE["inventory"]), _inventory_name(host), name)

    return lookup
