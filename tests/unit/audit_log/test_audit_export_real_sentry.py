"""The audit-log exporter against a real Sentry 23.7.1 (tests/real_sentry; it has the audit-logs endpoint).

A fresh organization per test; its creation and each team created in it leave audit entries. The
exporter pages with per_page=2 so that Sentry's own DateTimePaginator cursors are followed.
"""

from __future__ import annotations

import pytest

from tests.unit.real_sentry.conftest import Api, new_org

pytestmark = [pytest.mark.real_sentry, pytest.mark.slow]


def _audit_ids(api: Api, org: str) -> list[str]:
    ids, cursor = [], None
    while True:
        path = f"organizations/{org}/audit-logs/?per_page=100" + (f"&cursor={cursor}" if cursor else "")
        response = api.call("GET", path)
        assert response.status_code == 200, response.text
        ids += [row["id"] for row in response.json()["rows"]]
        nxt = response.links.get("next", {})
        if 'results="true"' not in response.headers.get("Link", "").split('rel="next"')[1][:20]:
            break
        cursor = nxt["url"].split("cursor=")[1]
    return sorted(ids, key=int)


def _teams(api: Api, org: str, count: int, prefix: str) -> None:
    for index in range(count):
        response = api.call("POST", f"organizations/{org}/teams/", {"slug": f"{prefix}{index}"})
        assert response.status_code == 201, response.text


@pytest.fixture
def org(real_api):
    return new_org(real_api)


@pytest.fixture
def config_to(real_sentry, org, make_config):
    """The exporter's configuration for `org` on the real server, paging by 2, into a restic repository."""
    return lambda repository: make_config(real_sentry.url, [org], repository, token=real_sentry.token, per_page=2)


def test_real_sentry_export_is_complete_incremental_and_without_duplicates(
    exporter, real_api, org, local_repo, config_to
):
    _teams(real_api, org, 4, "a")
    config = config_to(local_repo.location)
    assert exporter.main(["--config", str(config)]) == 0
    first = [r["id"] for r in local_repo.rows()]
    assert first == _audit_ids(real_api, org)
    assert len(first) >= 5  # org.create + 4 x team.create
    assert {r["event"] for r in local_repo.rows()} >= {"team.create"}

    assert exporter.main(["--config", str(config)]) == 0
    assert len(local_repo.snapshots()) == 1, "nothing new: no batch"

    _teams(real_api, org, 3, "b")
    assert exporter.main(["--config", str(config)]) == 0
    ids = [r["id"] for r in local_repo.rows()]
    assert ids == _audit_ids(real_api, org)
    assert len(ids) == len(set(ids)) == len(first) + 3


def test_real_sentry_crash_before_recording_and_dead_destination_lose_and_repeat_nothing(
    exporter, real_api, org, local_repo, config_to, monkeypatch
):
    _teams(real_api, org, 3, "c")
    dead = config_to("rest:http://127.0.0.1:27001/")
    assert exporter.main(["--config", str(dead)]) == 1
    config = config_to(local_repo.location)
    real_save = exporter.OrgState.save
    state = {"crashed": False}

    def crash_once(self, overlap):
        if not state["crashed"] and self.hwm is not None:
            state["crashed"] = True
            raise KeyboardInterrupt("crash after the snapshot")
        return real_save(self, overlap)

    monkeypatch.setattr(exporter.OrgState, "save", crash_once)
    with pytest.raises(KeyboardInterrupt):
        exporter.main(["--config", str(config)])
    _teams(real_api, org, 2, "d")
    assert exporter.main(["--config", str(config)]) == 0
    ids = [r["id"] for r in local_repo.rows()]
    assert ids == _audit_ids(real_api, org)
    assert len(ids) == len(set(ids))
