"""Role base calls systemd only for the units that are not yet as wanted (roles/base/vars/main.yml).

service.yml reads `systemctl show --property=Id,UnitFileState,ActiveState` of the enabled
features' units once and loops the systemd module over `_base_service_pending` only. These
tests feed that read canned systemctl output and evaluate the role's own expressions with
ansible-playbook (-c local, nothing is changed), then check which units would be called.
"""

from __future__ import annotations

from tests.unit.roles.conftest import evaluate_role_vars

UNITS = ["chrony", "apt-daily.timer", "apt-daily-upgrade.timer", "ssh.service", "ufw"]  # ssh: Debian 12


def show(*states: tuple[str, str]) -> str:
    """`systemctl show` output: one block per unit of UNITS, in order, (UnitFileState, ActiveState)."""
    blocks = [
        f"Id={unit if '.' in unit else unit + '.service'}\nActiveState={active}\nUnitFileState={enabled}"
        for unit, (enabled, active) in zip(UNITS, states, strict=True)
    ]
    return "\n\n".join(blocks) + "\n"


SETTLED = show(*[("enabled", "active")] * len(UNITS))


def pending(tmp_path, stdout: str, rc: int = 0, container: bool = False, **variables) -> list[str]:
    facts = {"distribution": "Debian", "distribution_major_version": "12", "distribution_version": "12.9"}
    read = {"rc": rc, "stdout": stdout}
    variables.update(__base_service_read=read, __base_detect_virt={"stdout": "docker" if container else "none"})
    return evaluate_role_vars(
        tmp_path,
        "base",
        "{{ _base_service_pending | map(attribute='unit') | list }}",
        {"ansible_facts": facts, **variables},
    )


def test_units_enabled_and_running_need_no_systemd_call(tmp_path):
    assert pending(tmp_path, SETTLED) == []


def test_a_disabled_unit_and_a_stopped_one_are_called_and_only_they(tmp_path):
    states = [("enabled", "active"), ("disabled", "active"), ("enabled", "active"), ("enabled", "inactive")]
    stdout = show(*states, ("enabled", "active"))
    assert pending(tmp_path, stdout) == ["apt-daily.timer", "ssh.service"]


def test_a_missing_unit_is_called(tmp_path):
    states = [("enabled", "active")] * 4
    assert pending(tmp_path, show(*states, ("", "inactive"))) == ["ufw"]


def test_in_a_container_chrony_only_has_to_be_enabled(tmp_path):
    states = [("enabled", "inactive")] + [("enabled", "active")] * 4
    assert pending(tmp_path, show(*states), container=True) == []
    assert pending(tmp_path, show(*states), container=False) == ["chrony"]


def test_when_systemctl_cannot_be_read_every_wanted_unit_is_called(tmp_path):
    assert pending(tmp_path, "", rc=1) == UNITS


def test_the_units_of_disabled_features_are_neither_read_nor_called(tmp_path):
    stdout = "Id=ssh.service\nActiveState=inactive\nUnitFileState=enabled\n"
    got = pending(
        tmp_path,
        stdout,
        base_time_sync_enabled=False,
        base_unattended_upgrades_enabled=False,
        base_firewall_enabled=False,
    )
    assert got == ["ssh.service"]
