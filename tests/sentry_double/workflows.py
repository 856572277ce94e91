"""The workflow engine of Sentry 26.7+ in the double, switched on by the release it imitates.

What it models (sources in getsentry/sentry, read near self-hosted 26.8.0; see docs/alerts.md):
- self-hosted 26.7.0 enables ``organizations:workflow-engine-ui`` and
  ``organizations:workflow-engine-rule-serializers`` (self-hosted sentry/sentry.conf.example.py, #4364), not the
  ``workflow-engine-issue-alert-endpoints-post``/``-put`` flags: POST/PUT on the legacy endpoints still write
  legacy Rule/AlertRule rows and dual-write Workflow/Detector objects linked through AlertRuleWorkflow and
  AlertRuleDetector (src/sentry/workflow_engine/docs/legacy_backport.md);
- rules made before the upgrade have no workflow until they are written again (getsentry/self-hosted#4452);
- a workflow made in the new UI has no legacy rule: the legacy list shows it with a manufactured id,
  workflow id + 10**9 (sentry/incidents/endpoints/serializers/utils.py), and an ``errors`` list;
- a metric alert's ``resolveThreshold`` is read from the detector: a null one is reported as the warning
  threshold, else the critical one (migration helpers' get_resolve_threshold);
- ``/organizations/{org}/workflows/`` and ``/detectors/`` (filters ``id``, ``project``, ``query``),
  ``/alert-rule-workflow/`` and ``/alert-rule-detector/`` (``rule_id`` / ``alert_rule_id`` / ``workflow_id`` /
  ``detector_id``: one mapping, 404 when none, 400 for a non-integer).
Before 26.7 none of these routes exist (404) and nothing is dual-written.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from .state import now_iso

DEFAULT_RELEASE = "23.7.1"
ENGINE_RELEASE = (26, 7, 0)
FAKE_ID_OFFSET = 10**9
ALERTS_READ = ["org:read", "org:write", "org:admin", "alerts:read", "alerts:write"]


def _version(release: str) -> tuple[int, ...]:
    parts = []
    for piece in str(release).split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def _tables(state) -> dict[str, Any]:
    data = state.data
    for name in ("workflows", "detectors", "alert_rule_workflow", "alert_rule_detector"):
        data.setdefault(name, {})
    data.setdefault("release", DEFAULT_RELEASE)
    return data


def set_release(state, release: str) -> None:
    with state.lock:
        _tables(state)["release"] = str(release)
        state.save()


def engine_on(state) -> bool:
    return _version(_tables(state)["release"]) >= ENGINE_RELEASE


# ------------------------------------------------------------------------------- dual writes
def _mapping(state, table: str, key: str, legacy_id: str) -> dict[str, Any] | None:
    return next((m for m in _tables(state)[table].values() if m.get(key) == str(legacy_id)), None)


def _link(state, table: str, key: str, legacy_id: str, target_key: str, target_id: str) -> None:
    if _mapping(state, table, key, legacy_id) is None:
        mid = str(state.next_id(table))
        other = "alertRuleId" if key == "ruleId" else "ruleId"
        _tables(state)[table][mid] = {"id": mid, key: str(legacy_id), other: None, target_key: str(target_id)}


def _unlink(state, key: str, legacy_id: str) -> None:
    data = _tables(state)
    for table, target_key, kind in (
        ("alert_rule_workflow", "workflowId", "workflows"),
        ("alert_rule_detector", "detectorId", "detectors"),
    ):
        row = _mapping(state, table, key, legacy_id)
        if row is None:
            continue
        del data[table][row["id"]]
        target = data[kind].get(row[target_key])
        # The project's error detector is shared by every issue rule: never removed with one.
        if target is not None and target.get("type") != "error":
            del data[kind][target["id"]]


def _error_detector(state, project: dict[str, Any]) -> dict[str, Any]:
    data = _tables(state)
    for det in data["detectors"].values():
        if det["type"] == "error" and det["projectId"] == project["id"]:
            return det
    did = str(state.next_id("detector"))
    det = {
        "id": did,
        "projectId": project["id"],
        "name": "Error Monitor",
        "type": "error",
        "enabled": True,
        "config": {},
        "conditionGroup": None,
        "dataSources": None,
        "dateCreated": now_iso(),
        "dateUpdated": now_iso(),
    }
    data["detectors"][did] = det
    return det


def _save_workflow(state, org: dict[str, Any], key: str, legacy: dict[str, Any], **values: Any) -> dict[str, Any]:
    """The workflow of an issue rule (key ruleId) or a metric alert (alertRuleId), created or rewritten from it;
    key None: a new workflow without a legacy object (`legacy` gives its name and environment)."""
    row = _mapping(state, "alert_rule_workflow", key, legacy["id"]) if key else None
    wid = row["workflowId"] if row else None
    data = _tables(state)
    if wid is None or wid not in data["workflows"]:
        wid = str(state.next_id("workflow"))
        data["workflows"][wid] = {
            "id": wid,
            "organizationId": org["id"],
            "dateCreated": now_iso(),
            "enabled": True,
            "createdBy": None,
            "owner": None,
            "lastTriggered": None,
        }
    workflow = data["workflows"][wid]
    workflow.update({"name": legacy["name"], "environment": legacy.get("environment"), **values}, dateUpdated=now_iso())
    return workflow


def after_rule_write(state, org: dict[str, Any], project: dict[str, Any], rule: dict[str, Any]) -> None:
    """POST/PUT of an issue rule on 26.7+: the migrator writes (or rewrites) its workflow."""
    if not engine_on(state):
        return
    detector = _error_detector(state, project)
    triggers = {"logicType": rule["actionMatch"], "conditions": [dict(c) for c in rule["conditions"]]}
    actions = {
        "logicType": rule.get("filterMatch") or "all",
        "conditions": [dict(f) for f in rule["filters"]],
        "actions": [dict(a) for a in rule["actions"]],
    }
    config, ids = {"frequency": rule["frequency"]}, [detector["id"]]
    workflow = _save_workflow(
        state, org, "ruleId", rule, config=config, triggers=triggers, actionFilters=[actions], detectorIds=ids
    )
    _link(state, "alert_rule_workflow", "ruleId", rule["id"], "workflowId", workflow["id"])
    _link(state, "alert_rule_detector", "ruleId", rule["id"], "detectorId", detector["id"])


def after_alert_rule_write(state, org: dict[str, Any], alert: dict[str, Any], project_ids: list[str]) -> None:
    """POST/PUT of a metric alert on 26.7+: a metric_issue detector and its workflow."""
    if not engine_on(state):
        return
    data = _tables(state)
    thresholds = {t["label"]: t["alertThreshold"] for t in alert["triggers"]}
    resolve = alert.get("resolveThreshold")
    if resolve is None:
        resolve = thresholds.get("warning", thresholds.get("critical"))
    conditions = [
        {"type": "gt" if alert["thresholdType"] == 0 else "lt", "comparison": value, "conditionResult": label}
        for label, value in thresholds.items()
    ]
    conditions.append(
        {"type": "lte" if alert["thresholdType"] == 0 else "gte", "comparison": resolve, "conditionResult": "ok"}
    )
    row = _mapping(state, "alert_rule_detector", "alertRuleId", alert["id"])
    if row is None:
        did = str(state.next_id("detector"))
        data["detectors"][did] = {"id": did, "type": "metric_issue", "dateCreated": now_iso(), "enabled": True}
    else:
        did = row["detectorId"]
    detector = data["detectors"][did]
    detector.update(
        dateUpdated=now_iso(),
        name=alert["name"],
        projectId=(project_ids or [None])[0],
        config={"thresholdPeriod": alert.get("thresholdPeriod", 1), "detectionType": "static"},
        dataSources=[{"aggregate": alert["aggregate"], "query": alert["query"], "timeWindow": alert["timeWindow"]}],
        conditionGroup={"logicType": "any", "conditions": conditions},
    )
    by_priority = [
        {
            "logicType": "any",
            "conditions": [{"type": "issue_priority_equals", "comparison": t["label"]}],
            "actions": [dict(a) for a in t["actions"]],
        }
        for t in alert["triggers"]
    ]
    triggers = {"logicType": "any", "conditions": []}
    workflow = _save_workflow(
        state, org, "alertRuleId", alert, config={}, triggers=triggers, actionFilters=by_priority, detectorIds=[did]
    )
    _link(state, "alert_rule_detector", "alertRuleId", alert["id"], "detectorId", did)
    _link(state, "alert_rule_workflow", "alertRuleId", alert["id"], "workflowId", workflow["id"])


def after_rule_delete(state, rule_id: str) -> None:
    _unlink(state, "ruleId", rule_id)


def after_alert_rule_delete(state, alert_id: str) -> None:
    _unlink(state, "alertRuleId", alert_id)


def add_ui_workflow(state, org: dict[str, Any], project: dict[str, Any], name: str) -> dict[str, Any]:
    """A workflow made in the new UI (no legacy rule): what an operator clicks together on 26.7+."""
    with state.lock:
        detector = _error_detector(state, project)
        triggers = {"logicType": "any-short", "conditions": [{"type": "first_seen_event"}]}
        made = {"name": name, "environment": None}
        workflow = _save_workflow(
            state,
            org,
            None,
            made,
            config={"frequency": 30},
            triggers=triggers,
            actionFilters=[],
            detectorIds=[detector["id"]],
            ui=True,
        )
        state.save()
        return workflow


# ------------------------------------------------------------------------------- legacy reads on 26.7+
def legacy_rule_rows(state, project: dict[str, Any], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The legacy issue-rule list with the rule serializers: UI-made workflows of the project appear too,
    under a manufactured id and with an ``errors`` list (they have no legacy node to show)."""
    if not engine_on(state):
        return rows
    data = _tables(state)
    project_detectors = {d["id"] for d in data["detectors"].values() if d["projectId"] == project["id"]}
    extra = []
    for wf in data["workflows"].values():
        if not wf.get("ui") or not project_detectors.intersection(wf.get("detectorIds") or []):
            continue
        extra.append(
            {
                "id": str(int(wf["id"]) + FAKE_ID_OFFSET),
                "conditions": [],
                "filters": [],
                "actions": [],
                "actionMatch": "any",
                "filterMatch": "all",
                "frequency": wf["config"].get("frequency", 30),
                "name": wf["name"],
                "dateCreated": wf["dateCreated"],
                "owner": None,
                "createdBy": None,
                "environment": wf.get("environment"),
                "projects": [project["slug"]],
                "status": "active",
                "snooze": False,
                "lastTriggered": None,
                "errors": [{"detail": "The workflow has conditions the legacy format cannot show"}],
            }
        )
    return extra + rows


def legacy_alert_view(state, body: dict[str, Any]) -> dict[str, Any]:
    """A metric alert read back from its detector: resolveThreshold is never null."""
    if not engine_on(state):
        return body
    row = _mapping(state, "alert_rule_detector", "alertRuleId", body["id"])
    if row is None or body.get("resolveThreshold") is not None:
        return body
    for cond in (_tables(state)["detectors"][row["detectorId"]].get("conditionGroup") or {}).get("conditions", []):
        if cond["conditionResult"] == "ok":
            body = dict(body, resolveThreshold=cond["comparison"])
            body["triggers"] = [dict(t, resolveThreshold=cond["comparison"]) for t in body.get("triggers") or []]
    return body


# ------------------------------------------------------------------------------- new endpoints
def _int_list(req, name: str) -> list[str]:
    from .api import ApiError

    values = [v for v in req.query.get(name, []) if v != ""]
    for value in values:
        if not str(value).isdigit():
            raise ApiError(400, {name: [f"Invalid ID: {value}"]})
    return [str(v) for v in values]


def _ensure_engine(state) -> None:
    from .api import ApiError

    if not engine_on(state):
        raise ApiError(404, {"detail": "Not found."})


def _view(state, table: str, row: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in row.items() if k != "ui"}
    if table == "detectors":
        out["workflowIds"] = sorted(
            (w["id"] for w in _tables(state)["workflows"].values() if row["id"] in (w.get("detectorIds") or [])),
            key=int,
        )
    return out


def handlers(api) -> SimpleNamespace:
    """The workflow-engine endpoints (404 before 26.7), routed in api.py."""
    state = api.state

    def org_rows(table: str, org: dict[str, Any]) -> list[dict[str, Any]]:
        rows = _tables(state)[table].values()
        if table == "workflows":
            return [r for r in rows if r["organizationId"] == org["id"]]
        projects = {p["id"] for p in state.projects_of(org["slug"])}
        return [r for r in rows if r.get("projectId") in projects]

    def lister(table: str):
        def handler(req, org):
            _ensure_engine(state)
            rows = org_rows(table, org)
            ids = _int_list(req, "id")
            if ids:
                rows = [r for r in rows if r["id"] in ids]
            wanted_projects = _int_list(req, "project")
            if wanted_projects and table == "detectors":
                rows = [r for r in rows if r.get("projectId") in wanted_projects]
            name = (req.query.get("query") or [""])[0]
            if name:
                rows = [r for r in rows if name.lower() in r["name"].lower()]
            rows = sorted(rows, key=lambda r: int(r["id"]))
            return api._page(req, [_view(state, table, r) for r in rows])

        return handler

    def getter(table: str):
        def handler(req, org, obj_id):
            from .api import not_found

            _ensure_engine(state)
            row = next((r for r in org_rows(table, org) if r["id"] == obj_id and obj_id.isdigit()), None)
            if row is None:
                raise not_found()
            return 200, _view(state, table, row), {}

        return handler

    def mapping(table: str, target_key: str):
        def handler(req, org):
            from .api import not_found

            _ensure_engine(state)
            filters = {
                "ruleId": _int_list(req, "rule_id"),
                "alertRuleId": _int_list(req, "alert_rule_id"),
                target_key: _int_list(req, target_key.replace("Id", "_id")),
            }
            targets = {r["id"] for r in org_rows(target_key.replace("Id", "s"), org)}
            for row in _tables(state)[table].values():
                if row[target_key] not in targets:
                    continue
                if all(not want or row.get(key) in want for key, want in filters.items()):
                    return 200, dict(row), {}
            raise not_found()

        return handler

    return SimpleNamespace(
        list_workflows=lister("workflows"),
        get_workflow=getter("workflows"),
        list_detectors=lister("detectors"),
        get_detector=getter("detectors"),
        rule_workflow=mapping("alert_rule_workflow", "workflowId"),
        rule_detector=mapping("alert_rule_detector", "detectorId"),
    )
