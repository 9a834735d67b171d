"""Rate limits: the rolling burst window, the daily quota and the search limit."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from hubspot.crm.contacts import ApiException

from crm.sandbox import SandboxServer

BURST, WINDOW = 5, 10.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_767_225_600.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def limited(request) -> Iterator[tuple[SandboxServer, Clock]]:
    clock = Clock()
    options = getattr(request, "param", {})
    kwargs = {"burst_limit": BURST, "burst_window_s": WINDOW, "clock": clock, **options}
    with SandboxServer(**kwargs) as server:
        yield server, clock


@pytest.fixture
def limited_sdk(limited, sdk_for):
    return sdk_for(limited[0].url)


def test_sixth_call_in_the_window_is_429_and_recovers_after_it(limited, limited_sdk, wire):
    server, clock = limited
    create = limited_sdk.crm.contacts.basic_api.create
    start = clock.now
    for n in range(BURST):
        status, _, headers = wire(create, {"properties": {"email": f"r{n}@example.com"}})
        assert status == 201
        assert headers["X-HubSpot-RateLimit-Max"] == str(BURST)
        assert headers["X-HubSpot-RateLimit-Remaining"] == str(BURST - n - 1)
        assert headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
        assert headers["X-HubSpot-RateLimit-Daily"] == "250000"
        assert headers["X-HubSpot-RateLimit-Daily-Remaining"] == str(250_000 - n - 1)
        clock.now += 1

    with pytest.raises(ApiException) as caught:
        create({"properties": {"email": "r5@example.com"}})
    assert caught.value.status == 429
    body = json.loads(caught.value.body)
    assert {k: v for k, v in body.items() if k != "correlationId"} == {
        "status": "error",
        "message": "You have reached your ten_secondly_rolling limit.",
        "errorType": "RATE_LIMIT",
        "policyName": "TEN_SECONDLY_ROLLING",
        "groupName": f"publicapi:private-app-ten-secondly:{server.state.portal_id}",
    }
    assert caught.value.headers["X-HubSpot-Correlation-Id"] == body["correlationId"]
    assert caught.value.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    assert len(server.state.contacts()) == BURST  # the rejected create wrote nothing

    clock.now = start + WINDOW  # the first call (at start) has now left the 10 s window
    assert create({"properties": {"email": "r5@example.com"}}).id
    assert len(server.state.contacts()) == BURST + 1


@pytest.mark.parametrize("limited", [{"daily_limit": 2}], indirect=True)
def test_daily_quota_gives_the_daily_429(limited, limited_sdk):
    _, clock = limited
    api = limited_sdk.crm.contacts.basic_api
    for n in range(2):
        api.create({"properties": {"email": f"d{n}@example.com"}})
        clock.now += WINDOW
    with pytest.raises(ApiException) as caught:
        api.create({"properties": {"email": "d2@example.com"}})
    body = json.loads(caught.value.body)
    assert (caught.value.status, body["policyName"]) == (429, "DAILY")
    assert body["message"] == "You have reached your daily limit."
    clock.now += 86_400  # a new day
    assert api.create({"properties": {"email": "d2@example.com"}}).id


def test_search_has_its_own_secondly_limit(limited, limited_sdk):
    server, clock = limited
    search = limited_sdk.crm.contacts.search_api.do_search
    for _ in range(5):
        search({})
    with pytest.raises(ApiException) as caught:
        search({})
    body = json.loads(caught.value.body)
    assert (caught.value.status, body["policyName"]) == (429, "SECONDLY")
    assert body["message"] == "You have reached your secondly limit."
    assert "X-HubSpot-RateLimit-Remaining" not in caught.value.headers
    # Searches do not use up the burst window.
    assert limited_sdk.crm.contacts.basic_api.get_page().results == []
    clock.now += 1
    assert search({}).total == 0
