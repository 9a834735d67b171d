"""One stored CRM object, with the lagging view the search index has of it.

Reads by id see ``properties`` at once; search sees the newest *version* whose
``visible_at`` has passed, which reproduces HubSpot's search-index lag (a record is
invisible to search, or shows old values, for a short time after each write).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .timeutil import iso


@dataclass(frozen=True)
class IndexedVersion:
    visible_at: float
    properties: dict[str, str]
    archived: bool


@dataclass
class ObjectRecord:
    object_type: str
    id: str
    properties: dict[str, str]
    created_at: float
    updated_at: float
    archived: bool = False
    archived_at: float | None = None
    versions: list[IndexedVersion] = field(default_factory=list)
    #: property -> [(value, timestamp)], oldest first, for ``propertiesWithHistory``.
    history: dict[str, list[tuple[str, float]]] = field(default_factory=dict)

    def index(self, now: float, lag: float) -> None:
        """Queue the current state for search, visible ``lag`` seconds from ``now``."""
        visible = [v for v in self.versions if v.visible_at <= now]
        pending = [v for v in self.versions if v.visible_at > now]
        # Older visible versions can never be seen again; keep only the newest.
        self.versions = [*visible[-1:], *pending]
        self.versions.append(IndexedVersion(now + lag, dict(self.properties), self.archived))

    def searchable(self, now: float) -> IndexedVersion | None:
        """What search sees at ``now``: the newest version already visible, if any."""
        seen = [v for v in self.versions if v.visible_at <= now]
        return seen[-1] if seen else None

    def remember(self, changes: dict[str, str], now: float) -> None:
        for name, value in changes.items():
            self.history.setdefault(name, []).append((value, now))

    def history_json(self, names: list[str]) -> dict[str, list[dict[str, str]]]:
        """``propertiesWithHistory``: newest value first, as ``ValueWithTimestamp``."""
        return {
            name: [
                {"value": value, "timestamp": iso(ts), "sourceType": "API", "sourceId": "sandbox"}
                for value, ts in reversed(self.history.get(name, []))
            ]
            for name in names
        }
