"""Cursor pagination with Sentry's Link header."""

from __future__ import annotations

import re

from tests.sentry_double.samples import Client
from tests.sentry_double.server import start_double

LINK = re.compile(
    r'<(?P<url>[^>]*)>; rel="(?P<rel>\w+)"; results="(?P<results>true|false)"; cursor="(?P<cursor>[^"]*)"'
)


def links(response):
    return {m["rel"]: m.groupdict() for m in LINK.finditer(response.headers["Link"])}


def make_teams(api, count):
    for index in range(count):
        assert api.post("/organizations/sentry/teams/", json={"slug": f"team-{index:02d}"}).status_code == 201


def test_first_page_has_sentry_link_header(api):
    make_teams(api, 6)
    response = api.get("/organizations/sentry/teams/")
    found = links(response)
    assert len(response.json()) == 5
    assert found["previous"]["results"] == "false"
    assert found["previous"]["cursor"] == "0:0:1"
    assert found["next"] == {
        "url": "https://sentry.dermai.test/api/0/organizations/sentry/teams/?&cursor=0:5:0",
        "rel": "next",
        "results": "true",
        "cursor": "0:5:0",
    }


def test_walking_cursors_returns_every_row_once(api):
    make_teams(api, 11)
    seen, cursor = [], None
    while True:
        response = api.get("/organizations/sentry/teams/", params={"cursor": cursor} if cursor else None)
        seen += [t["slug"] for t in response.json()]
        nxt = links(response)["next"]
        if nxt["results"] != "true":
            break
        cursor = nxt["cursor"]
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 12


def test_link_keeps_other_query_parameters(api):
    make_teams(api, 6)
    response = api.get("/organizations/sentry/teams/", params={"detailed": "0"})
    assert links(response)["next"]["url"].endswith("/teams/?detailed=0&cursor=0:5:0")


def test_per_page_above_100_is_400(api):
    response = api.get("/organizations/sentry/teams/", params={"per_page": 101})
    assert response.status_code == 400


def test_bad_cursor_is_400(api):
    assert api.get("/organizations/sentry/teams/", params={"cursor": "garbage"}).status_code == 400


def test_page_size_is_configurable():
    with start_double(page_size=2) as double:
        api = Client(double.url, double.token)
        make_teams(api, 3)
        assert len(api.get("/organizations/sentry/teams/").json()) == 2
