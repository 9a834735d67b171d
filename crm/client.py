"""`HubSpotClient`: the one place that knows HubSpot's endpoints, on the official SDK.

Every call goes through `_call`, which times it, turns SDK and transport exceptions into
`HubSpotError`, and tells the registered hooks (rate limiter, breaker, audit log) about it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import hubspot
import urllib3

from crm.errors import MULTI_STATUS, ErrorKind, HubSpotError

T = TypeVar("T")

#: HubSpot-defined association type ids, from the SDK's `association_type` table.
DEAL_TO_CONTACT = 3
NOTE_TO_CONTACT = 202
NOTE_TO_DEAL = 214


#: HubSpot's cap on the inputs of one batch call.
MAX_BATCH_INPUTS = 100


@dataclass(frozen=True)
class HubSpotObject:
    id: str
    properties: dict[str, str | None]
    created: bool = False
    #: The `objectWriteTraceId` the input carried, echoed in a batch answer.
    trace_id: str | None = None


@dataclass(frozen=True)
class InputError:
    """One input HubSpot refused inside a batch answer (207), named by its trace id."""

    trace_ids: tuple[str, ...]
    error: HubSpotError


@dataclass(frozen=True)
class BatchAnswer:
    """What HubSpot did with each input of a batch write: written, or refused and why.

    An input in neither list got no answer of its own: the caller cannot tell whether
    it was written.
    """

    results: list[HubSpotObject] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)

    def merged(self, other: BatchAnswer) -> BatchAnswer:
        return BatchAnswer(self.results + other.results, self.errors + other.errors)


@dataclass(frozen=True)
class WriteInput:
    """One input of a batch write; `trace_id` must be unique in its batch."""

    trace_id: str
    properties: Mapping[str, str]
    #: For upserts: the value of the unique `id_property` that finds the object.
    id_value: str | None = None
    #: For creates: (object id, association type id) pairs to associate at once.
    associations: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class CallRecord:
    """What one HubSpot call did; hooks use it for limits, the breaker and the audit log."""

    operation: str
    status: int
    duration_ms: float
    headers: Mapping[str, str] = field(default_factory=dict)
    error: HubSpotError | None = None
    object_id: str | None = None
    #: Inputs a batch write's 207 answer refused, each with HubSpot's reason.
    refused: tuple[HubSpotError, ...] = ()


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
        self._contacts_batch = sdk.crm.contacts.batch_api
        self._deals = sdk.crm.deals.basic_api
        self._deals_batch = sdk.crm.deals.batch_api
        self._notes = sdk.crm.objects.notes.basic_api
        self._notes_batch = sdk.crm.objects.notes.batch_api
        self._associations = sdk.crm.associations.v4.basic_api
        self._associations_batch = sdk.crm.associations.v4.batch_api
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

    def read_contacts_by_email(
        self, emails: Iterable[str], properties: Iterable[str] = ()
    ) -> dict[str, HubSpotObject]:
        """The contacts holding these e-mails, keyed by lower-cased e-mail; unknown ones are
        left out. A read by unique id is consistent at once, unlike the lagging search index."""
        wanted = ["email", *properties]
        found: dict[str, HubSpotObject] = {}
        for chunk in _chunks(sorted({email.lower() for email in emails})):
            body = {
                "idProperty": "email",
                "inputs": [{"id": email} for email in chunk],
                "properties": wanted,
                "propertiesWithHistory": [],
            }
            data = self._call("read_contacts", self._contacts_batch.read_with_http_info, body)
            for item in data.get("results") or []:
                contact = _object(item)
                found[str(contact.properties.get("email") or "").lower()] = contact
        return found

    def upsert_contacts(self, inputs: Sequence[WriteInput]) -> BatchAnswer:
        """Create or update contacts by e-mail (each input's `id_value`) in one call."""
        body = {"inputs": [_upsert_input("email", item) for item in inputs]}
        return self._batch_write(
            "upsert_contacts", self._contacts_batch.upsert_with_http_info, body, inputs, "email"
        )

    # Deals

    def create_deals(self, inputs: Sequence[WriteInput], key_property: str) -> BatchAnswer:
        """Create deals with their associations in one call. `key_property` is a unique
        property every input carries: it finds the input of an answer without a trace id."""
        body = {"inputs": [_create_input(item) for item in inputs]}
        return self._batch_write(
            "create_deals", self._deals_batch.create_with_http_info, body, inputs, key_property
        )

    def upsert_deals(self, id_property: str, inputs: Sequence[WriteInput]) -> BatchAnswer:
        """Create or update the deals whose unique `id_property` holds each input's
        `id_value`: HubSpot enforces the uniqueness, so a lost answer never duplicates one."""
        body = {"inputs": [_upsert_input(id_property, item) for item in inputs]}
        return self._batch_write(
            "upsert_deals", self._deals_batch.upsert_with_http_info, body, inputs, id_property
        )

    def archive_deal(self, deal_id: str) -> None:
        """Move the deal to HubSpot's recycle bin (restorable there for 90 days, then gone).

        HubSpot answers 204 for a deal it no longer holds too, so a repeat is harmless.
        """
        self._call("archive_deal", self._deals.archive_with_http_info, str(deal_id))

    # Associations

    def associate_deals_with_contacts(
        self, pairs: Sequence[tuple[str, str]]
    ) -> set[tuple[str, str]]:
        """Default-associate each (deal, contact); returns the pairs HubSpot reports as now
        associated deal -> contact, so a 2xx without them is not taken for success."""
        body = {
            "inputs": [{"from": {"id": deal}, "to": {"id": contact}} for deal, contact in pairs]
        }
        data = self._call(
            "associate_deals_contacts",
            self._associations_batch.create_default_with_http_info,
            "deal",
            "contact",
            body,
        )
        return {
            (str(result["_from"]["id"]), str(result["to"]["id"]))
            for result in data.get("results") or []
            if int(result["association_spec"]["association_type_id"]) == DEAL_TO_CONTACT
        }

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
            after = _next_page(data)
            if not after:
                return ids

    def associated_ids_of(
        self, from_type: str, from_ids: Iterable[str], to_type: str
    ) -> dict[str, list[str]]:
        """The `to_type` objects associated to each of `from_ids`, a hundred per call;
        ids with none are left out."""
        found: dict[str, list[str]] = {}
        for chunk in _chunks(list(dict.fromkeys(from_ids))):
            body = {"inputs": [{"id": from_id} for from_id in chunk]}
            data = self._call(
                "read_associations",
                self._associations_batch.get_page_with_http_info,
                from_type,
                to_type,
                body,
            )
            for item in data.get("results") or []:
                from_id = str(item["_from"]["id"])
                found[from_id] = [str(to["to_object_id"]) for to in item.get("to") or []]
                if _next_page(item):  # hundreds of them: page through this one alone
                    found[from_id] = self.associated_ids(from_type, from_id, to_type)
        return found

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
        associations = [(contact_id, NOTE_TO_CONTACT)]
        if data.get("deal_id"):
            associations.append((str(data["deal_id"]), NOTE_TO_DEAL))
        note = WriteInput(
            trace_id="",  # a single create: no trace id
            properties=note_properties(
                activity_type,
                str(data.get("body", "")),
                int(data.get("timestamp_ms") or time.time() * 1000),
                data.get("owner_id"),
            ),
            associations=tuple(associations),
        )
        data = self._call("log_activity", self._notes.create_with_http_info, _create_input(note))
        return _object(data, created=True)

    def create_notes(self, notes: Sequence[WriteInput]) -> BatchAnswer:
        """Create notes with their associations in one call (inputs from `note_properties`)."""
        body = {"inputs": [_create_input(note) for note in notes]}
        return self._batch_write(
            "create_notes", self._notes_batch.create_with_http_info, body, notes, None
        )

    def create_timeline_events(
        self, template_id: str, events: Sequence[TimelineEvent]
    ) -> dict[str, HubSpotError]:
        """Custom timeline events; our own event ids make a resend replace, not duplicate.

        Returns the events HubSpot refused, by event id. Its 207 answer to a batch names no
        event (the SDK has no model for it), so each event of such a batch is sent again
        alone, which names the refused ones.
        """
        refused: dict[str, HubSpotError] = {}
        for chunk in _chunks(events):
            body = {"inputs": [_timeline_input(template_id, event) for event in chunk]}
            _, record = self._exchange(
                "create_timeline_events", self._timeline.create_batch_with_http_info, body
            )
            if record.status == MULTI_STATUS:
                refused |= self._timeline_one_by_one(template_id, chunk)
        return refused

    def _timeline_one_by_one(
        self, template_id: str, events: Sequence[TimelineEvent]
    ) -> dict[str, HubSpotError]:
        refused = {}
        for event in events:
            body = _timeline_input(template_id, event)
            try:
                self._call("create_timeline_event", self._timeline.create_with_http_info, body)
            except HubSpotError as exc:
                if exc.kind is not ErrorKind.PERMANENT:
                    raise
                refused[event.event_id] = exc
        return refused

    def archive_note(self, note_id: str) -> None:
        """Move the note to HubSpot's recycle bin, like `archive_deal` (204 if already gone).

        Custom timeline events (`create_timeline_events`) have no such endpoint: the API
        cannot delete them.
        """
        self._call("archive_note", self._notes.archive_with_http_info, str(note_id))

    def read_notes(self, note_ids: Sequence[str]) -> list[HubSpotObject]:
        notes: list[HubSpotObject] = []
        for chunk in _chunks(note_ids):
            body = {
                "inputs": [{"id": note_id} for note_id in chunk],
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
        return self._exchange(operation, method, *args, **kwargs)[0]

    def _batch_write(
        self,
        operation: str,
        method: Callable[..., Any],
        body: Mapping[str, Any],
        inputs: Sequence[WriteInput],
        key_property: str | None,
    ) -> BatchAnswer:
        """One batch write, each input's outcome told apart by its trace id (HubSpot echoes
        it in results and names it in a 207's `errors[].context`); an answer without one is
        matched to its input by the unique `key_property` instead."""
        if len(inputs) > MAX_BATCH_INPUTS:
            raise ValueError(f"{len(inputs)} inputs: HubSpot takes {MAX_BATCH_INPUTS} per call")
        data, record = self._exchange(operation, method, body, refusals=True)
        traces = _traces_by_key(inputs, key_property)
        results = []
        for item in data.get("results") or []:
            found = _object(item, created=bool(item.get("new", True)))
            trace = item.get("object_write_trace_id") or traces.get(
                str(found.properties.get(key_property or "") or "").lower()
            )
            results.append(dataclasses.replace(found, trace_id=trace))
        errors = [
            InputError(_error_traces(error, traces), refused)
            for error, refused in zip(data.get("errors") or [], record.refused, strict=True)
        ]
        return BatchAnswer(results, errors)

    def _exchange(
        self,
        operation: str,
        method: Callable[..., Any],
        *args: Any,
        refusals: bool = False,
        **kwargs: Any,
    ) -> tuple[Any, CallRecord]:
        """Make one call through the hooks: its answer as plain data, and its record.

        With `refusals` (a batch write), the `errors[]` of a 2xx answer are inputs HubSpot
        refused: the record carries them, so the log counts the call as not all right.
        """
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
        answer = data.to_dict() if hasattr(data, "to_dict") else (data or {})
        caseless = _Caseless(headers)
        correlation_id = caseless.get("x-hubspot-correlation-id")
        record = CallRecord(
            operation=operation,
            status=status,
            duration_ms=(time.perf_counter() - started) * 1000,
            headers=caseless,
            error=error,
            object_id=getattr(data, "id", None),
            refused=tuple(
                HubSpotError.from_input_error(operation, item, correlation_id)
                for item in (answer.get("errors") or [] if refusals else [])
            ),
        )
        for hook in self.hooks:
            hook.after_call(record)
        if error:
            raise error
        return answer, record


class _Caseless(dict[str, str]):
    """HTTP headers looked up without regard to case."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        super().__init__({key.lower(): value for key, value in headers.items()})

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(key.lower(), default)


@dataclass(frozen=True)
class TimelineEvent:
    """One custom timeline event on a contact; `event_id` is ours and unique."""

    event_id: str
    contact_id: str
    tokens: Mapping[str, str]
    timestamp_ms: int


def _timeline_input(template_id: str, event: TimelineEvent) -> dict[str, Any]:
    return {
        "eventTemplateId": template_id,
        "id": event.event_id,
        "objectId": event.contact_id,
        "tokens": dict(event.tokens),
        "timestamp": _iso(event.timestamp_ms),
    }


def note_properties(
    activity_type: str, body: str, timestamp_ms: int, owner_id: str | None = None
) -> dict[str, str]:
    """A note's properties: the activity's name as its heading, then `body` (HTML)."""
    properties = {
        "hs_timestamp": str(timestamp_ms),
        "hs_note_body": f"<p><strong>{activity_type}</strong></p>{body}",
    }
    if owner_id:
        properties["hubspot_owner_id"] = str(owner_id)
    return properties


def labelled_list(details: Mapping[str, str]) -> str:
    """The `<ul>` of labelled values a note body shows, escaped."""
    rows = "".join(
        f"<li><strong>{html.escape(label)}:</strong> {html.escape(value)}</li>"
        for label, value in details.items()
    )
    return f"<ul>{rows}</ul>"


def _create_input(item: WriteInput) -> dict[str, Any]:
    body: dict[str, Any] = {
        "properties": dict(item.properties),
        "associations": [_association(to_id, type_id) for to_id, type_id in item.associations],
    }
    if item.trace_id:
        body["objectWriteTraceId"] = item.trace_id
    return body


def _upsert_input(id_property: str, item: WriteInput) -> dict[str, Any]:
    return {
        "idProperty": id_property,
        "id": item.id_value,
        "objectWriteTraceId": item.trace_id,
        "properties": dict(item.properties),
    }


def _association(to_id: str, type_id: int) -> dict[str, Any]:
    return {
        "to": {"id": str(to_id)},
        "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}],
    }


def _traces_by_key(inputs: Sequence[WriteInput], key_property: str | None) -> dict[str, str]:
    """Each input's trace id under the lower-cased value that finds it in an answer."""
    if key_property is None:
        return {}
    return {
        str(item.properties.get(key_property) or item.id_value or "").lower(): item.trace_id
        for item in inputs
    }


def _error_traces(error: Mapping[str, Any], traces: Mapping[str, str]) -> tuple[str, ...]:
    """The inputs a 207 error is about: its trace ids, else the ids it names."""
    context = error.get("context") or {}
    named = context.get("objectWriteTraceId")
    if named:
        return tuple(str(trace) for trace in named)
    ids = [str(value).lower() for value in context.get("ids") or []]
    return tuple(traces[value] for value in ids if value in traces)


def _chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), MAX_BATCH_INPUTS):
        yield items[start : start + MAX_BATCH_INPUTS]


def _next_page(data: Mapping[str, Any]) -> str | None:
    return ((data.get("paging") or {}).get("next") or {}).get("after")


def _iso(timestamp_ms: int) -> str:
    moment = dt.datetime.fromtimestamp(timestamp_ms / 1000, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _object(data: Mapping[str, Any], created: bool = False) -> HubSpotObject:
    return HubSpotObject(
        id=str(data["id"]), properties=dict(data.get("properties") or {}), created=created
    )
