"""Fixtures for the HubSpot sandbox tests: one real server driven by the official SDK,
a controllable clock, raw HTTP for what the SDK hides, and an OpenAPI shape checker."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
if str(REPO) not in sys.path:  # the package is not installed; import it from the checkout
    sys.path.insert(0, str(REPO))

import httpx2  # noqa: E402
import hubspot  # noqa: E402
from hubspot.discovery.discovery_base import DiscoveryBase  # noqa: E402

from crm.sandbox import SandboxServer, SandboxState  # noqa: E402

TOKEN = "sandbox-token"
SPECS = REPO / ".." / "shared" / "hubspot-openapi"
#: Fields HubSpot sends as JSON numbers although the specs (and SDK models) say string.
WIRE_NUMBER_IDS = frozenset({"toObjectId", "fromObjectId"})
#: Fields HubSpot sends as strings although the specs say object (``StandardError.
#: subCategory``, e.g. ``crm.associations.NO_ASSOCIATIONS_FOUND``); the SDK keeps them as is.
WIRE_STRING_OBJECTS = frozenset({"subCategory"})


class FakeClock:
    """A clock tests move by hand, so lag and rate windows need no sleeping."""

    def __init__(self, start: float = 1_767_225_600.0) -> None:  # 2026-01-01T00:00:00Z
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class SdkClients:
    """A ``hubspot.Client`` whose per-call API objects are remembered and closed at the end
    (each discovery access opens its own urllib3 pool)."""

    def __init__(self, url: str, **kwargs: Any) -> None:
        self.apis: list[Any] = []

        def factory(package: Any, api_name: str, config: dict[str, Any]) -> Any:
            api = DiscoveryBase._default_api_factory(package, api_name, config)
            self.apis.append(api)
            return api

        self.client = hubspot.Client.create(host=url, api_factory=factory, **kwargs)

    def close(self) -> None:
        for api in self.apis:
            api.api_client.rest_client.pool_manager.clear()


@pytest.fixture(scope="session")
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def server(clock: FakeClock) -> Iterator[SandboxServer]:
    with SandboxServer(clock=clock) as running:
        yield running


@pytest.fixture(scope="session")
def sdk(server: SandboxServer) -> Iterator[hubspot.Client]:
    clients = SdkClients(server.url, access_token=TOKEN, api_key="dev-key")
    yield clients.client
    clients.close()


@pytest.fixture(scope="session")
def http(server: SandboxServer) -> Iterator[httpx2.Client]:
    """Raw HTTP with the sandbox token, for status lines and bodies the SDK hides."""
    with httpx2.Client(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        yield c


@pytest.fixture(autouse=True)
def sandbox(server: SandboxServer, clock: FakeClock) -> SandboxState:
    """A fresh portal for every test, a minute after the previous test's requests."""
    clock.advance(60)
    server.state.reset()
    return server.state


@pytest.fixture
def contact_id(sdk: hubspot.Client) -> str:
    """A contact the test's deals and notes can be associated with."""
    return sdk.crm.contacts.basic_api.create({"properties": {"email": "a@example.com"}}).id


# --- OpenAPI shape checks --------------------------------------------------------------------


@cache
def _spec(name: str) -> dict[str, Any]:
    return json.loads((SPECS / name).read_text(encoding="utf-8"))


class OpenApi:
    """Checks answers against HubSpot's published response schemas: every required field
    present, every present field of the declared JSON type (recursively)."""

    def response_schema(self, spec: str, method: str, path: str, status: int) -> dict[str, Any]:
        operation = _spec(spec)["paths"][path][method.lower()]
        content = operation["responses"][str(status)]["content"]
        return next(iter(content.values()))["schema"]

    def schema(self, spec: str, name: str) -> dict[str, Any]:
        return _spec(spec)["components"]["schemas"][name]

    def problems(self, spec: str, schema: dict[str, Any], value: Any, at: str = "$") -> list[str]:
        if "$ref" in schema:
            return self.problems(
                spec, self.schema(spec, schema["$ref"].rsplit("/", 1)[1]), value, at
            )
        kind = schema.get("type", "object" if "properties" in schema else None)
        if kind == "object":
            if not isinstance(value, dict):
                return [f"{at}: expected object, got {type(value).__name__}"]
            found = [
                f"{at}.{name}: required but missing"
                for name in schema.get("required", [])
                if value.get(name) is None
            ]
            declared = schema.get("properties", {})
            for name, item in value.items():
                if name in declared and item is not None:
                    found += self._field(spec, declared[name], item, f"{at}.{name}", name)
                elif (
                    name not in declared
                    and isinstance(schema.get("additionalProperties"), dict)
                    and item is not None  # HubSpot sends null for requested-but-unset values
                ):
                    found += self.problems(
                        spec, schema["additionalProperties"], item, f"{at}.{name}"
                    )
            return found
        if kind == "array":
            if not isinstance(value, list):
                return [f"{at}: expected array, got {type(value).__name__}"]
            return [
                p
                for i, v in enumerate(value)
                for p in self.problems(spec, schema.get("items", {}), v, f"{at}[{i}]")
            ]
        return self._scalar(schema, kind, value, at)

    def _field(
        self, spec: str, schema: dict[str, Any], value: Any, at: str, name: str
    ) -> list[str]:
        if name in WIRE_NUMBER_IDS and isinstance(value, int):
            return []
        if name in WIRE_STRING_OBJECTS and isinstance(value, str):
            return []
        return self.problems(spec, schema, value, at)

    @staticmethod
    def _scalar(schema: dict[str, Any], kind: str | None, value: Any, at: str) -> list[str]:
        expected = {
            "string": str,
            "integer": int,
            "number": (int, float),
            "boolean": bool,
        }.get(kind or "")
        if expected is None:
            return []
        if not isinstance(value, expected) or (kind != "boolean" and isinstance(value, bool)):
            return [f"{at}: expected {kind}, got {type(value).__name__} {value!r}"]
        if "enum" in schema and value not in schema["enum"]:
            return [f"{at}: {value!r} not in {schema['enum']}"]
        if schema.get("format") == "date-time":
            try:
                datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                return [f"{at}: {value!r} is not an ISO 8601 date-time"]
        return []

    def check_response(self, spec: str, method: str, path: str, status: int, body: Any) -> None:
        found = self.problems(spec, self.response_schema(spec, method, path, status), body)
        assert not found, "\n".join(found)

    def check_schema(self, spec: str, name: str, body: Any) -> None:
        found = self.problems(spec, self.schema(spec, name), body)
        assert not found, "\n".join(found)


@pytest.fixture(scope="session")
def openapi() -> OpenApi:
    if not SPECS.is_dir():
        pytest.skip("HubSpot OpenAPI specs (shared/hubspot-openapi beside the repo) not present")
    return OpenApi()


@pytest.fixture(scope="session")
def wire() -> Any:
    """Call an SDK method and get the raw answer: (status, parsed JSON body, headers)."""

    def call(method: Any, *args: Any, **kwargs: Any) -> tuple[int, Any, Any]:
        response = method(*args, _preload_content=False, **kwargs)
        data = response.data
        return response.status, json.loads(data) if data else None, response.headers

    return call


@pytest.fixture
def sdk_for() -> Iterator[Any]:
    """Make SDK clients for extra servers a test starts; closed after the test."""
    made: list[SdkClients] = []

    def make(url: str, **kwargs: Any) -> hubspot.Client:
        made.append(SdkClients(url, **{"access_token": TOKEN, **kwargs}))
        return made[-1].client

    yield make
    for clients in made:
        clients.close()
