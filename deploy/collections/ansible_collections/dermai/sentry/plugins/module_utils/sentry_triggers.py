# Copyright: DermAI
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Triggers of metric alert rules: normalised, compared by label, and their ids carried into updates.

PRIVATE to this collection: the interface may change without notice.
"""

from __future__ import annotations

from ansible_collections.dermai.sentry.plugins.module_utils.sentry_api import canon, match_nodes

# Fields Sentry adds to triggers and actions; never compared.
SERVER_TRIGGER_KEYS = ("id", "alertRuleId", "dateCreated", "thresholdType", "resolveThreshold")
SERVER_ACTION_KEYS = ("id", "alertRuleTriggerId", "dateCreated", "desc")


def clean_trigger(trigger):
    out = {k: v for k, v in trigger.items() if k not in SERVER_TRIGGER_KEYS and k != "actions"}
    actions = trigger.get("actions") or []
    out["actions"] = [{k: v for k, v in a.items() if k not in SERVER_ACTION_KEYS and v is not None} for a in actions]
    return out


def same_triggers(want, have):
    """Triggers match by label; their actions with the generic node matcher (any order, server keys ignored)."""
    by_label = {t.get("label"): clean_trigger(t) for t in have}
    if sorted(by_label) != sorted(t["label"] for t in want):
        return False
    for trig in want:
        cur = by_label[trig["label"]]
        if canon(trig.get("alertThreshold")) != canon(cur.get("alertThreshold")):
            return False
        wanted = [{k: v for k, v in a.items() if v is not None} for a in trig.get("actions") or []]
        if not match_nodes(wanted, cur["actions"]):
            return False
    return True


def implied_resolve(triggers):
    """What Sentry 26.7+ reports for a null resolveThreshold: the warning threshold, else the critical one."""
    by_label = {t.get("label"): t.get("alertThreshold") for t in triggers}
    return by_label.get("warning", by_label.get("critical"))


def with_server_ids(triggers, current):
    """The desired triggers with the server's trigger and action ids, so that a PUT updates them instead of
    recreating them (actions are paired by type)."""
    have = {t.get("label"): t for t in current.get("triggers") or []}
    out = []
    for trig in triggers:
        trig = dict(trig)
        cur = have.get(trig["label"])
        if cur is not None and "id" in cur:
            trig["id"] = cur["id"]
            cur_actions = list(cur.get("actions") or [])
            actions = []
            for action in trig["actions"]:
                action = dict(action)
                hit = next((a for a in cur_actions if a.get("type") == action.get("type")), None)
                if hit is not None and "id" in hit:
                    action["id"] = hit["id"]
                    cur_actions.remove(hit)
                actions.append(action)
            trig["actions"] = actions
        out.append(trig)
    return out
