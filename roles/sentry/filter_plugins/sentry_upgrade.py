"""Upgrade planner for getsentry/self-hosted: which releases to land on, in order.

Pure functions (no Ansible state) so the planner is unit-testable on its own; the
FilterModule at the bottom exposes them to the role as Jinja filters.

Facts encoded by the role's vars/main.yml (not here): the hard-stop list and the
ClickHouse-chain stop. A stop is a dict ``{"version": "X.Y.Z", "reason": str}`` with an
optional ``"when_target_after": "X.Y.Z"``: such a stop is only required when the target
is newer than that version (the ClickHouse upgrade script of later releases only knows
the last step of the chain).
"""

from __future__ import annotations

import re

VERSION_PATTERN = r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$"
_VERSION_RE = re.compile(VERSION_PATTERN)


class UpgradePlanError(ValueError):
    """The requested move between two releases is impossible or unsafe."""


def parse_version(value: object, what: str = "version") -> tuple[int, int, int]:
    """Return a comparable tuple for a release tag such as ``26.8.0``; refuse anything else."""
    text = str(value).strip() if value is not None else ""
    match = _VERSION_RE.match(text)
    if not match:
        raise UpgradePlanError(
            f"{what} {text!r} is not a release tag of getsentry/self-hosted (expected YY.M.MICRO such as "
            "26.8.0; branch names such as master or nightly are refused)"
        )
    return (int(match.group(1)), int(match.group(2)), int(match.group(3)))


def is_release_version(value: object) -> bool:
    """True when value looks like a release tag (never a branch such as master)."""
    try:
        parse_version(value)
    except UpgradePlanError:
        return False
    return True


def _normalise_stops(stops: list) -> list[dict]:
    result = []
    for stop in stops or []:
        entry = dict(stop) if isinstance(stop, dict) else {"version": str(stop), "reason": "hard stop"}
        parse_version(entry.get("version"), "hard stop")
        if entry.get("when_target_after"):
            parse_version(entry["when_target_after"], "when_target_after of hard stop")
        result.append(entry)
    return sorted(result, key=lambda s: parse_version(s["version"]))


def plan_upgrade(current: object, target: object, stops: list, available: list | None = None) -> list[str]:
    """Ordered releases to install to go from ``current`` to ``target``, ending with ``target``.

    - ``current`` empty/None: a fresh install, straight to ``target``.
    - ``current == target``: nothing to install (``[]``).
    - ``current > target``: a downgrade, refused (Sentry's migrations only go forward).
    - otherwise every stop strictly between the two, in order, then ``target``.
    - ``available`` (optional, the repository's tags): refuse when a release of the plan is missing.
    """
    target_v = parse_version(target, "target version (sentry_version)")
    fresh = current is None or str(current).strip() in ("", "none", "None")
    if fresh:
        plan = [str(target).strip()]
    else:
        current_v = parse_version(current, "installed version (from the install marker)")
        if current_v == target_v:
            return []
        if current_v > target_v:
            raise UpgradePlanError(
                f"refusing to downgrade from {current} to {target}: Sentry's database migrations only go "
                "forward. Set sentry_version to a release >= the installed one, or restore a backup "
                "taken at that version."
            )
        plan = []
        for stop in _normalise_stops(stops):
            stop_v = parse_version(stop["version"])
            if not current_v < stop_v < target_v:
                continue
            gate = stop.get("when_target_after")
            if gate and not target_v > parse_version(gate):
                continue
            if stop["version"] not in plan:
                plan.append(stop["version"])
        plan.append(str(target).strip())
    if available is not None:
        known = {str(tag).strip() for tag in available}
        missing = [version for version in plan if version not in known]
        if missing:
            raise UpgradePlanError(
                "the repository (sentry_repo_url) has no tag for "
                + ", ".join(missing)
                + ": mirror these tags or point sentry_repo_url at a repository that has them"
            )
    return plan


def upgrade_stops(current: object, target: object, stops: list, available: list | None = None) -> list[str]:
    """The intermediate releases only (the plan without its final target)."""
    return plan_upgrade(current, target, stops, available)[:-1]


def check_upgrade(current: object, target: object, stops: list, available: list | None = None) -> dict:
    """Like plan_upgrade, but returns ``{"ok", "plan", "stops", "error"}`` so a task can assert on it."""
    try:
        plan = plan_upgrade(current, target, stops, available)
    except UpgradePlanError as exc:
        return {"ok": False, "plan": [], "stops": [], "error": str(exc)}
    return {"ok": True, "plan": plan, "stops": plan[:-1], "error": ""}


class FilterModule:
    """Jinja filters of the sentry role."""

    def filters(self):
        return {
            "sentry_upgrade_plan": plan_upgrade,
            "sentry_upgrade_stops": upgrade_stops,
            "sentry_upgrade_check": check_upgrade,
            "sentry_is_release_version": is_release_version,
        }
