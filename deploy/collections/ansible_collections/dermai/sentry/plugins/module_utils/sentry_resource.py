# Copyright: DermAI
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Resource layer of the dermai.sentry modules.

PRIVATE to this collection: the interface may change without notice.

Two bases own the algorithm; each module declares its resource (paths, options, validation, the body it
wants, how to compare and what a diff shows) and stays thin:

- Resource: one named object (team, project, key, internal integration; an organization is the settings
  of one existing object). find -> desired -> compare -> create (verified, read back) / update (only the
  fields that differ, read back, checked) / delete, check mode, a field-level diff for --diff, duplicate
  handling (oldest wins, warned about) and one failure path for API errors.
- RuleSet: named rules behind one list endpoint (issue and metric alerts): one listing for every rule of
  the task, find by name (oldest wins, duplicates warned about, manufactured ids never adopted), compare,
  create (verified) / update / delete with a read-back, check mode, diff, the re-save of unchanged rules
  (resave) and, on a Sentry with the workflow engine (26.7+), the read-back of the workflow/detector
  behind every managed rule.
"""

from __future__ import annotations

from ansible_collections.dermai.sentry.plugins.module_utils.sentry_api import (
    SentryAPIError,
    SentryClient,
    build_module,
    execute,
    fail,
    fields_differ,
    oldest_first,
    parse_pii,
    project,
)

# Sentry exposes workflows made in the new UI (no legacy rule behind them) on the legacy endpoints
# with id = workflow id + 10**9 (sentry/incidents/endpoints/serializers/utils.py).
MANUFACTURED_ID_OFFSET = 10**9
URL_WORKFLOWS = "organizations/{org}/workflows/"
URL_DETECTORS = "organizations/{org}/detectors/"
URL_RULE_WORKFLOW = "organizations/{org}/alert-rule-workflow/"
URL_RULE_DETECTOR = "organizations/{org}/alert-rule-detector/"

# Options several modules share (documented in the doc fragments dermai.sentry.sentry.organization,
# .project and .state).
ORGANIZATION = dict(organization=dict(type="str", required=True))
PROJECT = dict(project=dict(type="str", required=True))
STATE = dict(state=dict(type="str", default="present", choices=["present", "absent"]))

# Per-rule options both alert modules have (documented in the doc fragment dermai.sentry.sentry.rule).
RULE_OPTIONS = dict(name=dict(type="str", required=True), environment=dict(type="str"), owner=dict(type="str"))
RULE_OPTIONS.update(STATE)

# Options every RuleSet module has besides the per-rule ones (documented in each module).
COMMON_OPTIONS = dict(
    ORGANIZATION,
    rules=dict(type="list", elements="dict"),
    resave=dict(type="bool", default=False),
    workflow_engine=dict(type="bool"),
)


def managed_of(module, kind, name, named):
    """Of the objects called `name` (oldest first), the one to manage: the oldest; duplicates are warned about."""
    if len(named) > 1:
        module.warn(f"{len(named)} {kind}s are named {name!r}; managing the oldest, id {named[0].get('id')}")
    return named[0] if named else None


def diff_of(module, before, after):
    """The diff entry of a result, only when Ansible runs with --diff."""
    return {"diff": dict(before=before, after=after)} if module._diff else {}


class Resource:
    """One named object. Subclasses set `kind`, `key` (result key), `options` (argument spec) and implement
    item_path and find; optionally validate, desired, view, compare, planned, create, update, delete,
    converge_more (work after the object converged: links, tokens) and outputs."""

    kind = "object"
    key = "object"
    options = None  # dict: the argument spec
    module_kwargs = None  # dict: more AnsibleModule arguments (required_if, ...)
    identity = ()  # fields always shown in the diff
    set_fields = ()  # lists whose order does not matter
    pii_fields = ()  # JSON-string fields compared parsed
    report_fields = False  # the result lists the API fields changed (changed_fields)
    defaults = None  # dict: result keys every run returns, with their value when nothing is managed

    def __init__(self, module, client):
        self.module = module
        self.client = client
        self.params = module.params
        self.check = module.check_mode
        self.extras = dict(self.defaults or {})  # result keys besides changed, <key> and diff
        if self.report_fields:
            self.extras["changed_fields"] = []

    @classmethod
    def main(cls):
        """main() of a Resource module: build the module, validate before any request, converge, exit."""
        module = build_module(cls.options, **(cls.module_kwargs or {}))
        resource = cls(module, SentryClient.from_module(module))
        resource.validate()
        try:
            result = resource.run()
        except SentryAPIError as err:
            fail(module, resource.scrub(err))
        module.exit_json(**result)

    # --- declared by each resource -------------------------------------------------------------
    def validate(self):
        """fail_json() on invalid input; runs before any request."""

    def item_path(self, obj=None):
        raise NotImplementedError

    def find(self):
        """The object to manage, or None."""
        raise NotImplementedError

    def desired(self, current):
        raise NotImplementedError

    def view(self, obj, desired):
        """What the diff shows of `obj`: the identity fields and the desired ones, PII configs parsed."""
        return project(obj, sorted(set(self.identity) | set(desired)), self.pii_fields)

    def compare(self, desired, current):
        """Names of the desired fields the server's object does not have, after normalisation."""
        return sorted(fields_differ(desired, current, self.set_fields, self.pii_fields))

    def planned(self, desired):
        """The object check mode predicts for a create."""
        return dict(desired)

    def create(self, desired):
        """Create it; the created object, or None when it exists already (created meanwhile: converge on it)."""
        raise NotImplementedError

    def update_body(self, desired, changed):
        return {f: desired[f] for f in changed}

    def update(self, current, desired, changed):
        """PUT the fields that differ, read the object back and check that the server stored them."""
        path = self.item_path(current)
        self.client.put(path, self.update_body(desired, changed))
        end = self.client.get(path)
        still = self.compare({f: desired[f] for f in changed}, end)
        if still:
            self.module.fail_json(msg=self.not_stored(path, still, end))
        return end

    def not_stored(self, path, fields, end):
        return (
            f"Sentry accepted the update of {path} but did not store {', '.join(fields)} "
            "(unknown or ignored fields: check the Sentry version and the token's scopes)"
        )

    def delete(self, current):
        self.client.delete(self.item_path(current))

    def converge_more(self, obj, before, after):
        """Work after the object converged (may add pseudo-fields to before/after); (changed, object)."""
        return False, obj

    def outputs(self, obj):
        return {self.key: obj or {}}

    def scrub(self, err):
        return err

    # --- the algorithm --------------------------------------------------------------------------
    def result(self, obj, changed, before=None, after=None, **extra):
        out = dict(self.extras, changed=changed, **self.outputs(obj), **extra)
        if changed and before is not None:
            out.update(diff_of(self.module, before, after))
        return out

    def run(self):
        current = self.find()
        if self.params.get("state", "present") == "absent":
            if current is None:
                return self.result({}, False, msg=f"{self.kind} does not exist")
            if not self.check:
                self.delete(current)
            return self.result({}, True, self.view(current, {}), {})
        desired = self.desired(current)
        created = False
        if current is None:
            if self.check:
                planned = self.planned(desired)
                if self.report_fields:
                    self.extras["changed_fields"] = sorted(desired)
                before, after = {}, self.view(planned, desired)
                planned = self.converge_more(planned, before, after)[1]
                return self.result(planned, True, before, after)
            current = self.create(desired)
            created = current is not None
            current = current if created else self.find()
            if current is None:
                self.module.fail_json(
                    msg=f"Sentry says the {self.kind} exists (HTTP 409) but does not show it to this token"
                )
        changed = self.compare(desired, current)
        if self.report_fields:
            self.extras["changed_fields"] = changed
        before = {} if created else self.view(current, desired)
        end = current
        if changed:
            planned = dict(current, **{f: desired[f] for f in changed})
            end = planned if self.check else self.update(current, desired, changed)
        after = self.view(end, desired) if created else dict(before, **self.shown(desired, changed))
        more, end = self.converge_more(end, before, after)
        return self.result(end, created or bool(changed) or more, before, after)

    def shown(self, desired, fields):
        return {f: parse_pii(desired[f]) if f in self.pii_fields else desired[f] for f in fields}


def is_manufactured(rule):
    rid = str((rule or {}).get("id", ""))
    return rid.isdigit() and int(rid) >= MANUFACTURED_ID_OFFSET


class RuleSet:
    """Subclasses set `kind`, `rule_options` (per-rule argument spec, `name` included) and implement
    list_path, item_path, validate_rule, desired, same, view; optionally update_body, create_failed and
    the workflow-engine mapping (`mappings`: (mapping url, query key, target url, result key))."""

    kind = "rule"
    rule_options = None  # dict: the per-rule argument spec
    mappings = ()

    def __init__(self, module, client):
        self.module = module
        self.client = client
        self.params = module.params
        self.org = module.params["organization"]

    # --- declared by each resource -------------------------------------------------------------
    def list_path(self):
        raise NotImplementedError

    def item_path(self, rule_id):
        raise NotImplementedError

    def validate_rule(self, spec, where):
        """fail() with `where` as prefix when the rule is invalid."""

    def desired(self, spec):
        raise NotImplementedError

    def same(self, desired, current):
        raise NotImplementedError

    def view(self, rule):
        raise NotImplementedError

    def update_body(self, desired, current):
        return desired

    def create_failed(self, spec, err):
        raise err

    # --- helpers --------------------------------------------------------------------------------
    def fail(self, where, msg):
        self.module.fail_json(msg=f"{where}{msg}")

    def specs(self):
        """The rules of this task: each item of `rules` checked against the per-rule options (types, choices,
        defaults, misspelt keys refused), or the single rule given by the top-level options."""
        p = self.params
        if p.get("rules") is None:
            return [{k: p.get(k) for k in self.rule_options}]
        from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

        validator = ArgumentSpecValidator(self.rule_options)
        specs = []
        for index, item in enumerate(p["rules"]):
            checked = validator.validate(item)
            if checked.error_messages:
                self.fail(f"rules[{index}] ({item.get('name')!r}): ", "; ".join(checked.error_messages))
            specs.append(checked.validated_parameters)
        return specs

    def listing(self):
        return oldest_first(self.client.get_all(self.list_path()))

    def find(self, name, listing=None):
        """(managed rule or None, every rule of that name that may be managed)."""
        rules = self.listing() if listing is None else listing
        named = [r for r in rules if r.get("name") == name and not is_manufactured(r)]
        return (named[0] if named else None), named

    def engine(self):
        """Whether this Sentry runs the workflow engine (26.7+): the option, else one probe of /workflows/."""
        if self.params.get("workflow_engine") is not None:
            return self.params["workflow_engine"]
        probe = self.client.get(self.client.path(URL_WORKFLOWS, org=self.org), query={"per_page": 1}, missing_ok=True)
        return probe is not None

    # --- the algorithm --------------------------------------------------------------------------
    def run(self):
        specs = self.specs()
        batch = self.params.get("rules") is not None
        names = [s.get("name") for s in specs]
        for index, spec in enumerate(specs):
            where = f"rules[{index}] ({spec.get('name')!r}): " if batch else ""
            if spec.get("state", "present") == "present":
                self.validate_rule(spec, where)
            if names.count(spec.get("name")) > 1:
                self.fail(where, "the same name is listed twice; names identify the rules")
        listing = self.listing()
        for rule in listing:
            if is_manufactured(rule) and rule.get("name") in names:
                self.module.warn(
                    f"{self.kind} {rule.get('name')!r}: Sentry also lists a workflow made in the new UI under this "
                    f"name (manufactured id {rule.get('id')}); it is not adopted - this module manages its own rule"
                )
        results = [self.converge(spec, listing) for spec in specs]
        unbacked = self.check_backing(results)
        changed = any(r["changed"] for r in results)
        diffs = [r.pop("diff") for r in results if r.get("diff")]
        out = dict(changed=changed, unbacked=unbacked)
        if batch:
            out["rules"] = results
            if diffs:
                out["diff"] = dict(
                    before={d["name"]: d["before"] for d in diffs}, after={d["name"]: d["after"] for d in diffs}
                )
        else:
            out.update({k: v for k, v in results[0].items() if k not in ("name", "changed")})
            if diffs:
                out["diff"] = dict(before=diffs[0]["before"], after=diffs[0]["after"])
        return out

    def converge(self, spec, listing):
        name = spec["name"]
        current = managed_of(self.module, self.kind, name, self.find(name, listing)[1])
        result = dict(name=name, changed=False, rule={})
        if spec.get("state", "present") == "absent":
            if current is None:
                result["msg"] = "rule does not exist"
                return result
            if not self.module.check_mode:
                self.client.delete(self.item_path(current["id"]))
            result.update(changed=True, diff=dict(name=name, before=self.view(current), after={}))
            return result
        desired = self.desired(spec)
        same = current is not None and self.same(desired, current)
        if same and not self.params.get("resave"):
            result["rule"] = current
            return result
        result.update(changed=True, diff=dict(name=name, before=self.view(current), after=self.view(desired)))
        if same:
            result["resaved"] = True
        if self.module.check_mode:
            result["rule"] = dict(current or {}, **desired)
            return result
        if current is None:
            try:
                body = self.client.create_verified(self.list_path(), desired, lambda: self.find(name)[0])
            except SentryAPIError as err:
                self.create_failed(spec, err)
            if not isinstance(body, dict) or "id" not in body:  # HTTP 202: created asynchronously
                self.module.warn(f"Sentry creates {self.kind} {name!r} asynchronously; it appears once that is done")
                result["rule"] = body or {}
                return result
            rule_id = body["id"]
        else:
            rule_id = current["id"]
            self.client.put(self.item_path(rule_id), self.update_body(desired, current))
        result["rule"] = self.client.get(self.item_path(rule_id))
        return result

    def check_backing(self, results):
        """On the workflow engine: read the workflow/detector behind every managed rule (one mapping GET per
        rule and kind, one list GET per kind); the names of the rules without one."""
        present = [r for r in results if r["rule"].get("id") and not self.module.check_mode]
        for r in results:
            for _m, _q, _t, key in self.mappings:
                r.setdefault(key, {})
        if not present or not self.mappings or not self.engine():
            return []
        unbacked = []
        for mapping, query_key, target, key in self.mappings:
            ids = {}
            for r in present:
                row = self.client.get(
                    self.client.path(mapping, org=self.org), query={query_key: r["rule"]["id"]}, missing_ok=True
                )
                target_id = (row or {}).get(f"{key}Id")
                if target_id is not None:
                    ids[r["name"]] = str(target_id)
            found = {}
            if ids:
                listed = self.client.get_all(
                    self.client.path(target, org=self.org), query={"id": sorted(set(ids.values()))}
                )
                found = {str(obj.get("id")): obj for obj in listed}
            for r in present:
                obj = found.get(ids.get(r["name"], ""))
                r[key] = obj or {}
                if obj is None and r["name"] not in unbacked:
                    unbacked.append(r["name"])
        if unbacked:
            self.module.warn(
                f"{len(unbacked)} {self.kind}(s) have no workflow engine object behind them and do not fire on this "
                f"Sentry: {', '.join(unbacked)}; run again with resave=true to have Sentry migrate them"
            )
        return unbacked


def run_rules(resource_class, extra_options=None, **module_kwargs):
    """main() of a RuleSet module: build the module, converge every rule, exit (one failure path)."""
    spec = dict(COMMON_OPTIONS)
    spec.update(extra_options or {})
    for key, option in resource_class.rule_options.items():
        spec[key] = {k: v for k, v in option.items() if k != "required"}
    module = build_module(
        spec,
        mutually_exclusive=[("name", "rules")],
        required_one_of=[("name", "rules")],
        **module_kwargs,
    )
    execute(module, lambda mod, client: resource_class(mod, client).run())
