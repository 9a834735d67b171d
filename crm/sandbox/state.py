"""Everything a sandbox portal holds, behind one lock.

uvicorn serves requests on its own thread while tests inspect the same state from
theirs, so every read and write goes through ``lock`` (re-entrant, so helpers may
nest). Route modules change the state through ``objects.py``/``batch.py``; this class
keeps storage, lookups and the plain-Python inspection helpers tests use.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from .associations import AssociationDef
from .objecttypes import CONTACTS, DEALS, NOTES, OBJECT_TYPES, ObjectType, resolve_any
from .owners import seed_owners
from .paths import is_public
from .pipelines import Pipeline, default_deal_pipeline
from .properties import GROUP_LABELS, PropertyDef, standard_groups, standard_properties
from .ratelimit import RateLimiter, Verdict, busiest_window
from .records import ObjectRecord
from .timeutil import iso
from .values import ValueContext

PORTAL_ID = 20_250_801
FIRST_ID = 1001

#: (type, id) -> (to type, to id) -> {(category, type id)}
Links = dict[tuple[str, str], dict[tuple[str, str], set[tuple[str, int]]]]


class SandboxState:
    """One in-memory HubSpot portal."""

    def __init__(
        self,
        *,
        access_token: str = "sandbox-token",
        search_lag_s: float = 2.0,
        burst_limit: int = 100,
        burst_window_s: float = 10.0,
        daily_limit: int = 250_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.lock = threading.RLock()
        self.access_token = access_token
        self.search_lag_s = search_lag_s
        self.clock = clock
        self.portal_id = PORTAL_ID
        self.limiter = RateLimiter(burst_limit, burst_window_s, daily_limit)
        #: (method, path, status, arrival time) for every request, in the order answered.
        self.request_log: list[tuple[str, str, int, float]] = []
        #: Positions in ``request_log`` of the 429s the rate limiter itself served.
        self._limited: set[int] = set()
        # Ids keep increasing across reset() so a stale id never names a new object.
        self._next_id = FIRST_ID
        self.reset()

    def reset(self) -> None:
        """Back to a fresh portal: no objects, standard properties, default pipeline."""
        with self.lock:
            now = self.clock()
            self.objects: dict[str, dict[str, ObjectRecord]] = {t: {} for t in OBJECT_TYPES}
            self.property_defs: dict[str, dict[str, PropertyDef]] = {
                t: standard_properties(t, now) for t in OBJECT_TYPES
            }
            self.groups: dict[str, dict[str, dict[str, Any]]] = {
                t: {
                    g: {"name": g, "label": GROUP_LABELS[g], "displayOrder": 0, "archived": False}
                    for g in standard_groups(t)
                }
                for t in OBJECT_TYPES
            }
            self.links: Links = {}
            self.labels: list[AssociationDef] = []
            self.pipelines: dict[str, dict[str, Pipeline]] = {
                DEALS.name: {"default": default_deal_pipeline(now)}
            }
            self.owners: list[dict[str, Any]] = seed_owners(now)
            self.templates: dict[str, dict[str, Any]] = {}
            self.events: dict[tuple[str, str], dict[str, Any]] = {}
            self.request_log.clear()
            self._limited.clear()
            self.limiter.reset()

    # --- plumbing ----------------------------------------------------------------------

    def now(self) -> float:
        return self.clock()

    def new_id(self) -> str:
        with self.lock:
            self._next_id += 1
            return str(self._next_id - 1)

    def admit(self, *, search: bool) -> Verdict:
        with self.lock:
            return self.limiter.admit(self.clock(), search=search)

    def log(
        self, method: str, path: str, status: int, *, at: float | None = None, limited: bool = False
    ) -> None:
        """Record a request; ``at`` is when it arrived (default now), ``limited`` marks a
        429 from the sandbox's own rate limiter (as opposed to an injected one)."""
        with self.lock:
            if limited:
                self._limited.add(len(self.request_log))
            self.request_log.append((method, path, status, self.clock() if at is None else at))

    def rate_limit_headers(self, *, remaining: int | None = None) -> dict[str, str]:
        with self.lock:
            return self.limiter.headers(remaining=remaining)

    # --- lookups -----------------------------------------------------------------------

    def record(
        self, object_type: str, object_id: str, *, archived: bool = False
    ) -> ObjectRecord | None:
        """The object with this id; archived ones only when ``archived`` is asked for."""
        found = self.objects[object_type].get(object_id)
        if found is None or found.archived != archived:
            return None
        return found

    def find_unique(self, object_type: str, prop: str, value: str) -> ObjectRecord | None:
        """The live object whose ``prop`` equals ``value`` (e-mails case-insensitively)."""
        fold = object_type == CONTACTS.name and prop == "email"
        wanted = value.strip().lower() if fold else value
        for record in self.objects[object_type].values():
            have = record.properties.get(prop)
            if (
                not record.archived
                and have is not None
                and (have.lower() if fold else have) == wanted
            ):
                return record
        return None

    def value_context(self, object_type: str) -> ValueContext:
        pipelines = {
            p.id: tuple(s.id for s in p.live_stages())
            for p in self.pipelines.get(DEALS.name, {}).values()
            if not p.archived
        }
        return ValueContext(
            defs=self.property_defs[object_type],
            owner_ids=frozenset(o["id"] for o in self.owners if not o["archived"]),
            pipelines=pipelines,
        )

    # --- associations ------------------------------------------------------------------

    def link(self, a: tuple[str, str], b: tuple[str, str], definition: AssociationDef) -> None:
        """Store an association and its inverse, as HubSpot does."""
        with self.lock:
            self.links.setdefault(a, {}).setdefault(b, set()).add(
                (definition.category, definition.type_id)
            )
            self.links.setdefault(b, {}).setdefault(a, set()).add(
                (definition.category, definition.inverse_id)
            )

    def unlink(self, a: tuple[str, str], b: tuple[str, str]) -> None:
        with self.lock:
            self.links.get(a, {}).pop(b, None)
            self.links.get(b, {}).pop(a, None)

    def linked(self, a: tuple[str, str], to_type: str) -> dict[str, set[tuple[str, int]]]:
        """Live objects of ``to_type`` associated with ``a``: id -> {(category, type id)}."""
        with self.lock:
            return {
                to_id: set(kinds)
                for (t, to_id), kinds in self.links.get(a, {}).items()
                if t == to_type and kinds and self.record(t, to_id) is not None
            }

    def purge(self, object_type: str, object_id: str) -> None:
        """Remove an object and every association to it, beyond recovery (GDPR delete)."""
        with self.lock:
            self.objects[object_type].pop(object_id, None)
            for other in self.links.pop((object_type, object_id), {}):
                self.links.get(other, {}).pop((object_type, object_id), None)

    # --- inspection helpers for tests and the HTML page --------------------------------

    @property
    def rate_limited(self) -> int:
        """429s the sandbox's own rate limiter served (injected storm 429s not included)."""
        with self.lock:
            return len(self._limited)

    def accepted_times(self) -> list[float]:
        """Arrival times of API requests not refused by the rate limiter: what counts
        against HubSpot's burst, whatever the answer (faults included)."""
        with self.lock:
            return [
                at
                for i, (_, path, _, at) in enumerate(self.request_log)
                if not is_public(path) and i not in self._limited
            ]

    def max_requests_in_window(self, window_s: float) -> int:
        """The most accepted API requests in any rolling window of ``window_s`` seconds."""
        return busiest_window(self.accepted_times(), window_s)

    def stats(self, window_s: float | None = None) -> dict[str, Any]:
        """Traffic figures (``/_sandbox/stats``; the window defaults to the burst window)."""
        window = self.limiter.burst_window_s if window_s is None else window_s
        with self.lock:
            accepted = self.accepted_times()
            return {
                "window_s": window,
                "burst_limit": self.limiter.burst_limit,
                "api_requests": sum(not is_public(entry[1]) for entry in self.request_log),
                "accepted_requests": len(accepted),
                "rate_limited": len(self._limited),
                "max_requests_in_window": busiest_window(accepted, window),
            }

    def _listing(self, object_type: ObjectType) -> list[dict[str, Any]]:
        with self.lock:
            return [
                {
                    "id": r.id,
                    "properties": dict(r.properties),
                    "createdAt": iso(r.created_at),
                    "updatedAt": iso(r.updated_at),
                    "archived": r.archived,
                }
                for r in sorted(self.objects[object_type.name].values(), key=lambda r: int(r.id))
            ]

    def contacts(self) -> list[dict[str, Any]]:
        return self._listing(CONTACTS)

    def deals(self) -> list[dict[str, Any]]:
        return self._listing(DEALS)

    def notes(self) -> list[dict[str, Any]]:
        return self._listing(NOTES)

    def associations(self, from_type: str, from_id: str, to_type: str) -> list[tuple[str, int]]:
        """(to id, association type id) pairs from one object to live objects of a type."""
        source, target = resolve_any(from_type).name, resolve_any(to_type).name
        linked = self.linked((source, str(from_id)), target)
        return sorted(
            ((to_id, type_id) for to_id, kinds in linked.items() for _, type_id in kinds),
            key=lambda pair: (int(pair[0]), pair[1]),
        )

    def custom_properties(self) -> dict[str, list[dict[str, Any]]]:
        with self.lock:
            return {
                t: [p.to_json() for p in defs.values() if not p.hubspot_defined]
                for t, defs in self.property_defs.items()
            }

    def snapshot(self) -> dict[str, Any]:
        """Everything a person wants to look at, as JSON-ready data (``/_sandbox/state``)."""
        with self.lock:

            def with_links(rows: list[dict[str, Any]], type_name: str) -> list[dict[str, Any]]:
                for row in rows:
                    row["associations"] = {
                        other: [
                            to_id for to_id, _ in self.associations(type_name, row["id"], other)
                        ]
                        for other in OBJECT_TYPES
                        if other != type_name
                    }
                return rows

            return {
                "portalId": self.portal_id,
                "counts": {
                    t: sum(not r.archived for r in self.objects[t].values()) for t in OBJECT_TYPES
                },
                "contacts": with_links(self.contacts(), CONTACTS.name),
                "deals": with_links(self.deals(), DEALS.name),
                "notes": with_links(self.notes(), NOTES.name),
                "customProperties": self.custom_properties(),
                "requests": len(self.request_log),
                "stats": self.stats(),
            }
