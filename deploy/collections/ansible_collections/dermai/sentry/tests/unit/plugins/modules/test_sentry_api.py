"""The shared REST client: errors, retries, pagination, the run's retry budget - against the Sentry double
with its fault injection armed (the `fake` fixture)."""

from __future__ import annotations

import subprocess
import time

import pytest
from ansible_collections.dermai.sentry.tests.unit.plugins.modules.conftest import (
    API,
    Fault,
    FaultyDouble,
    issue_rule,
    run_module,
)

TEAMS = "organizations/sentry/teams/"


def client(fake, **kwargs):
    return API.SentryClient(fake.url, fake.token, **kwargs)


def test_bad_token_fails_with_a_clear_message_that_does_not_show_the_token(fake):
    result = run_module("sentry_team", dict(url=fake.url, token="sntryu_wrong", organization="sentry", slug="x"))
    assert result["failed"]
    assert "token rejected: check sentry_config_api_token / the token file" in result["msg"]
    assert "GET /api/0/teams/sentry/x/" in result["msg"]
    assert "sntryu_wrong" not in str(result)


def test_error_message_names_method_path_status_and_detail(fake):
    fake.faults.append(Fault("PUT", "/organizations/sentry/$", 403, {"detail": "You do not have permission."}))
    result = run_module("sentry_organization", dict(url=fake.url, token=fake.token, slug="sentry", data_scrubber=True))
    assert result["failed"]
    assert result["msg"].startswith(
        "Sentry API PUT /api/0/organizations/sentry/: HTTP 403: You do not have permission."
    )
    assert fake.token not in str(result)


def test_a_403_names_the_scope_the_token_lacks(fake):
    fake.server.add_token("sntryu_" + "cd" * 32, ["org:read", "project:read"])
    result = run_module("sentry_issue_alert", issue_rule(fake, "internal", token="sntryu_" + "cd" * 32))
    assert result["failed"]
    assert "HTTP 403" in result["msg"]
    assert "the token lacks scope alerts:write" in result["msg"]
    assert result["missing_scope"] == "alerts:write"
    assert fake.writes() == [("POST", "/api/0/projects/sentry/internal/rules/", 403)]


def test_the_token_can_come_from_a_file_read_where_the_module_runs(fake, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(fake.token + "\n")
    token_file.chmod(0o600)
    result = run_module(
        "sentry_team", dict(url=fake.url, token_file=str(token_file), organization="sentry", slug="sentry")
    )
    assert not result["failed"], result
    assert fake.token not in str(result)


def test_token_and_token_file_are_mutually_exclusive_and_a_missing_file_is_named(fake, tmp_path):
    both = run_module(
        "sentry_team",
        dict(url=fake.url, token=fake.token, token_file=str(tmp_path / "t"), organization="sentry", slug="x"),
    )
    assert both["failed"] and "mutually exclusive: token|token_file" in both["msg"]
    missing = run_module(
        "sentry_team", dict(url=fake.url, token_file=str(tmp_path / "nope"), organization="sentry", slug="x")
    )
    assert missing["failed"] and f"token_file {tmp_path / 'nope'}: cannot read it" in missing["msg"]
    assert fake.requests == []


def test_field_errors_without_detail_are_reported_as_the_field_map(fake):
    fake.faults.append(Fault("PUT", "/organizations/sentry/$", 400, {"safeFields": ["Invalid selector"]}))
    with pytest.raises(API.SentryAPIError) as err:
        client(fake).put("organizations/sentry/", {"safeFields": ["$$"]})
    assert err.value.status == 400
    assert '{"safeFields": ["Invalid selector"]}' in str(err.value)


def test_missing_object_is_none_with_missing_ok_and_a_404_error_otherwise(fake):
    api = client(fake)
    assert api.get("teams/sentry/nope/", missing_ok=True) is None
    with pytest.raises(API.SentryAPIError) as err:
        api.get("teams/sentry/nope/")
    assert err.value.status == 404
    assert "HTTP 404: The requested resource does not exist" in str(err.value)


def test_missing_organization_fails_the_module_cleanly(fake):
    result = run_module("sentry_organization", dict(url=fake.url, token=fake.token, slug="other", data_scrubber=True))
    assert result["failed"]
    assert "organization 'other' does not exist" in result["msg"]
    assert fake.writes() == []


def test_429_is_retried_after_the_retry_after_delay(fake, no_sleep):
    fake.faults.append(Fault("GET", "/teams/sentry/sentry/$", 429, {"detail": "slow down"}, {"Retry-After": "7"}))
    result = run_module("sentry_team", dict(url=fake.url, token=fake.token, organization="sentry", slug="sentry"))
    assert not result["failed"]
    assert result["team"]["slug"] == "sentry"
    assert no_sleep == [7.0]
    assert [r[2] for r in fake.requests] == [429, 200]


def test_5xx_is_retried_with_growing_backoff(fake, no_sleep):
    fake.faults.append(Fault("GET", "/teams/", 503, {"detail": "unavailable"}, times=3))
    teams = client(fake, retries=5).get_all(TEAMS)
    assert [t["slug"] for t in teams] == ["sentry"]
    assert len(no_sleep) == 3
    assert no_sleep[0] < no_sleep[2]  # 1s, 2s, 4s with jitter in [50%, 100%]


def test_5xx_until_retries_run_out_fails_cleanly(fake, no_sleep):
    fake.faults.append(Fault("POST", "/organizations/sentry/teams/$", 502, {"detail": "Bad Gateway"}, times=99))
    result = run_module(
        "sentry_team", dict(url=fake.url, token=fake.token, organization="sentry", slug="dermai", retries=2)
    )
    assert result["failed"]
    assert result["msg"] == (
        "Sentry API POST /api/0/organizations/sentry/teams/: HTTP 502: Bad Gateway (after 3 attempts)"
    )
    assert len(no_sleep) == 2
    assert fake.state.find_team("sentry", "dermai") is None


def test_a_dropped_connection_is_retried(fake, no_sleep):
    fake.faults.append(Fault("GET", "/teams/sentry/sentry/$", None))
    assert client(fake).get("teams/sentry/sentry/")["slug"] == "sentry"
    assert len(no_sleep) == 1


def test_a_refused_connection_fails_at_once_with_the_url(no_sleep):
    api = API.SentryClient("http://127.0.0.1:9", "t", retries=5, timeout=2)
    with pytest.raises(API.SentryAPIError) as err:
        api.get("organizations/sentry/")
    assert err.value.status is None
    assert "cannot reach Sentry at http://127.0.0.1:9: connection refused" in str(err.value)
    assert no_sleep == []


def test_a_name_that_does_not_resolve_is_not_retried(no_sleep):
    api = API.SentryClient("http://sentry.invalid", "t", retries=5, timeout=2)
    with pytest.raises(API.SentryAPIError) as err:
        api.get("organizations/sentry/")
    assert "cannot reach Sentry at http://sentry.invalid: name does not resolve" in str(err.value)
    assert no_sleep == []


def test_a_server_that_dies_mid_run_fails_the_next_call_within_seconds(monkeypatch):
    monkeypatch.setattr(API, "SLEEP", time.sleep)  # real waits: this measures the time to fail
    server = FaultyDouble()
    url, token = server.url, server.token
    assert (
        run_module("sentry_team", dict(url=url, token=token, organization="sentry", slug="sentry"))["changed"] is False
    )
    server.stop()
    start = time.monotonic()
    result = run_module("sentry_team", dict(url=url, token=token, organization="sentry", slug="sentry", retries=5))
    assert result["failed"]
    assert url in result["msg"]
    assert time.monotonic() - start < 15


def test_the_retry_deadline_is_one_budget_for_the_whole_run(fake, no_sleep):
    fake.faults.append(Fault("GET", "/teams/", 503, {"detail": "unavailable"}, times=99))
    spent = time.time() - 1  # a deadline already reached by an earlier task of the run
    result = run_module(
        "sentry_team",
        dict(url=fake.url, token=fake.token, organization="sentry", slug="sentry", retry_deadline=spent),
    )
    assert result["failed"]
    assert "(after 1 attempts; the run's retry budget (retry_deadline) is used up)" in result["msg"]
    assert no_sleep == []
    ahead = API.SentryClient(fake.url, fake.token, retries=3, retry_deadline=time.time() + 3600)
    with pytest.raises(API.SentryAPIError):
        ahead.get("teams/sentry/sentry/")
    assert len(no_sleep) == 3  # within the budget, the per-call retries apply


def test_4xx_other_than_429_is_not_retried(fake, no_sleep):
    fake.faults.append(Fault("GET", "/teams/sentry/x/$", 400, {"detail": "bad"}))
    with pytest.raises(API.SentryAPIError):
        client(fake).get("teams/sentry/x/")
    assert no_sleep == []


def test_lists_are_read_across_every_page(fake):
    for i in range(6):
        fake.add_team(f"t{i}", f"T{i}")
    fake.page_size = 2
    teams = client(fake).get_all(TEAMS)
    assert [t["slug"] for t in teams] == ["sentry", "t0", "t1", "t2", "t3", "t4", "t5"]
    assert len([r for r in fake.requests if r[1] == "/api/0/" + TEAMS]) == 4


@pytest.mark.parametrize(
    ("header", "cursor"),
    [
        (
            '<https://h/x/?cursor=0:0:1>; rel="previous"; results="false"; cursor="0:0:1", '
            '<https://h/x/?cursor=0:100:0>; rel="next"; results="true"; cursor="0:100:0"',
            "0:100:0",
        ),
        (
            '<https://h/x/?cursor=0:0:1>; rel="previous"; results="false"; cursor="0:0:1", '
            '<https://h/x/?cursor=0:100:0>; rel="next"; results="false"; cursor="0:100:0"',
            None,
        ),
        ('<https://h/x/?cursor=1700000000000:0:0>; rel="next"; results="true"', "1700000000000:0:0"),
        ("", None),
        (None, None),
    ],
)
def test_next_cursor_follows_rel_next_only_while_results_is_true(header, cursor):
    assert API.next_cursor(header) == cursor


def test_base_url_with_or_without_api_suffix_reaches_the_same_endpoint(fake):
    for url in (fake.url, fake.url + "/", fake.url + "/api/0/"):
        assert API.SentryClient(url, fake.token).get("organizations/sentry/")["slug"] == "sentry"


def test_path_segments_are_quoted():
    assert API.SentryClient.path(API.URL_TEAM, org="a/b", team="c d") == "teams/a%2Fb/c%20d/"


def test_a_timeout_is_retried(fake, no_sleep):
    fake.faults.append(Fault("GET", "/teams/sentry/sentry/$", 200, {"slug": "late"}, delay=1.5))
    team = client(fake, timeout=0.5).get("teams/sentry/sentry/")
    assert team["slug"] == "sentry"
    assert len(no_sleep) == 1


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 that acts as its own CA."""
    where = tmp_path_factory.mktemp("tls")
    cert, key = where / "ca.crt", where / "ca.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def tls_fake(certificate):
    server = FaultyDouble(tls=(str(certificate[0]), str(certificate[1])))
    try:
        yield server
    finally:
        server.stop()


def test_tls_is_verified_against_ca_path(tls_fake, certificate):
    result = run_module(
        "sentry_team",
        dict(url=tls_fake.url, token=tls_fake.token, organization="sentry", slug="sentry", ca_path=str(certificate[0])),
    )
    assert not result["failed"], result
    assert result["team"]["slug"] == "sentry"


def test_an_untrusted_certificate_fails_at_once_with_a_hint(tls_fake, no_sleep):
    result = run_module(
        "sentry_team", dict(url=tls_fake.url, token=tls_fake.token, organization="sentry", slug="sentry")
    )
    assert result["failed"]
    assert "TLS verification failed" in result["msg"]
    assert "set ca_path" in result["msg"]
    assert no_sleep == []
    assert tls_fake.requests == []


def test_validate_certs_false_skips_verification(tls_fake):
    result = run_module(
        "sentry_team",
        dict(url=tls_fake.url, token=tls_fake.token, organization="sentry", slug="sentry", validate_certs=False),
    )
    assert not result["failed"], result


def test_rule_nodes_match_in_any_order_ignoring_what_the_server_adds():
    desired = [{"id": "a", "value": 150, "interval": "15m"}, {"id": "b"}]
    stored = [{"id": "b", "name": "label b"}, {"id": "a", "value": "150", "interval": "15m", "name": "label a"}]
    assert API.match_nodes(desired, stored, strip=("name",))
    assert not API.match_nodes(desired, stored[:1], strip=("name",))
    assert not API.match_nodes([{"id": "a", "value": 150, "interval": "5m"}, {"id": "b"}], stored, strip=("name",))


def test_settings_compare_lists_as_sets_and_pii_configs_parsed():
    current = {
        "sensitiveFields": ["MRN", "dob"],
        "relayPiiConfig": '{"rules": {}, "applications": {"$string": ["@ip"]}}',
    }
    desired = {
        "sensitiveFields": ["dob", "mrn"],
        "relayPiiConfig": API.dump_pii({"applications": {"$string": ["@ip"]}, "rules": {}}),
    }
    assert API.fields_differ(desired, current, ("sensitiveFields",), ("relayPiiConfig",)) == []
    desired["relayPiiConfig"] = API.dump_pii({"applications": {"$string": ["@email"]}})
    assert API.fields_differ(desired, current, ("sensitiveFields",), ("relayPiiConfig",)) == ["relayPiiConfig"]


def test_an_ambiguous_create_failure_is_not_blindly_retried(fake, no_sleep):
    fake.faults.append(Fault("POST", "/keys/$", 502, {"detail": "Bad Gateway"}, times=9))
    fake.add_project("web")
    with pytest.raises(API.SentryAPIError) as err:
        client(fake, retries=3).request("POST", "projects/sentry/web/keys/", body={"name": "k"}, retry_ambiguous=False)
    assert err.value.ambiguous
    assert no_sleep == []


def test_a_lost_answer_to_a_key_create_does_not_create_a_second_key(fake):
    project = fake.add_project("web")
    fake.faults.append(Fault("POST", "/keys/$", 504, {"detail": "Gateway Timeout"}, apply=True))
    result = run_module(
        "sentry_key", dict(url=fake.url, token=fake.token, organization="sentry", project="web", name="api-prod")
    )
    assert not result["failed"], result
    assert result["changed"]
    assert [k[0] for k in fake.keys(project)] == ["Default", "api-prod"]
    assert result["dsn"] == fake.keys(project)[1][1]
    assert len([w for w in fake.writes() if w[0] == "POST"]) == 1


def test_a_create_dropped_before_the_server_saw_it_is_sent_again(fake):
    fake.add_project("web")  # dropped before the server acted: the client cannot know, so it looks, then posts
    fake.faults.append(Fault("POST", "/alert-rules/$", None))
    trig = [
        {
            "label": "critical",
            "alertThreshold": 5,
            "actions": [{"type": "email", "targetType": "team", "targetIdentifier": "1"}],
        }
    ]
    result = run_module(
        "sentry_metric_alert",
        dict(url=fake.url, token=fake.token, organization="sentry", name="m", projects=["web"], triggers=trig),
    )
    assert not result["failed"], result
    assert fake.alert_rule_names() == ["m"]
    assert len([w for w in fake.writes() if w[0] == "POST"]) == 2


def test_a_lost_answer_to_an_issue_rule_create_finds_the_rule(fake):
    project = fake.add_project("web")
    fake.faults.append(Fault("POST", "/rules/$", None, apply=True))
    result = run_module("sentry_issue_alert", issue_rule(fake))
    assert not result["failed"], result
    assert fake.rule_names(project) == ["r"]


def test_oldest_first_orders_by_numeric_id_whatever_the_listing_order():
    listed = [{"id": "10", "name": "b"}, {"id": "9", "name": "a"}, {"id": "100", "name": "c"}]
    assert [o["id"] for o in API.oldest_first(listed)] == ["9", "10", "100"]
