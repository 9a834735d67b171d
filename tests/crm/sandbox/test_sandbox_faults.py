"""Fault injection: each fault of the plan, seen by the official SDK (or raw HTTP where the
SDK hides the detail), the HTTP controls, the traffic figures, and the bespoke-plan hook."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
import urllib3
from hubspot.crm.contacts.exceptions import ApiException, ServiceException, UnauthorizedException
from hubspot.crm.owners.exceptions import ApiException as OwnersApiException

from crm.sandbox import Fault, FaultPlan, SandboxServer
from crm.sandbox.faults import is_write

REPO = Path(__file__).resolve().parents[3]
TOKEN = "sandbox-token"
CONTACTS = "/crm/v3/objects/contacts"
NO_TOKEN = {"Authorization": ""}


@pytest.fixture
def faults(server: SandboxServer) -> Iterator[FaultPlan]:
    """The server's plan, cleared before and after (bespoke plans swapped back out)."""
    plan: FaultPlan = server.app.state.faults
    plan.clear()
    yield plan
    server.app.state.faults = plan
    plan.clear()


def create(sdk: Any, email: str, **kwargs: Any) -> Any:
    return sdk.crm.contacts.basic_api.create({"properties": {"email": email}}, **kwargs)


def emails(sandbox: Any) -> list[str]:
    return [c["properties"]["email"] for c in sandbox.contacts()]


def batch_write(sdk: Any, operation: str, addresses: list[str], **kwargs: Any) -> Any:
    """A contacts batch ``create`` or ``upsert`` of ``addresses``, traced as the product
    sends it."""
    if operation == "create":
        inputs = [{"properties": {"email": a}, "objectWriteTraceId": a} for a in addresses]
    else:
        inputs = [
            {"idProperty": "email", "id": a, "properties": {}, "objectWriteTraceId": a}
            for a in addresses
        ]
    return getattr(sdk.crm.contacts.batch_api, operation)({"inputs": inputs}, **kwargs)


def wait_for_log(sandbox: Any, entry: tuple[str, str, int], timeout_s: float = 5.0) -> None:
    """Wait until the sandbox has finished (and logged) a request the client gave up on,
    so it cannot land in the next test's fresh portal."""
    deadline = time.monotonic() + timeout_s
    while not any(logged[:3] == entry for logged in sandbox.request_log):
        assert time.monotonic() < deadline, f"{entry} never completed"
        time.sleep(0.01)


# --- 5xx ------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 503, 504])
def test_error_rate_one_answers_the_chosen_5xx_with_a_hubspot_body_and_writes_nothing(
    sdk, sandbox, faults, status
):
    faults.configure(error_rate=1, error_statuses=[status])
    with pytest.raises(ServiceException) as caught:
        create(sdk, "err@example.com")
    error = caught.value
    assert error.status == status
    body = json.loads(error.body)
    assert body["status"] == "error" and body["message"] and body["category"]
    assert body["correlationId"] == error.headers["X-HubSpot-Correlation-Id"]
    assert sandbox.contacts() == []
    assert faults.counters["errors"] == 1


def test_a_502_is_the_edge_html_page_a_client_must_survive(http, sandbox, faults):
    faults.configure(error_rate=1, error_statuses=[502])
    response = http.post(CONTACTS, json={"properties": {"email": "gw@example.com"}})
    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")
    assert "<title>502 Bad Gateway</title>" in response.text
    assert sandbox.contacts() == []


def test_a_seeded_error_rate_is_about_right_reproducible_and_counted(sdk, faults, clock):
    def outcomes() -> list[bool]:
        failed: list[bool] = []
        for _ in range(200):
            clock.advance(0.1)  # 10 calls a second: the burst limit never interferes
            try:
                sdk.crm.contacts.basic_api.get_page(limit=1)
                failed.append(False)
            except ServiceException:
                failed.append(True)
        return failed

    faults.configure(error_rate=0.2, seed=1234)
    served = outcomes()
    assert 20 <= sum(served) <= 60
    assert faults.counters["errors"] == sum(served)
    faults.configure(seed=1234)  # the same seed replays the same decisions
    again = [faults.fault_for("GET", CONTACTS) is not None for _ in range(200)]
    assert again == served


# --- timeouts and lost answers --------------------------------------------------------------


@pytest.mark.parametrize(
    ("write", "answered"),
    [
        (lambda sdk, **kw: create(sdk, "slow@example.com", **kw), (CONTACTS, 201)),
        (
            lambda sdk, **kw: batch_write(sdk, "upsert", ["slow@example.com"], **kw),
            (CONTACTS + "/batch/upsert", 200),
        ),
    ],
    ids=["create", "batch upsert"],
)
def test_a_timeout_outlasts_the_client_yet_the_write_lands(sdk, sandbox, faults, write, answered):
    faults.configure(timeout_rate=1, timeout_s=0.45)
    started = time.monotonic()
    with pytest.raises(urllib3.exceptions.ReadTimeoutError):
        write(sdk, _request_timeout=0.2)
    assert time.monotonic() - started < 0.4  # the client gave up before the answer
    assert sandbox.contacts() == []
    wait_for_log(sandbox, ("POST", *answered))
    assert emails(sandbox) == ["slow@example.com"]
    assert faults.counters["timeouts"] == 1


def test_a_lost_answer_is_a_dropped_connection_after_the_write(sdk, sandbox, faults):
    faults.configure(lost_answer_rate=1)
    with pytest.raises(urllib3.exceptions.ProtocolError) as caught:
        create(sdk, "lost@example.com")
    assert isinstance(caught.value.args[1], http.client.RemoteDisconnected)
    assert faults.counters["lost_answers"] == 1
    found = sdk.crm.contacts.basic_api.get_by_id("lost@example.com", id_property="email")
    assert found.properties["email"] == "lost@example.com"


def test_plain_urllib_sees_the_remote_end_close_without_a_response(server, sandbox, faults):
    faults.configure(lost_answer_rate=1)
    request = urllib.request.Request(
        server.url + CONTACTS,
        data=json.dumps({"properties": {"email": "raw@example.com"}}).encode(),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        method="POST",
    )
    with pytest.raises(http.client.RemoteDisconnected):
        urllib.request.urlopen(request, timeout=5)
    assert emails(sandbox) == ["raw@example.com"]


@pytest.mark.parametrize("operation", ["create", "upsert"])
def test_a_lost_answer_on_a_batch_write_still_wrote_every_input(sdk, sandbox, faults, operation):
    addresses = ["b1@example.com", "b2@example.com", "b3@example.com"]
    faults.configure(lost_answer_rate=1)
    with pytest.raises(urllib3.exceptions.ProtocolError):
        batch_write(sdk, operation, addresses)
    assert faults.counters["lost_answers"] == 1
    assert emails(sandbox) == addresses


@pytest.mark.parametrize(
    ("path", "writes"),
    [
        (CONTACTS + "/batch/create", True),
        (CONTACTS + "/batch/upsert", True),
        ("/crm/v3/objects/deals/batch/update", True),
        ("/crm/v3/objects/notes/batch/archive", True),
        ("/crm/v4/associations/deal/contact/batch/associate/default", True),
        ("/crm/v4/associations/deal/contact/batch/create", True),
        ("/integrators/timeline/v3/events/batch/create", True),
        (CONTACTS + "/batch/read", False),
        ("/crm/v4/associations/deal/note/batch/read", False),
        (CONTACTS + "/search", False),
    ],
)
def test_batch_writes_may_lose_their_answer_but_batch_reads_never(path, writes):
    assert is_write("POST", path) is writes


def test_answers_to_reads_are_never_lost(sdk, faults):
    faults.configure(lost_answer_rate=1)
    sdk.crm.contacts.basic_api.get_page(limit=1)
    sdk.crm.contacts.search_api.do_search({"filterGroups": [], "limit": 1})
    sdk.crm.contacts.batch_api.read(
        {"idProperty": "email", "inputs": [{"id": "no@example.com"}], "properties": []}
    )
    sdk.crm.objects.notes.batch_api.read({"inputs": [{"id": "1"}], "properties": []})
    sdk.crm.associations.v4.batch_api.get_page("deal", "note", {"inputs": [{"id": "1"}]})
    assert faults.counters["lost_answers"] == 0


def test_a_fixed_delay_slows_every_api_call(sdk, faults):
    faults.configure(delay_s=0.25)
    started = time.monotonic()
    sdk.crm.contacts.basic_api.get_page(limit=1)
    assert time.monotonic() - started >= 0.25


# --- windows on the sandbox clock ------------------------------------------------------------


def test_an_outage_answers_503_until_the_clock_passes_it(sdk, sandbox, faults, clock):
    faults.configure(outage_s=30)
    for _ in range(2):
        with pytest.raises(ServiceException) as caught:
            create(sdk, "down@example.com")
        assert caught.value.status == 503
        assert json.loads(caught.value.body)["status"] == "error"
        clock.advance(14)
    assert faults.remaining_s()["outage"] == pytest.approx(2)
    clock.advance(3)
    create(sdk, "up@example.com")
    assert emails(sandbox) == ["up@example.com"]
    assert faults.counters["outage"] == 2


def test_an_outage_can_use_another_status(sdk, faults):
    faults.configure(outage_s=5, outage_status=504)
    with pytest.raises(ServiceException) as caught:
        sdk.crm.contacts.basic_api.get_page()
    assert caught.value.status == 504


def test_an_auth_failure_answers_hubspots_401_until_it_ends(sdk, faults, clock):
    faults.configure(auth_failure_s=5)
    with pytest.raises(UnauthorizedException) as caught:
        sdk.crm.contacts.basic_api.get_page()
    body = json.loads(caught.value.body)
    assert body["category"] == "INVALID_AUTHENTICATION" and body["status"] == "error"
    clock.advance(5)
    sdk.crm.contacts.basic_api.get_page()
    assert faults.counters["auth_failures"] == 1


def test_a_rate_limit_storm_answers_ten_secondly_429s_then_recovers(sdk, sandbox, faults, clock):
    faults.configure(rate_limit_storm_s=10)
    with pytest.raises(ApiException) as caught:
        create(sdk, "storm@example.com")
    error = caught.value
    assert error.status == 429
    body = json.loads(error.body)
    assert body["policyName"] == "TEN_SECONDLY_ROLLING" and body["errorType"] == "RATE_LIMIT"
    assert body["message"] == "You have reached your ten_secondly_rolling limit."
    assert body["groupName"].endswith(str(sandbox.portal_id))
    assert error.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    assert error.headers["X-HubSpot-RateLimit-Max"] == "100"
    assert error.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert sandbox.contacts() == []
    clock.advance(10.5)
    create(sdk, "calm@example.com")
    assert faults.counters["rate_limited_storm"] == 1
    assert sandbox.rate_limited == 0  # the storm is not the sandbox's own limiter


def test_faults_never_touch_the_page_or_the_controls(http, faults):
    faults.configure(error_rate=1, lost_answer_rate=1, outage_s=60, auth_failure_s=60)
    assert http.get("/", headers=NO_TOKEN).status_code == 200
    assert http.get("/_sandbox/state", headers=NO_TOKEN).status_code == 200
    assert http.get("/_sandbox/faults", headers=NO_TOKEN).status_code == 200
    assert set(faults.counters.values()) == {0}


# --- controls --------------------------------------------------------------------------------


def test_http_controls_set_merge_show_and_clear_the_plan(http, sdk, faults, clock):
    posted = http.post(
        "/_sandbox/faults", json={"error_rate": 1, "error_statuses": [503]}, headers=NO_TOKEN
    )
    assert posted.status_code == 200
    assert posted.json()["plan"]["error_rate"] == 1.0 and posted.json()["active"] is True
    with pytest.raises(ServiceException):
        sdk.crm.contacts.basic_api.get_page()

    merged = http.post("/_sandbox/faults", json={"outage_s": 20}, headers=NO_TOKEN).json()
    assert merged["plan"]["error_statuses"] == [503] and merged["plan"]["outage_s"] == 20.0
    clock.advance(5)
    shown = http.get("/_sandbox/faults", headers=NO_TOKEN).json()
    assert shown["remaining_s"] == {"outage": 15.0, "auth_failure": 0.0, "rate_limit_storm": 0.0}
    assert shown["counters"] == {
        "errors": 1,
        "timeouts": 0,
        "lost_answers": 0,
        "outage": 0,
        "auth_failures": 0,
        "rate_limited_storm": 0,
    }

    cleared = http.delete("/_sandbox/faults", headers=NO_TOKEN).json()
    assert cleared["active"] is False and set(cleared["counters"].values()) == {0}
    assert cleared["plan"]["error_rate"] == 0.0
    sdk.crm.contacts.basic_api.get_page()


@pytest.mark.parametrize(
    "options",
    [{"error_rate": 1.5}, {"explode": True}, {"error_statuses": [200]}, {"outage_s": -1}, [1]],
)
def test_bad_fault_options_are_refused_and_change_nothing(http, faults, options):
    response = http.post("/_sandbox/faults", json=options, headers=NO_TOKEN)
    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"
    assert faults.active is False


def test_python_configuration_refuses_bad_options(faults):
    with pytest.raises(ValueError, match="timeout_rate"):
        faults.configure(timeout_rate=-0.1)
    with pytest.raises(ValueError, match="Unknown"):
        faults.configure(error_rat=0.1)


def test_the_page_shows_active_faults_and_what_they_served(http, sdk, faults):
    faults.configure(error_rate=1, error_statuses=[500])
    with pytest.raises(ServiceException):
        sdk.crm.contacts.basic_api.get_page()
    page = http.get("/", headers=NO_TOKEN).text
    assert "Faults (active)" in page and "error_rate" in page
    assert "<td>errors</td><td>1</td>" in page


# --- traffic figures -------------------------------------------------------------------------


def test_max_requests_in_window_over_a_known_sequence(http, sandbox, clock):
    start = clock.now
    for offset, calls in ((0, 3), (5, 2), (12, 4)):
        clock.now = start + offset
        for _ in range(calls):
            http.get("/crm/v3/owners/")
        http.get("/_sandbox/state", headers=NO_TOKEN)  # the sandbox's own pages never count
    assert sandbox.max_requests_in_window(10) == 6  # 2 at +5 and 4 at +12
    assert sandbox.max_requests_in_window(1) == 4
    assert sandbox.max_requests_in_window(60) == 9
    stats = http.get("/_sandbox/stats", params={"window_s": 10}, headers=NO_TOKEN).json()
    assert stats["max_requests_in_window"] == 6 and stats["accepted_requests"] == 9
    assert http.get("/_sandbox/state", headers=NO_TOKEN).json()["stats"]["window_s"] == 10.0
    bad = http.get("/_sandbox/stats", params={"window_s": "0"}, headers=NO_TOKEN)
    assert bad.status_code == 400


def test_rate_limiter_refusals_are_counted_apart_and_not_as_accepted(sdk_for):
    with SandboxServer(clock=lambda: 1_767_225_600.0, burst_limit=3) as small:
        owners = sdk_for(small.url).crm.owners.owners_api
        statuses = []
        for _ in range(5):
            try:
                owners.get_page()
                statuses.append(200)
            except OwnersApiException as exc:
                statuses.append(exc.status)
        assert statuses == [200, 200, 200, 429, 429]
        small.app.state.faults.configure(rate_limit_storm_s=1)
        with pytest.raises(OwnersApiException) as storm:
            owners.get_page()
        assert storm.value.status == 429
        state = small.state
        assert state.rate_limited == 2
        assert state.max_requests_in_window(10) == 4  # 3 admitted + the storm's 429
        stats = httpx2.get(f"{small.url}/_sandbox/stats").json()
        assert stats == {
            "window_s": 10.0,
            "burst_limit": 3,
            "api_requests": 6,
            "accepted_requests": 4,
            "rate_limited": 2,
            "max_requests_in_window": 4,
        }


# --- the bespoke-plan hook --------------------------------------------------------------------


class FailCreatesAfterWriting(FaultPlan):
    def fault_for(self, method: str, path: str) -> Fault | None:
        if method == "POST" and path == CONTACTS:
            return Fault(status_after_write=502)
        return None


class Outage(FaultPlan):
    def fault_for(self, method: str, path: str) -> Fault | None:
        return Fault(status=503)


def test_a_plan_can_lose_the_answer_after_the_write(server, sdk, sandbox, faults):
    server.app.state.faults = FailCreatesAfterWriting()
    with pytest.raises(ServiceException) as caught:
        create(sdk, "ghost@example.com")
    assert caught.value.status == 502
    assert emails(sandbox) == ["ghost@example.com"]


def test_a_plan_can_refuse_before_anything_happens(server, sdk, sandbox, faults):
    server.app.state.faults = Outage()
    with pytest.raises(ServiceException) as caught:
        create(sdk, "none@example.com")
    assert caught.value.status == 503
    assert sandbox.contacts() == []


def test_the_cli_takes_burst_flags_and_drops_lost_answers():
    """``python -m crm.sandbox`` (what a chaos run starts) honours its limits and closes
    the connection of a lost answer, driven over HTTP only."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "HUBSPOT_ACCESS_TOKEN": TOKEN}
    env.pop("HUBSPOT_API_KEY", None)
    command = [sys.executable, "-m", "crm.sandbox", "--port", "0"]
    command += ["--burst-limit", "7", "--burst-window", "2"]
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
    try:
        url = process.stdout.readline().strip().rsplit(" ", 1)[-1]
        for _ in range(200):
            try:
                httpx2.post(f"{url}/_sandbox/faults", json={"lost_answer_rate": 1})
                break
            except httpx2.TransportError:
                time.sleep(0.02)
        with pytest.raises(httpx2.RemoteProtocolError):
            httpx2.post(
                url + CONTACTS,
                json={"properties": {"email": "cli@example.com"}},
                headers={"Authorization": f"Bearer {TOKEN}"},
            )
        state = httpx2.get(f"{url}/_sandbox/state").json()
        assert [c["properties"]["email"] for c in state["contacts"]] == ["cli@example.com"]
        assert state["stats"]["burst_limit"] == 7 and state["stats"]["window_s"] == 2.0
        assert httpx2.get(f"{url}/_sandbox/faults").json()["counters"]["lost_answers"] == 1
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()
