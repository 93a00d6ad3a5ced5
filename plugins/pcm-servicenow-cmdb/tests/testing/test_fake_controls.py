"""Latency, injected failures, outages, the request log, start and stop."""

import time

import httpx
import pytest

from pcm_servicenow_cmdb.testing.fake import FakeServiceNow

TABLE = "/api/now/table/change_request"


def test_fail_next_answers_429_with_retry_after_then_recovers(api, servicenow):
    servicenow.fail_next(429, times=2, retry_after=3)
    first, second, third = (api.get(TABLE) for _ in range(3))
    assert (first.status_code, second.status_code, third.status_code) == (429, 429, 200)
    assert first.headers["Retry-After"] == "3"
    assert first.json()["error"]["message"] == "Too Many Requests"


def test_fail_next_without_retry_after(api, servicenow):
    servicenow.fail_next(429)
    assert "Retry-After" not in api.get(TABLE).headers


@pytest.mark.parametrize("status", [500, 502, 503])
def test_fail_next_with_a_server_error(api, servicenow, status):
    servicenow.fail_next(status)
    response = api.get(TABLE)
    assert response.status_code == status
    assert response.json()["status"] == "failure"


def test_an_injected_failure_is_not_processed(api, servicenow, changes):
    servicenow.fail_next(500)
    path = f"{TABLE}/{changes['implement']}"
    assert api.patch(path, json={"work_notes": "lost"}).status_code == 500
    assert servicenow.journal(changes["implement"]) == []


def test_failures_spare_the_token_endpoint(api, servicenow):
    servicenow.add_oauth_client("c", "s")
    servicenow.fail_next(503)
    form = {"grant_type": "client_credentials", "client_id": "c", "client_secret": "s"}
    assert api.post("/oauth_token.do", data=form, auth=None).status_code == 200
    assert api.get(TABLE).status_code == 503


def test_fail_next_needs_an_error_status(servicenow):
    with pytest.raises(ValueError, match="error status"):
        servicenow.fail_next(200)


def test_an_outage_answers_503_html_until_it_ends(api, servicenow):
    servicenow.outage(True)
    response = api.get(TABLE)
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("text/html")
    servicenow.outage(False)
    assert api.get(TABLE).status_code == 200


def test_latency_delays_answers(api, servicenow):
    servicenow.set_latency(0.05)
    started = time.monotonic()
    api.get(TABLE)
    assert time.monotonic() - started >= 0.05


def test_the_request_log(api, servicenow):
    api.get(TABLE, params={"sysparm_limit": 5})
    api.get("/api/now/table/task_ci")
    assert servicenow.requests == [
        ("GET", TABLE, {"sysparm_limit": "5"}),
        ("GET", "/api/now/table/task_ci", {}),
    ]
    assert servicenow.table_requests("change_request") == [{"sysparm_limit": "5"}]


def test_reset_clears_controls_and_data(api, servicenow, changes):
    servicenow.set_latency(1)
    servicenow.fail_next(500, times=3)
    servicenow.outage(True)
    servicenow.forbid("change_request")
    servicenow.hide("change_request", changes["implement"])
    servicenow.reset()
    response = api.get(TABLE)
    assert response.status_code == 200
    assert response.json()["result"] == []
    assert len(servicenow.requests) == 1


def test_hide_needs_a_record_of_that_table(servicenow, changes):
    with pytest.raises(KeyError):
        servicenow.hide("incident", changes["implement"])


def test_add_refuses_a_bad_sys_id_or_table(servicenow):
    with pytest.raises(ValueError, match="32 lower-case"):
        servicenow.add("change_request", sys_id="abc")
    with pytest.raises(ValueError, match="not a table name"):
        servicenow.add("Change Request")


def test_start_and_stop_free_the_port():
    with FakeServiceNow() as fake:
        url = fake.url
        assert httpx.get(f"{url}{TABLE}").status_code == 401
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}{TABLE}")


def test_a_fake_cannot_start_twice(servicenow):
    with pytest.raises(RuntimeError, match="already running"):
        servicenow.start()


def test_https_needs_a_certificate_and_its_key():
    with pytest.raises(ValueError, match="both certfile and keyfile"):
        FakeServiceNow(certfile="server.pem")
    with pytest.raises(ValueError, match="need HTTPS"):
        FakeServiceNow(client_ca="ca.pem")
