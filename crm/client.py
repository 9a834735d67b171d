"""`HubSpotClient`: the one place that knows HubSpot's endpoints, on the official SDK.

Every call goes through `_call`, which times it, turns SDK and transport exceptions into
`HubSpotError`, and tells the registered hooks (rate limiter, breaker, audit log) about it.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import hubspot
import urllib3

from crm.errors import ErrorKind, HubSpotError

#: HubSpot-defined association type ids, from the SDK's `association_type` table.
DEAL_TO_CONTACT = 3
NOTE_TO_CONTACT = 202
NOTE_TO_DEAL = 214


@dataclass(frozen=True)
class HubSpotObject:
    id: str
    properties: dict[str, str | None]
    created: bool = False


@dataclass(frozen=True)
class CallRecord:
    """What one HubSpot call did; hooks use it for limits, the breaker and the audit log."""

    operation: str
    status: int
    duration_ms: float
    headers: Mapping[str, str] = field(default_factory=dict)
    error: HubSpotError | None = None
    object_id: str | None = None


class CallHook(Protocol):
    def before_call(self, operation: str) -> None: ...

    def after_call(self, record: CallRecord) -> None: ...


class HubSpotClient:
    """Low-level HubSpot calls; each returns plain data or raises `HubSpotError`."""

    def __init__(
        self,
        access_token: str,
        base_url: str = "https://api.hubapi.com",
        *,
        timeout_s: float = 10.0,
        hooks: Sequence[CallHook] = (),
    ) -> None:
        # urllib3 retries nothing: retries belong to the actor, which knows what is idempotent.
        sdk = hubspot.Client.create(
            access_token=access_token,
            host=base_url,
            retry=urllib3.util.Retry(total=0, raise_on_status=False),
        )
        self._timeout = (min(timeout_s, 5.0), timeout_s)
        self.hooks = list(hooks)
        # Each SDK accessor builds a new connection pool; keep the ones we use.
        self._contacts = sdk.crm.contacts.basic_api
        self._deals = sdk.crm.deals.basic_api
        self._deals_batch = sdk.crm.deals.batch_api
        self._notes = sdk.crm.objects.notes.basic_api
        self._notes_batch = sdk.crm.objects.notes.batch_api
        self._associations = sdk.crm.associations.v4.basic_api
        self._properties = sdk.crm.properties.core_api
        self._pipelines = sdk.crm.pipelines.pipelines_api
        self._timeline = sdk.crm.timeline.events_api

    # Contacts

    def create_contact(self, properties: Mapping[str, str]) -> HubSpotObject:
        data = self._call(
            "create_contact", self._contacts.create_with_http_info, {"properties": dict(properties)}
        )
        return _object(data, created=True)

    def update_contact(self, contact_id: str, properties: Mapping[str, str]) -> HubSpotObject:
        data = self._call(
            "update_contact",
            self._contacts.update_with_http_info,
            contact_id,
            {"properties": dict(properties)},
        )
        return _object(data)

    def get_contact(self, contact_id: str, properties: Iterable[str] = ()) -> HubSpotObject | None:
        return self._get(
            "get_contact", self._contacts.get_by_id_with_http_info, contact_id, properties
        )

    def find_contact(self, email: str, properties: Iterable[str] = ()) -> HubSpotObject | None:
        """Read by e-mail as a unique id: consistent at once, unlike the lagging search index."""
        return self._get(
            "find_contact",
            self._contacts.get_by_id_with_http_info,
            email.lower(),
            properties,
            id_property="email",
        )

    def gdpr_delete_contact(self, email: str) -> None:
        self._call(
            "gdpr_delete_contact",
            self._contacts.purge_with_http_info,
            {"objectId": email.lower(), "idProperty": "email"},
        )

    # Deals

    def create_deal(
        self, properties: Mapping[str, str], contact_id: str | None = None
    ) -> HubSpotObject:
        body: dict[str, Any] = {"properties": dict(properties)}
        if contact_id:
            body["associations"] = [_association(contact_id, DEAL_TO_CONTACT)]
        return _object(
            self._call("create_deal", self._deals.create_with_http_info, body), created=True
        )

    def update_deal(self, deal_id: str, properties: Mapping[str, str]) -> HubSpotObject:
        data = self._call(
            "update_deal",
            self._deals.update_with_http_info,
            deal_id,
            {"properties": dict(properties)},
        )
        return _object(data)

    def archive_deal(self, deal_id: str) -> None:
        """Move the deal to HubSpot's recycle bin (restorable there for 90 days, then gone).

        HubSpot answers 204 for a deal it no longer holds too, so a repeat is harmless.
        """
        self._call("archive_deal", self._deals.archive_with_http_info, str(deal_id))

    def upsert_deal(
        self, id_property: str, id_value: str, properties: Mapping[str, str]
    ) -> HubSpotObject:
        """Create or update the deal whose unique `id_property` is `id_value`.

        HubSpot enforces the uniqueness, so a retry after a lost answer finds the same deal.
        """
        body = {
            "inputs": [{"idProperty": id_property, "id": id_value, "properties": dict(properties)}]
        }
        data = self._call("upsert_deal", self._deals_batch.upsert_with_http_info, body)
        errors = data.get("errors") or []
        if errors or not data.get("results"):
            first = errors[0] if errors else {}
            raise HubSpotError(
                ErrorKind.PERMANENT,
                str(first.get("message", "deal upsert failed")),
                status=int(first.get("status") or 0) or 400,
                operation="upsert_deal",
                category=first.get("category"),
            )
        result = data["results"][0]
        return _object(result, created=bool(result.get("new")))

    # Associations

    def associate_deal_with_contact(self, deal_id: str, contact_id: str) -> list[int]:
        """Default-associate, returning the type ids HubSpot reports as now in place."""
        data = self._call(
            "associate_deal_contact",
            self._associations.create_default_with_http_info,
            "deal",
            deal_id,
            "contact",
            contact_id,
        )
        return [
            int(result["association_spec"]["association_type_id"])
            for result in data.get("results") or []
            if str(result.get("_from", {}).get("id")) == str(deal_id)
            and str(result.get("to", {}).get("id")) == str(contact_id)
        ]

    def associated_ids(self, from_type: str, from_id: str, to_type: str) -> list[str]:
        ids: list[str] = []
        after: str | None = None
        while True:
            kwargs = {"limit": 500} | ({"after": after} if after else {})
            data = self._call(
                "list_associations",
                self._associations.get_page_with_http_info,
                from_type,
                from_id,
                to_type,
                **kwargs,
            )
            ids += [str(item["to_object_id"]) for item in data.get("results") or []]
            after = ((data.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return ids

    # Activities

    def log_activity(
        self,
        contact_id: str,
        activity_type: str,
        data: Mapping[str, Any],
    ) -> HubSpotObject:
        """Log an activity as a Note on the contact (and deal, when `data` names one).

        `data` carries `body` (HTML allowed by HubSpot), `timestamp_ms` and optional `deal_id`.
        """
        associations = [_association(contact_id, NOTE_TO_CONTACT)]
        if data.get("deal_id"):
            associations.append(_association(str(data["deal_id"]), NOTE_TO_DEAL))
        properties = {
            "hs_timestamp": str(int(data.get("timestamp_ms") or time.time() * 1000)),
            "hs_note_body": f"<p><strong>{activity_type}</strong></p>{data.get('body', '')}",
        }
        if data.get("owner_id"):
            properties["hubspot_owner_id"] = str(data["owner_id"])
        body = {"properties": properties, "associations": associations}
        return _object(
            self._call("log_activity", self._notes.create_with_http_info, body), created=True
        )

    def create_timeline_event(
        self,
        template_id: str,
        event_id: str,
        contact_id: str,
        tokens: Mapping[str, str],
        timestamp_ms: int,
    ) -> HubSpotObject:
        """A custom timeline event; our own `event_id` makes a resend replace, not duplicate."""
        body = {
            "eventTemplateId": template_id,
            "id": event_id,
            "objectId": contact_id,
            "tokens": dict(tokens),
            "timestamp": _iso(timestamp_ms),
        }
        data = self._call("create_timeline_event", self._timeline.create_with_http_info, body)
        return HubSpotObject(id=str(data["id"]), properties=dict(data.get("tokens") or {}))

    def archive_note(self, note_id: str) -> None:
        """Move the note to HubSpot's recycle bin, like `archive_deal` (204 if already gone).

        Custom timeline events (`create_timeline_event`) have no such endpoint: the API
        cannot delete them.
        """
        self._call("archive_note", self._notes.archive_with_http_info, str(note_id))

    def read_notes(self, note_ids: Sequence[str]) -> list[HubSpotObject]:
        notes: list[HubSpotObject] = []
        for start in range(0, len(note_ids), 100):
            body = {
                "inputs": [{"id": note_id} for note_id in note_ids[start : start + 100]],
                "properties": ["hs_note_body", "hs_timestamp"],
                "propertiesWithHistory": [],
            }
            data = self._call("read_notes", self._notes_batch.read_with_http_info, body)
            notes += [_object(item) for item in data.get("results") or []]
        return notes

    # Portal set-up

    def list_properties(self, object_type: str) -> dict[str, dict[str, Any]]:
        data = self._call("list_properties", self._properties.get_all_with_http_info, object_type)
        return {prop["name"]: prop for prop in data.get("results") or []}

    def create_property(self, object_type: str, definition: Mapping[str, Any]) -> None:
        self._call(
            "create_property", self._properties.create_with_http_info, object_type, dict(definition)
        )

    def update_property(self, object_type: str, name: str, changes: Mapping[str, Any]) -> None:
        self._call(
            "update_property",
            self._properties.update_with_http_info,
            object_type,
            name,
            dict(changes),
        )

    def list_pipelines(self, object_type: str) -> list[dict[str, Any]]:
        data = self._call("list_pipelines", self._pipelines.get_all_with_http_info, object_type)
        return list(data.get("results") or [])

    # Plumbing

    def _get(
        self,
        operation: str,
        method: Callable[..., Any],
        object_id: str,
        properties: Iterable[str],
        **kwargs: Any,
    ) -> HubSpotObject | None:
        if props := list(properties):
            kwargs["properties"] = props
        try:
            return _object(self._call(operation, method, object_id, **kwargs))
        except HubSpotError as exc:
            if exc.status == 404:
                return None
            raise

    def _call(self, operation: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        for hook in self.hooks:
            hook.before_call(operation)
        started = time.perf_counter()
        status, headers, error, data = 0, {}, None, None
        try:
            data, status, raw_headers = method(*args, _request_timeout=self._timeout, **kwargs)
            headers = dict(raw_headers or {})
        except urllib3.exceptions.HTTPError as exc:
            error = HubSpotError(
                ErrorKind.TRANSIENT,
                f"no answer from HubSpot ({type(exc).__name__})",
                operation=operation,
            )
        except Exception as exc:
            if not hasattr(exc, "status") or not hasattr(exc, "body"):
                raise
            status = int(exc.status or 0)
            headers = dict(exc.headers or {})
            error = HubSpotError.from_response(operation, status, exc.body, _Caseless(headers))
        record = CallRecord(
            operation=operation,
            status=status,
            duration_ms=(time.perf_counter() - started) * 1000,
            headers=_Caseless(headers),
            error=error,
            object_id=getattr(data, "id", None),
        )
        for hook in self.hooks:
            hook.after_call(record)
        if error:
            raise error
        return data.to_dict() if hasattr(data, "to_dict") else (data or {})


class _Caseless(dict[str, str]):
    """HTTP headers looked up without regard to case."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        super().__init__({key.lower(): value for key, value in headers.items()})

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(key.lower(), default)


def _association(to_id: str, type_id: int) -> dict[str, Any]:
    return {
        "to": {"id": str(to_id)},
        "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}],
    }


def _iso(timestamp_ms: int) -> str:
    moment = dt.datetime.fromtimestamp(timestamp_ms / 1000, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _object(data: Mapping[str, Any], created: bool = False) -> HubSpotObject:
    return HubSpotObject(
        id=str(data["id"]), properties=dict(data.get("properties") or {}), created=created
    )
