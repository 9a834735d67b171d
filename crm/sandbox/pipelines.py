"""Deal pipelines and their stages; a fresh portal has HubSpot's "Sales Pipeline".

Deal writes are validated against these (``dealstage`` must belong to the deal's
``pipeline``), so the seed uses HubSpot's real internal stage ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .timeutil import iso

DEFAULT_STAGES: tuple[tuple[str, str, str, bool], ...] = (
    ("appointmentscheduled", "Appointment Scheduled", "0.2", False),
    ("qualifiedtobuy", "Qualified To Buy", "0.4", False),
    ("presentationscheduled", "Presentation Scheduled", "0.6", False),
    ("decisionmakerboughtin", "Decision Maker Bought-In", "0.8", False),
    ("contractsent", "Contract Sent", "0.9", False),
    ("closedwon", "Closed Won", "1.0", True),
    ("closedlost", "Closed Lost", "0.0", True),
)


@dataclass
class Stage:
    id: str
    label: str
    display_order: int
    metadata: dict[str, str]
    created_at: float
    updated_at: float
    archived: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "displayOrder": self.display_order,
            "metadata": dict(self.metadata),
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
            "archived": self.archived,
            "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
        }


@dataclass
class Pipeline:
    id: str
    label: str
    display_order: int
    created_at: float
    updated_at: float
    stages: list[Stage] = field(default_factory=list)
    archived: bool = False

    def live_stages(self) -> list[Stage]:
        return sorted((s for s in self.stages if not s.archived), key=lambda s: s.display_order)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "displayOrder": self.display_order,
            "stages": [s.to_json() for s in self.live_stages()],
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
            "archived": self.archived,
        }


def default_deal_pipeline(now: float) -> Pipeline:
    stages = [
        Stage(
            stage_id,
            label,
            order,
            {"isClosed": "true" if closed else "false", "probability": probability},
            now,
            now,
        )
        for order, (stage_id, label, probability, closed) in enumerate(DEFAULT_STAGES)
    ]
    return Pipeline("default", "Sales Pipeline", 0, now, now, stages)
