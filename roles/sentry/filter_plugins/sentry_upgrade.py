"""Upgrade planner for getsentry/self-hosted: which releases to land on, and how.

Pure functions (no Ansible state), so the planner is testable on its own and the same code
serves the role (the FilterModule at the bottom) and deploy/bin/upgrade-plan. The facts
(hard stops, release lines with their install.sh flags, .env.custom mode, secret-key place,
registries, pre-steps, crossings) come from the role's vars/releases.yml, passed in as
``table``; nothing release-specific is written here.

A plan is a dict::

    {"ok", "error", "installed", "target", "fresh", "reinstall", "releases", "stops",
     "steps": [{"release", "install_args", "env_custom", "secret_key", "registries",
                "nginx_conf", "pre_steps", "backup_before", "restore_onto", "hard_stop",
                "reason", "crossings"}],
     "crossings": [...]}

``backup_before`` / ``restore_onto``: before each step of an upgrade a backup of the release
then installed is taken; when the step fails, that backup is restored onto that release
(migrations only go forward: the previous release never runs on migrated data).
"""

from __future__ import annotations

import re
from pathlib import Path

VERSION_PATTERN = r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$"
_VERSION_RE = re.compile(VERSION_PATTERN)
TABLE_FILE = Path(__file__).resolve().parents[1] / "vars" / "releases.yml"
_IMAGE_TAG_RE = re.compile(r"(?:^|/)getsentry/(?:sentry|snuba|relay|symbolicator|vroom|taskbroker):([0-9.]+)$")


class UpgradePlanError(ValueError):
    """The requested move between two releases is impossible or unsafe."""


def load_table(path: str | Path | None = None) -> dict:
    """The release table (vars/releases.yml), for callers outside Ansible."""
    import yaml

    data = yaml.safe_load(Path(path or TABLE_FILE).read_text())
    return data["_sentry_releases"]


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


def _is_fresh(value: object) -> bool:
    return value is None or str(value).strip() in ("", "none", "None")


def release_facts(version: object, table: dict) -> dict:
    """The release line holding ``version`` (the last line whose ``since`` <= version)."""
    wanted = parse_version(version)
    lines = sorted(table["lines"], key=lambda line: parse_version(line["since"]))
    found = None
    for line in lines:
        if parse_version(line["since"]) <= wanted:
            found = line
    if found is None:
        raise UpgradePlanError(
            f"release {version} is older than every release line the bundle knows (the oldest starts at "
            f"{lines[0]['since']})"
        )
    return dict(found)


def _normalise_stops(stops: list) -> list[dict]:
    result = []
    for stop in stops or []:
        entry = dict(stop) if isinstance(stop, dict) else {"version": str(stop), "reason": "hard stop"}
        parse_version(entry.get("version"), "hard stop")
        if entry.get("when_target_after"):
            parse_version(entry["when_target_after"], "when_target_after of hard stop")
        entry.setdefault("reason", "hard stop")
        result.append(entry)
    return sorted(result, key=lambda s: parse_version(s["version"]))


def _releases(current: object, target: object, stops: list) -> list[dict]:
    """Releases to install in order: each stop strictly between, then the target."""
    target_v = parse_version(target, "target version (sentry_version)")
    if _is_fresh(current):
        return [{"version": str(target).strip(), "hard_stop": False, "reason": "target"}]
    current_v = parse_version(current, "installed version")
    if current_v == target_v:
        return []
    if current_v > target_v:
        raise UpgradePlanError(
            f"refusing to downgrade from {current} to {target}: Sentry's database migrations only go "
            "forward. Set sentry_version to a release >= the installed one, or restore a backup "
            "taken at that version."
        )
    plan: list[dict] = []
    for stop in _normalise_stops(stops):
        stop_v = parse_version(stop["version"])
        if not current_v < stop_v < target_v:
            continue
        gate = stop.get("when_target_after")
        if gate and not target_v > parse_version(gate):
            continue
        if stop["version"] not in [p["version"] for p in plan]:
            plan.append({"version": stop["version"], "hard_stop": True, "reason": stop["reason"]})
    plan.append({"version": str(target).strip(), "hard_stop": False, "reason": "target"})
    return plan


def plan_upgrade(current: object, target: object, stops: list, available: list | None = None) -> list[str]:
    """Ordered release tags to install to go from ``current`` to ``target`` (``[]``: nothing)."""
    plan = [entry["version"] for entry in _releases(current, target, stops)]
    _check_available(plan, available)
    return plan


def _check_available(plan: list[str], available: list | None) -> None:
    if available is None:
        return
    known = {str(tag).strip() for tag in available}
    missing = [version for version in plan if version not in known]
    if missing:
        raise UpgradePlanError(
            "the repository (sentry_repo_url) has no tag for "
            + ", ".join(missing)
            + ": mirror these tags or point sentry_repo_url at a repository that has them"
        )


def _step_args(facts: dict, release: str, extra_args: list) -> list[str]:
    accepted = facts["install_flags"]
    refused = [arg for arg in extra_args if arg not in accepted]
    if refused:
        raise UpgradePlanError(
            f"sentry_install_args={list(extra_args)}: install.sh of {release} refuses {', '.join(refused)} "
            f"(it accepts only {', '.join(a for a in accepted if a not in ('-h', '--help', '--'))}). "
            "Remove them, or pin a release that accepts them."
        )
    args = list(facts["install_args"])
    return args + [arg for arg in extra_args if arg not in args]


def build_plan(
    installed: object,
    target: object,
    table: dict,
    extra_stops: list | None = None,
    available: list | None = None,
    extra_args: list | None = None,
    compose_command: str = "docker compose",
) -> dict:
    """The full plan the role executes and upgrade-plan prints; raises UpgradePlanError."""
    parse_version(target, "target version (sentry_version)")
    target = str(target).strip()
    fresh = _is_fresh(installed)
    installed = None if fresh else str(installed).strip()
    avoid = {entry["version"]: entry for entry in table.get("avoid", [])}
    if target in avoid:
        raise UpgradePlanError(
            f"sentry_version={target} is a release upgrades must not land on (sentry-docs #17492): "
            f"set sentry_version to {avoid[target]['use']} (or a later release)."
        )
    if not fresh:
        parse_version(installed, "installed version")
        oldest = table["oldest_supported"]
        if parse_version(installed) < parse_version(oldest):
            raise UpgradePlanError(
                f"the installed release {installed} is older than {oldest}, the oldest this bundle upgrades "
                f"from. {table['below_oldest'].strip()}"
            )
    entries = _releases(installed, target, list(table["hard_stops"]) + list(extra_stops or []))
    _check_available([e["version"] for e in entries], available)
    compose = str(compose_command).split()
    steps = []
    previous = installed
    for entry in entries:
        release = entry["version"]
        facts = release_facts(release, table)
        pre_steps = []
        for pre in table.get("pre_steps") or []:
            gate = parse_version(pre["crossing"])
            if previous is not None and parse_version(previous) < gate <= parse_version(release):
                pre_steps.append({"why": " ".join(pre["why"].split()), "argv": compose + list(pre["compose_args"])})
        crossings = []
        for crossing in table.get("crossings", []):
            at = parse_version(crossing["version"])
            if previous is not None and parse_version(previous) < at <= parse_version(release):
                crossings.append(
                    {
                        "version": crossing["version"],
                        "what": crossing["what"],
                        "reason": f"upgraded {installed} -> {target} across {crossing['version']}: "
                        + " ".join(crossing["reason"].split()),
                    }
                )
        steps.append(
            {
                "release": release,
                "install_args": _step_args(facts, release, list(extra_args or [])),
                "env_custom": facts["env_custom"],
                "secret_key": facts["secret_key"],
                "registries": list(facts["registries"]),
                "nginx_conf": facts["nginx_conf"],
                "pre_steps": pre_steps,
                "backup_before": previous is not None,
                "restore_onto": previous,
                "hard_stop": entry["hard_stop"],
                "reason": entry["reason"],
                "crossings": crossings,
            }
        )
        previous = release
    return {
        "ok": True,
        "error": "",
        "installed": installed,
        "target": target,
        "fresh": fresh,
        "releases": [s["release"] for s in steps],
        "stops": [s["release"] for s in steps[:-1]],
        "steps": steps,
        "crossings": [c for s in steps for c in s["crossings"]],
    }


def check_plan(
    table, installed, target, extra_stops=None, available=None, extra_args=None, compose_command="docker compose"
):
    """build_plan for a task: ``table | sentry_upgrade_check(installed, target, ...)``; returns
    ``{"ok": False, "error": ...}`` instead of raising, so an assert can print the reason."""
    try:
        return build_plan(installed, target, table, extra_stops, available, extra_args, compose_command)
    except (UpgradePlanError, KeyError, TypeError) as exc:
        return {"ok": False, "error": str(exc), "steps": [], "stops": [], "releases": [], "crossings": []}


def current_facts(table: dict, version: object, extra_args: list | None = None, installed: object = None) -> dict:
    """A plan step for ``version`` alone: a converge, a fresh install or a reinstall at the
    installed release (``installed``), with no backup and no pre-steps."""
    facts = release_facts(version, table)
    return {
        "release": str(version).strip(),
        "install_args": _step_args(facts, str(version), list(extra_args or [])),
        "env_custom": facts["env_custom"],
        "secret_key": facts["secret_key"],
        "registries": list(facts["registries"]),
        "nginx_conf": facts["nginx_conf"],
        "pre_steps": [],
        "backup_before": False,
        "restore_onto": None if _is_fresh(installed) else str(installed).strip(),
        "hard_stop": False,
        "reason": "target",
        "crossings": [],
    }


def images_from_ps(text: str) -> list[str]:
    """Image of each container in ``docker compose ps --format json`` output (a JSON array
    before Compose 2.21, one JSON object per line since)."""
    import json

    text = str(text or "").strip()
    if not text:
        return []
    try:
        data = json.loads(text)
        rows = data if isinstance(data, list) else [data]
    except ValueError:
        rows = []
        for line in text.splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue
    return [str(row.get("Image", "")) for row in rows if isinstance(row, dict)]


def detect_installed(
    marker: object = "", checkout_tag: object = "", env_text: object = "", container_images=None
) -> dict:
    """Which release an existing install runs, from what the host shows.

    Order of trust: the bundle's marker; the images of running containers (what migrated the
    data); the checkout's exact tag; the image tags in the checkout's .env. Returns
    ``{"version", "source", "detail"}``; version "" when nothing shows an install.
    """
    seen = []
    if isinstance(container_images, str):
        container_images = images_from_ps(container_images)
    if is_release_version(marker):
        return {"version": str(marker).strip(), "source": "marker", "detail": f"install marker says {marker}"}
    running = sorted(
        {m.group(1) for image in container_images or [] if (m := _IMAGE_TAG_RE.search(str(image).strip()))},
        key=lambda v: parse_version(v) if is_release_version(v) else (0, 0, 0),
    )
    running = [v for v in running if is_release_version(v)]
    tag = str(checkout_tag or "").strip()
    env_tags = sorted(
        {
            m.group(1)
            for line in str(env_text or "").splitlines()
            if (m := _IMAGE_TAG_RE.search(line.split("=", 1)[-1].strip()))
        }
    )
    env_tags = [v for v in env_tags if is_release_version(v)]
    if is_release_version(tag):
        seen.append(f"checkout at tag {tag}")
    if env_tags:
        seen.append(f".env images at {', '.join(env_tags)}")
    if running:
        # The oldest image still running is what the data was last migrated by.
        version = running[0]
        detail = f"running containers use images of {', '.join(running)}"
        if seen:
            detail += " (" + "; ".join(seen) + ")"
        return {"version": version, "source": "containers", "detail": detail}
    if is_release_version(tag):
        return {"version": tag, "source": "checkout", "detail": "; ".join(seen)}
    if env_tags:
        return {"version": env_tags[0], "source": "env", "detail": "; ".join(seen)}
    return {"version": "", "source": "none", "detail": "no marker, no release checkout, no Sentry images"}


def render_env_custom_full(env_text: str, overrides: dict) -> str:
    """A complete .env.custom for releases whose install.sh reads only that file.

    Every KEY=value line of upstream's .env is kept in order, with the overrides' values
    substituted; overrides not in .env are appended. Values are single-quoted.
    """
    lines, done = [], set()
    for raw in str(env_text).splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#") or "=" not in stripped:
            continue
        key, value = stripped.split("=", 1)
        key = key.strip()
        if key in overrides:
            value = str(overrides[key])
            done.add(key)
        else:
            value = value.strip().strip("'\"")
        lines.append(f"{key}='{value}'")
    lines += [f"{key}='{value}'" for key, value in overrides.items() if key not in done]
    return "\n".join(lines) + "\n"


FORWARDED_PROTO_LINE = re.compile(r"^(\s*)proxy_set_header\s+X-Forwarded-Proto\s+\$scheme\s*;\s*$", re.M)
_HTTP_OPEN = re.compile(r"^(\s*)http\s*\{\s*$", re.M)


def nginx_forwarded_proto(conf: str) -> str:
    """upstream's nginx.conf, changed to pass on the X-Forwarded-Proto it receives.

    Upstream sets ``X-Forwarded-Proto $scheme`` (always http inside the stack), so the https of
    the TLS proxy in front never reaches Django. The result keeps every other line and uses
    the received header when there is one, else $scheme.
    """
    text = str(conf)
    if len(FORWARDED_PROTO_LINE.findall(text)) != 1 or len(_HTTP_OPEN.findall(text)) != 1:
        raise UpgradePlanError(
            "the bundled nginx.conf no longer has exactly one `http {` block with one "
            "`proxy_set_header X-Forwarded-Proto $scheme;` line: read the release's nginx.conf and "
            "adapt nginx_forwarded_proto in roles/sentry/filter_plugins/sentry_upgrade.py"
        )
    text = FORWARDED_PROTO_LINE.sub(r"\1proxy_set_header X-Forwarded-Proto $dermai_forwarded_proto;", text)
    block = (
        "\\1http {\n"
        "\\1\t# DermAI bundle: keep the scheme the TLS proxy in front of SENTRY_BIND (loopback only) sent.\n"
        "\\1\tmap $http_x_forwarded_proto $dermai_forwarded_proto {\n"
        "\\1\t\tdefault $http_x_forwarded_proto;\n"
        '\\1\t\t"" $scheme;\n'
        "\\1\t}\n"
    )
    return _HTTP_OPEN.sub(block, text, count=1)


def registry_hosts(images) -> list[str]:
    """Registry host of each image reference (Docker Hub for bare names), deduplicated, sorted."""
    hosts = set()
    for image in images or []:
        ref = str(image).strip()
        if not ref:
            continue
        if ref.split("@", 1)[0].rsplit(":", 1)[0].endswith("-local"):
            continue  # images compose builds on the host (sentry-self-hosted-local)
        first = ref.split("/", 1)[0]
        if "/" in ref and ("." in first or ":" in first or first == "localhost"):
            hosts.add(first)
        else:
            hosts.add("docker.io")
    return sorted(hosts)


def services_mounting(config: object, target: str = "/etc/sentry") -> list[str]:
    """Services of ``docker compose config --format json`` output that mount ``target``."""
    import json

    data = json.loads(config) if isinstance(config, str) else dict(config or {})
    names = []
    for name, service in (data.get("services") or {}).items():
        for volume in service.get("volumes") or []:
            if isinstance(volume, dict) and volume.get("target") == target:
                names.append(name)
                break
    return sorted(names)


class FilterModule:
    """Jinja filters of the sentry role."""

    def filters(self):
        return {
            "sentry_upgrade_plan": plan_upgrade,
            "sentry_upgrade_check": check_plan,
            "sentry_release_facts": current_facts,
            "sentry_detect_installed": detect_installed,
            "sentry_env_custom_full": render_env_custom_full,
            "sentry_nginx_forwarded_proto": nginx_forwarded_proto,
            "sentry_registry_hosts": registry_hosts,
            "sentry_services_mounting": services_mounting,
            "sentry_is_release_version": is_release_version,
        }
