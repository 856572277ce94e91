# Copyright: DermAI
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check every sentry_config_* variable before anything talks to Sentry, and normalise the lists.

Runs on the controller only (no module is executed). Reads the role's meta/argument_specs.yml,
the single source of truth of the variables, and

- refuses a sentry_config_* variable the spec does not declare, naming the closest declared one;
- checks types strictly (a string is never split into a list, "yes" is not a list element ...),
  choices and required sub-options, recursively, naming the variable and the item;
- checks what the spec cannot say: name lengths and patterns of Sentry's serializers, platform ids,
  rule node ids, references between the lists (alert projects, kinds, environments);
- returns the lists with every sub-option default of the spec filled in, as the private facts
  _sentry_config_<name> (team, projects, environments, issue_alerts, metric_alerts), so the tasks and
  templates never repeat a default.
"""

from __future__ import annotations

import difflib
import os
import re

import yaml
from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

# The rule node ids (CONDITION_IDS, FILTER_IDS, ACTION_IDS are imported for the tests that compare them with
# Sentry's registry) and the platform ids: one list each, the collection's.
from ansible_collections.dermai.sentry.plugins.module_utils.sentry_checks import (  # noqa: F401
    ACTION_IDS,
    CONDITION_IDS,
    FILTER_IDS,
    NODE_IDS,
)
from ansible_collections.dermai.sentry.plugins.module_utils.sentry_checks import PLATFORMS as _COLLECTION_PLATFORMS

SPEC_FILE = os.path.join(os.path.dirname(__file__), "..", "meta", "argument_specs.yml")
PREFIX = "sentry_config_"
NORMALISED = ("team", "projects", "environments", "issue_alerts", "metric_alerts")
BOOL_STRINGS = {"yes": True, "true": True, "on": True, "1": True, "no": False, "false": False, "off": False, "0": False}

# Limits of Sentry's serializers. Where releases differ, the lower one (Sentry 23.7.1, the oldest
# release the bundle is tested against) so that a configuration valid here is valid on every release:
# TeamProjectsEndpoint ProjectPostSerializer name/slug max_length 50 (src/sentry/api/endpoints/team_projects.py),
# OrganizationTeams team name 64 / slug 50, RuleSerializer name 64, AlertRuleSerializer name 64
# (src/sentry/incidents/serializers/alert_rule.py), Environment.name 64 without newline or "/".
SLUG_RE = re.compile(r"^[a-z0-9_-]{1,50}$")
ORG_SLUG_RE = re.compile(r"^[a-zA-Z0-9_-]{1,50}$")
ENV_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
PROJECT_NAME_MAX = 50
TEAM_NAME_MAX = 64
RULE_NAME_MAX = 64
METRIC_NAME_MAX = 64


# Sentry accepts an empty platform, "other" or one of GETTING_STARTED_DOCS_PLATFORMS
# (src/sentry/models/project.py); Sentry has no API that lists them.
PLATFORMS = frozenset(_COLLECTION_PLATFORMS)


def load_spec(path=SPEC_FILE):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)["argument_specs"]["main"]["options"]


def closest(name, candidates):
    match = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f' (did you mean "{match[0]}"?)' if match else ""


def _type_name(value):
    # Ansible wraps values in its own subclasses (tagged str, ...): name the base type.
    for kind, name in ((bool, "a boolean"), (str, "a string"), (int, "an integer"), (float, "a number")):
        if isinstance(value, kind):
            return name
    for kind, name in ((list, "a list"), (dict, "a dict")):
        if isinstance(value, kind):
            return name
    return type(value).__name__


class Checker:
    """Collects every problem (not just the first) so one run lists all of them."""

    def __init__(self):
        self.errors = []

    def error(self, where, text):
        self.errors.append(f"{where}: {text}")

    # --- spec-driven type checks and normalisation ------------------------------------------------
    def value(self, where, spec, value):
        """The value converted to the spec's type (strictly), or None after recording an error."""
        kind = spec.get("type", "str")
        if value is None:
            return None
        shown = "(hidden)" if spec.get("no_log") else repr(value)
        if kind == "raw":
            pass
        elif kind in ("str", "path"):
            if not isinstance(value, str):
                hint = ' (quote it: "0600")' if isinstance(value, int) and "mode" in where else ""
                self.error(where, f"must be a string, got {_type_name(value)} {shown}{hint}")
                return None
        elif kind == "bool":
            if isinstance(value, str) and value.lower() in BOOL_STRINGS:
                value = BOOL_STRINGS[value.lower()]
            if not isinstance(value, bool):
                self.error(where, f"must be true or false, got {_type_name(value)} {shown}")
                return None
        elif kind == "int":
            if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value.strip()):
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int):
                self.error(where, f"must be an integer, got {_type_name(value)} {shown}")
                return None
        elif kind == "float":
            if isinstance(value, str) and re.fullmatch(r"-?[0-9]+(\.[0-9]*)?", value.strip()):
                value = float(value)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                self.error(where, f"must be a number, got {_type_name(value)} {shown}")
                return None
        elif kind == "list":
            if not isinstance(value, list):
                self.error(
                    where,
                    f"must be a YAML list, got {_type_name(value)} {shown} (a string is not split into items: "
                    "write [a, b] or one item per line)",
                )
                return None
            element = dict(spec, type=spec.get("elements", "raw"))
            element.pop("default", None)
            element.pop("elements", None)
            out = []
            for index, item in enumerate(value):
                label = (item.get("name") or item.get("slug")) if isinstance(item, dict) else None
                item_where = f"{where}[{index}]" + (f" ({label})" if isinstance(label, str) else "")
                if item is None and element["type"] != "raw":
                    self.error(item_where, "is empty")
                    continue
                converted = self.value(item_where, element, item)
                if converted is not None:
                    out.append(converted)
            return out
        elif kind == "dict":
            if not isinstance(value, dict):
                self.error(where, f"must be a dict, got {_type_name(value)} {shown}")
                return None
            if "options" in spec:
                return self.options(where, spec["options"], value)
            return value
        if "choices" in spec and value not in spec["choices"]:
            self.error(where, f"is {shown}; allowed: {', '.join(map(str, spec['choices']))}")
            return None
        return value

    def options(self, where, options, value):
        out = {}
        for key in value:
            if key not in options:
                self.error(
                    f"{where}.{key}", f"unknown key{closest(key, options)}; allowed: {', '.join(sorted(options))}"
                )
        for key, sub in options.items():
            if key in value and value[key] is not None:
                converted = self.value(f"{where}.{key}", sub, value[key])
                if converted is not None:
                    out[key] = converted
            elif sub.get("required"):
                self.error(where, f"needs {key}")
            elif "default" in sub:
                out[key] = sub["default"]
        return out


def check_domain(chk, v):
    """Checks beyond types: Sentry's limits and the references between the lists."""
    org = v.get("sentry_config_organization_slug")
    if org is not None and not ORG_SLUG_RE.match(org):
        chk.error(
            "sentry_config_organization_slug",
            f"is {org!r}; it must be the slug of an existing organization (letters, digits, - and _, at most 50; "
            "self-hosted creates `sentry`). With inventories/standalone it comes from the SENTRY_ORG environment "
            "variable",
        )

    team = v.get("_team") or {}
    if team.get("slug") is not None and not SLUG_RE.match(team["slug"]):
        chk.error("sentry_config_team.slug", f"is {team['slug']!r}; it must match ^[a-z0-9_-]{{1,50}}$")
    if len(team.get("name") or "") > TEAM_NAME_MAX:
        chk.error("sentry_config_team.name", f"has {len(team['name'])} characters; Sentry allows {TEAM_NAME_MAX}")

    envs = v.get("_environments") or []
    if "_environments" in v and not envs:
        chk.error("sentry_config_environments", "must list at least one environment")
    names = [e.get("name") for e in envs]
    for i, env in enumerate(envs):
        where = f"sentry_config_environments[{i}] ({env.get('name')})"
        if env.get("name") is not None and not ENV_RE.match(env["name"]):
            chk.error(
                where + ".name",
                "must be a-z, 0-9, - and _ (at most 32, starting with a letter or digit): it is the suffix of "
                "the env file .env.<name>",
            )
        if names.count(env.get("name")) > 1:
            chk.error(where + ".name", "is listed twice")
        rate = env.get("error_rate_limit")
        if rate is not None and not 1 <= rate <= 1000000:
            chk.error(where + ".error_rate_limit", f"is {rate}; allowed 1 to 1000000 events per minute")
        rate = env.get("traces_sample_rate")
        if rate is not None and not 0 <= rate <= 1:
            chk.error(where + ".traces_sample_rate", f"is {rate}; allowed 0 to 1")

    projects = v.get("_projects") or []
    slugs = [p.get("slug") for p in projects]
    for i, project in enumerate(projects):
        where = f"sentry_config_projects[{i}] ({project.get('slug')})"
        if project.get("slug") is not None and not SLUG_RE.match(project["slug"]):
            chk.error(where + ".slug", "must match ^[a-z0-9_-]{1,50}$")
        if slugs.count(project.get("slug")) > 1:
            chk.error(where + ".slug", "is listed twice")
        name = project.get("name")
        if name is not None and not 1 <= len(name.strip()) <= PROJECT_NAME_MAX:
            chk.error(where + ".name", f"has {len(name)} characters; Sentry allows 1 to {PROJECT_NAME_MAX}")
        platform = project.get("platform")
        if platform is not None and platform not in PLATFORMS:
            chk.error(
                where + ".platform",
                f"{platform!r} is not a Sentry platform{closest(platform, PLATFORMS)} (ids such as python-fastapi, "
                "javascript-react, node-express, other)",
            )
    if "_projects" in v:
        kinds = [p.get("kind") for p in projects]
        if kinds.count("backend") != 1 or kinds.count("frontend") > 1:
            chk.error(
                "sentry_config_projects",
                f"needs exactly one project of kind backend (its DSN becomes SENTRY_DSN) and at most one frontend "
                f"(VITE_SENTRY_DSN); got kinds {kinds}",
            )

    for where, alert, name in each_alert(chk, v, "issue", slugs, names):
        if not 1 <= len(name) <= RULE_NAME_MAX:
            chk.error(where + ".name", f"has {len(name)} characters; Sentry allows 1 to {RULE_NAME_MAX}")
        if "conditions" in alert and not alert["conditions"]:
            chk.error(where + ".conditions", "needs at least one condition")
        for list_name, known in NODE_IDS.items():
            for j, node in enumerate(alert.get(list_name) or []):
                node_id = node.get("id")
                if node_id not in known:
                    chk.error(
                        f"{where}.{list_name}[{j}].id",
                        f"{node_id!r} is not a {list_name[:-1]} Sentry knows{closest(str(node_id), known)}",
                    )
        frequency = alert.get("frequency")
        if frequency is not None and not 5 <= frequency <= 43200:
            chk.error(where + ".frequency", f"is {frequency}; allowed 5 to 43200 minutes")

    for where, alert, name in each_alert(chk, v, "metric", slugs, names):
        if not name:
            chk.error(where + ".name", "must not be empty")
        for project in projects:
            full = f"{project.get('name')} - {name}"
            if len(full) > METRIC_NAME_MAX:
                chk.error(
                    where + ".name",
                    f'"{full}" (project name - alert name) has {len(full)} characters; Sentry allows {METRIC_NAME_MAX}',
                )
                break
        critical, warning, resolve = alert.get("critical"), alert.get("warning"), alert.get("resolve_threshold")
        if None not in (critical, warning) and warning > critical:
            chk.error(where + ".warning", f"is {warning}; it must be <= critical ({critical})")
        if None not in (critical, resolve) and resolve >= critical:
            chk.error(where + ".resolve_threshold", f"is {resolve}; it must be < critical ({critical})")


def each_alert(chk, values, kind, slugs, env_names):
    """(where, alert, name) of each alert of the `kind` list; after the caller's checks of an alert, the checks
    both lists share: a name listed twice, references to projects and environments."""
    seen = []
    for i, alert in enumerate(values.get(f"_{kind}_alerts") or []):
        where = f"sentry_config_{kind}_alerts[{i}] ({alert.get('name')})"
        name = alert.get("name") or ""
        yield where, alert, name
        if name in seen:
            chk.error(where + ".name", "is listed twice (alerts are matched by name)")
        seen.append(name)
        check_refs(chk, where, alert, slugs, env_names)


def check_refs(chk, where, alert, slugs, env_names):
    for slug in alert.get("projects") or []:
        if slug not in slugs:
            chk.error(
                where + ".projects", f"names {slug!r}, which is not in sentry_config_projects{closest(slug, slugs)}"
            )
    environment = alert.get("environment")
    if environment is not None and environment not in env_names:
        why = "only managed environments are created before the alerts"
        chk.error(
            where + ".environment", f"{environment!r} is not one of sentry_config_environments {env_names}: {why}"
        )


class ActionModule(ActionBase):
    """sentry_config_inputs: see the module stub in ../library/sentry_config_inputs.py."""

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        spec = load_spec()
        chk = Checker()

        unknown = sorted(n for n in task_vars if n.startswith(PREFIX) and n not in spec)
        for name in unknown:
            chk.error(name, f"is not a variable of the sentry_config role{closest(name, spec)}")

        values = {}
        for name, option in spec.items():
            if name not in task_vars:
                continue
            raw = self._templar.template(task_vars[name])
            converted = chk.value(name, option, raw)
            if converted is None and raw is not None:
                continue
            values[name] = converted
        facts = {}
        for short in NORMALISED:
            name = PREFIX + short
            if name in values:
                values["_" + short] = values[name]
                facts["_" + name] = values[name] if values[name] is not None else []
        check_domain(chk, values)

        if chk.errors:
            raise AnsibleActionFail(
                f"{len(chk.errors)} problem(s) in the sentry_config variables, nothing was changed:\n- "
                + "\n- ".join(chk.errors)
            )
        result.update(changed=False, ansible_facts=facts, msg="all sentry_config variables are valid")
        return result
