"""The audit-log exporter against the Sentry double (audit-logs endpoint as Sentry 26.x serves it).

Each test changes the double's organization through its API (every write leaves an audit entry,
tests/sentry_double/audit.py), runs the exporter the way the systemd unit does (`main([...])`,
configuration file, token file) and reads the restic repository back with restic itself.
"""

from __future__ import annotations

import datetime
import json
import socket
import subprocess
from pathlib import Path

import pytest

from tests.sentry_double import audit
from tests.sentry_double.samples import Client

from .conftest import EXPORT_TOKEN, EXPORTER, load_exporter

next_cursor = load_exporter().next_cursor


def _changes(api: Client, count: int, prefix: str = "t") -> None:
    """`count` audited writes: team creations (one entry each)."""
    for index in range(count):
        response = api.post(
            "/organizations/sentry/teams/", json={"slug": f"{prefix}{index}", "name": f"{prefix}{index}"}
        )
        assert response.status_code == 201, response.text


def _all_ids(double) -> list[str]:
    with double.state.lock:
        return [e["id"] for e in double.state.data.get("audit_log", []) if e["org"] == "sentry"]


# ------------------------------------------------------------------ the double's endpoint
def test_double_records_org_project_key_and_rule_changes(double):
    api = Client(double.url, double.token)
    assert api.post("/organizations/sentry/teams/", json={"slug": "derm", "name": "Derm"}).status_code == 201
    body = {"name": "api", "slug": "api", "platform": "python", "default_rules": False}
    assert api.post("/teams/sentry/derm/projects/", json=body).status_code == 201
    assert api.put("/organizations/sentry/", json={"allowJoinRequests": False}).status_code == 200
    assert api.put("/projects/sentry/api/", json={"dataScrubber": True}).status_code == 200
    key = api.post("/projects/sentry/api/keys/", json={"name": "second"}).json()
    rule = {
        "name": "new issue",
        "actionMatch": "all",
        "filterMatch": "all",
        "frequency": 30,
        "conditions": [{"id": "sentry.rules.conditions.first_seen_event.FirstSeenEventCondition"}],
        "actions": [{"id": "sentry.mail.actions.NotifyEmailAction", "targetType": "IssueOwners"}],
    }
    assert api.post("/projects/sentry/api/rules/", json=rule).status_code in (200, 201)  # Sentry answers 200
    assert api.delete(f"/projects/sentry/api/keys/{key['public']}/").status_code == 204
    reader = Client(double.url, EXPORT_TOKEN)
    response = reader.get("/organizations/sentry/audit-logs/", params={"per_page": 100})
    assert response.status_code == 200
    rows = response.json()["rows"]
    cursor = next_cursor(response.headers["Link"])
    while cursor:
        page = reader.get("/organizations/sentry/audit-logs/", params={"per_page": 100, "cursor": cursor})
        rows += page.json()["rows"]
        cursor = next_cursor(page.headers["Link"])
    events = [r["event"] for r in reversed(rows)]
    assert events[-7:] == [
        "team.create",
        "project.create",
        "org.edit",
        "project.edit",
        "projectkey.create",
        "rule.create",
        "projectkey.remove",
    ]
    newest = rows[0]
    assert set(newest) == {
        "id",
        "actor",
        "event",
        "ipAddress",
        "note",
        "targetObject",
        "targetUser",
        "data",
        "dateCreated",
    }
    assert newest["data"]["public_key"] == key["public"]
    assert newest["note"] == f"removed project key {key['public']}"
    assert "projectkey.remove" in response.json()["options"]
    assert next(r for r in rows if r["event"] == "org.edit")["data"] == {"allowJoinRequests": False}


def test_double_audit_logs_need_org_write_not_org_read(double):
    double.add_token("sntryu_" + "b" * 64, ["org:read", "project:read", "member:read"])
    assert Client(double.url, "sntryu_" + "b" * 64).get("/organizations/sentry/audit-logs/").status_code == 403
    assert Client(double.url, None).get("/organizations/sentry/audit-logs/").status_code == 401
    assert Client(double.url, EXPORT_TOKEN).get("/organizations/sentry/audit-logs/").status_code == 200


def test_double_filters_by_event_and_refuses_a_bad_actor(double):
    api = Client(double.url, double.token)
    _changes(api, 2)
    exporter_api = Client(double.url, EXPORT_TOKEN)
    rows = exporter_api.get("/organizations/sentry/audit-logs/", params={"event": "team.create"}).json()["rows"]
    assert rows and {r["event"] for r in rows} == {"team.create"}
    assert exporter_api.get("/organizations/sentry/audit-logs/", params={"event": "nope"}).json()["rows"] == []
    assert exporter_api.get("/organizations/sentry/audit-logs/", params={"actor": "x"}).status_code == 400


def test_double_cursor_is_keyset_so_new_entries_do_not_shift_pages(double, exporter):
    api = Client(double.url, double.token)
    _changes(api, 12)
    reader = Client(double.url, EXPORT_TOKEN)
    first = reader.get("/organizations/sentry/audit-logs/", params={"per_page": 5})
    seen = [r["id"] for r in first.json()["rows"]]
    _changes(api, 3, prefix="late")  # newer entries appear while the client pages
    assert exporter.next_url(first.headers["Link"]).startswith("https://sentry.dermai.invalid/api/0/")
    cursor = exporter.next_cursor(first.headers["Link"])
    while cursor:
        response = reader.get("/organizations/sentry/audit-logs/", params={"per_page": 5, "cursor": cursor})
        seen += [r["id"] for r in response.json()["rows"]]
        cursor = exporter.next_cursor(response.headers["Link"])
    before_late = _all_ids(double)[:-3]
    assert sorted(seen, key=int) == sorted(before_late, key=int)
    assert len(seen) == len(set(seen))


# ------------------------------------------------------------------ the exporter
def test_first_run_exports_every_entry_once_oldest_first_across_pages(double, exporter, local_repo, make_config):
    _changes(Client(double.url, double.token), 13)
    config = make_config(double.url, ["sentry"], local_repo.location, per_page=5)
    assert exporter.main(["--config", str(config)]) == 0
    rows = local_repo.rows()
    assert [r["id"] for r in rows] == _all_ids(double)
    assert len(rows) == 13
    snapshot = local_repo.snapshots()[0]
    assert {"sentry-audit-log", "org:sentry"} <= set(snapshot["tags"])
    # paged: 13 entries at 5 per page need three requests
    pages = [p for m, p, s in double.requests if p.startswith("/api/0/organizations/sentry/audit-logs/")]
    assert len(pages) == 3


def test_rerun_exports_only_new_entries_and_nothing_when_nothing_changed(double, exporter, local_repo, make_config):
    api = Client(double.url, double.token)
    _changes(api, 4)
    config = make_config(double.url, ["sentry"], local_repo.location, per_page=5)
    assert exporter.main(["--config", str(config)]) == 0
    assert exporter.main(["--config", str(config)]) == 0
    assert len(local_repo.snapshots()) == 1, "a run with nothing new must not write a batch"
    _changes(api, 7, prefix="more")
    assert exporter.main(["--config", str(config)]) == 0
    ids = [r["id"] for r in local_repo.rows()]
    assert ids == _all_ids(double)
    assert len(ids) == len(set(ids)) == 11


def test_entry_committed_late_with_an_older_timestamp_is_not_skipped(double, exporter, local_repo, make_config):
    api = Client(double.url, double.token)
    _changes(api, 3)
    config = make_config(double.url, ["sentry"], local_repo.location)
    assert exporter.main(["--config", str(config)]) == 0
    with double.state.lock:
        org = double.state.find_org("sentry")
        newest = double.state.data["audit_log"][-1]["dateCreated"]
        stamp = exporter.parse_time(newest).replace(microsecond=0)
        older = (stamp - datetime.timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        late = audit.add_entry(double.state, org, "org.edit", "late commit", {"name": "x"}, org["id"], when=older)
    assert exporter.main(["--config", str(config)]) == 0
    ids = [r["id"] for r in local_repo.rows()]
    assert late["id"] in ids
    assert len(ids) == len(set(ids)) == 4


def test_unreachable_destination_keeps_the_high_water_mark_and_loses_nothing(
    double, exporter, rest_repo, make_config, tmp_path, capsys
):
    api = Client(double.url, double.token)
    _changes(api, 6)
    dead = make_config(double.url, ["sentry"], "rest:http://127.0.0.1:27001/", per_page=5)
    assert exporter.main(["--config", str(dead)]) == 1
    err = capsys.readouterr().err
    assert "high-water mark unchanged" in err and "connection refused" in err
    assert EXPORT_TOKEN not in err
    assert not (tmp_path / "state" / "sentry.state.json").exists()
    assert (tmp_path / "state" / "sentry.pending.jsonl").exists()
    _changes(api, 2, prefix="while-down")
    # the destination is back (another address, same state directory)
    alive = make_config(double.url, ["sentry"], rest_repo.location, per_page=5, destination={"keep_within": ""})
    assert exporter.main(["--config", str(alive)]) == 0
    ids = [r["id"] for r in rest_repo.rows()]
    assert ids == _all_ids(double)
    assert len(ids) == len(set(ids)) == 8


def test_crash_after_shipping_before_recording_neither_skips_nor_repeats(
    double, exporter, local_repo, make_config, monkeypatch
):
    api = Client(double.url, double.token)
    _changes(api, 5)
    config = make_config(double.url, ["sentry"], local_repo.location)
    crashed = {"done": False}
    real_save = exporter.OrgState.save

    def crash_once(self, overlap):
        if not crashed["done"] and self.hwm is not None:
            crashed["done"] = True
            raise KeyboardInterrupt("power cut")  # after the snapshot, before the state file
        return real_save(self, overlap)

    monkeypatch.setattr(exporter.OrgState, "save", crash_once)
    with pytest.raises(KeyboardInterrupt):
        exporter.main(["--config", str(config)])
    assert len(local_repo.snapshots()) == 1
    _changes(api, 2, prefix="after-crash")
    assert exporter.main(["--config", str(config)]) == 0
    ids = [r["id"] for r in local_repo.rows()]
    assert ids == _all_ids(double)
    assert len(ids) == len(set(ids)) == 7


def test_crash_while_fetching_leaves_no_trace_and_the_rerun_exports_all(
    double, exporter, local_repo, make_config, monkeypatch, tmp_path
):
    api = Client(double.url, double.token)
    _changes(api, 12)
    config = make_config(double.url, ["sentry"], local_repo.location, per_page=5, retries=0)
    real_get = exporter.Sentry.get
    calls = []

    def second_page_fails(self, url):
        calls.append(url)
        if len(calls) == 2:
            double.inject_fault(status=500, count=1, path=r"audit-logs")
        return real_get(self, url)

    monkeypatch.setattr(exporter.Sentry, "get", second_page_fails)
    assert exporter.main(["--config", str(config)]) == 1
    assert not Path(local_repo.location).exists(), "nothing was shipped"
    assert not (tmp_path / "state" / "sentry.state.json").exists()
    assert exporter.main(["--config", str(config)]) == 0
    assert [r["id"] for r in local_repo.rows()] == _all_ids(double)


def test_transient_sentry_errors_are_retried_within_the_budget(double, exporter, local_repo, make_config):
    _changes(Client(double.url, double.token), 3)
    config = make_config(double.url, ["sentry"], local_repo.location, retries=2)
    double.inject_fault(status=503, count=2, path=r"audit-logs")
    assert exporter.main(["--config", str(config)]) == 0
    assert len(local_repo.rows()) == 3


def test_a_token_without_org_write_fails_and_names_the_scope(double, exporter, local_repo, make_config, capsys):
    double.add_token("sntryu_" + "c" * 64, ["org:read"])
    config = make_config(double.url, ["sentry"], local_repo.location, token="sntryu_" + "c" * 64)
    assert exporter.main(["--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "403" in err and "org:write" in err
    assert "sntryu_" not in err


def test_retention_forgets_snapshots_older_than_keep_within(double, exporter, local_repo, make_config):
    _changes(Client(double.url, double.token), 2)
    config = make_config(double.url, ["sentry"], local_repo.location, destination={"keep_within": "1h"})
    assert exporter.main(["--config", str(config)]) == 0
    # an old batch, as if written two hours ago: the next shipment's forget removes it
    old = local_repo.location + "-old.jsonl"
    with open(old, "w") as handle:
        handle.write("{}\n")
    local_repo.restic(
        "backup",
        old,
        "--time",
        "2001-01-01 00:00:00",
        "--tag",
        "sentry-audit-log",
        "--tag",
        "org:sentry",
        "--tag",
        "batch:sentry/00000000-0-0",
        "--host",
        socket.gethostname(),
    )
    assert len(local_repo.snapshots()) == 2
    _changes(Client(double.url, double.token), 1, prefix="next")
    assert exporter.main(["--config", str(config)]) == 0
    times = sorted(s["time"][:4] for s in local_repo.snapshots())
    assert "2001" not in times and len(times) == 2


def test_the_exporter_runs_as_a_script_with_python3(double, local_repo, make_config):
    _changes(Client(double.url, double.token), 1)
    config = make_config(double.url, ["sentry"], local_repo.location)
    result = subprocess.run(["python3", str(EXPORTER), "--config", str(config)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "sentry: 1 new entries exported" in result.stdout
    assert json.loads((config.parent / "state" / "sentry.state.json").read_text())["exported"] == 1
