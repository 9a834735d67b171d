"""The fault-injection hook: a plan swapped into ``app.state.faults`` steers requests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hubspot.crm.contacts.exceptions import ServiceException

from crm.sandbox import Fault, FaultPlan, SandboxServer


class FailCreatesAfterWriting(FaultPlan):
    def fault_for(self, method: str, path: str) -> Fault | None:
        if method == "POST" and path == "/crm/v3/objects/contacts":
            return Fault(status_after_write=502)
        return None


class Outage(FaultPlan):
    def fault_for(self, method: str, path: str) -> Fault | None:
        return Fault(status=503)


@pytest.fixture
def plan(server: SandboxServer) -> Iterator[None]:
    yield
    server.app.state.faults = FaultPlan()


def test_a_plan_can_lose_the_answer_after_the_write(server, sdk, sandbox, plan):
    server.app.state.faults = FailCreatesAfterWriting()
    with pytest.raises(ServiceException) as caught:
        sdk.crm.contacts.basic_api.create({"properties": {"email": "ghost@example.com"}})
    assert caught.value.status == 502
    assert [c["properties"]["email"] for c in sandbox.contacts()] == ["ghost@example.com"]


def test_a_plan_can_refuse_before_anything_happens(server, sdk, sandbox, plan):
    server.app.state.faults = Outage()
    with pytest.raises(ServiceException) as caught:
        sdk.crm.contacts.basic_api.create({"properties": {"email": "none@example.com"}})
    assert caught.value.status == 503
    assert sandbox.contacts() == []
