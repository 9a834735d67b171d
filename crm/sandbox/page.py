"""A look inside the sandbox for people: ``GET /`` (HTML) and ``GET /_sandbox/state`` (JSON),
including the injected faults and what they served, so a chaos run can be watched live.

Server-rendered, no JavaScript; every value is escaped because it comes straight
from API clients.
"""

from __future__ import annotations

from html import escape
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from .faultoptions import FaultOptions
from .wire import answer, sandbox

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#213}
table{border-collapse:collapse;margin-bottom:2rem}
th,td{border:1px solid #ccd;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#eef} .empty{color:#778}
"""
EXCERPT = 120


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    if not rows:
        return '<p class="empty">None yet.</p>'
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(cell))}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _ids(values: list[str]) -> str:
    return ", ".join(values) or "—"


def _faults(faults: dict[str, Any] | None, stats: dict[str, Any]) -> str:
    traffic = (
        f"<p>{stats['accepted_requests']} API requests accepted, at most "
        f"{stats['max_requests_in_window']} in any {stats['window_s']:g} s "
        f"(burst limit {stats['burst_limit']}); {stats['rate_limited']} refused by the "
        "rate limiter.</p>"
    )
    if faults is None:
        return traffic
    defaults = FaultOptions().to_json()
    plan = faults["plan"]
    changed = [[name, value] for name, value in plan.items() if value != defaults[name]]
    windows = [[name, f"{left:.1f} s left"] for name, left in faults["remaining_s"].items() if left]
    state = "active" if faults["active"] else "inactive"
    return (
        traffic
        + f"<h2>Faults ({state})</h2>"
        + _table(["Option", "Value"], changed)
        + (_table(["Window", "Remaining"], windows) if windows else "")
        + "<h3>Faults served</h3>"
        + _table(["Fault", "Count"], [[k, v] for k, v in faults["counters"].items()])
    )


def render(snapshot: dict[str, Any], faults: dict[str, Any] | None = None) -> str:
    contacts = [
        [
            c["id"],
            c["properties"].get("email", ""),
            " ".join(
                filter(None, [c["properties"].get("firstname"), c["properties"].get("lastname")])
            ),
            c["properties"].get("lifecyclestage", ""),
            _ids(c["associations"]["deals"]),
            c["createdAt"],
            "archived" if c["archived"] else "",
        ]
        for c in snapshot["contacts"]
    ]
    deals = [
        [
            d["id"],
            d["properties"].get("dealname", ""),
            d["properties"].get("amount", ""),
            d["properties"].get("pipeline", ""),
            d["properties"].get("dealstage", ""),
            _ids(d["associations"]["contacts"]),
            "archived" if d["archived"] else "",
        ]
        for d in snapshot["deals"]
    ]
    notes = [
        [
            n["id"],
            n["properties"].get("hs_timestamp", ""),
            n["properties"].get("hs_note_body", "")[:EXCERPT],
            _ids(n["associations"]["contacts"]),
            _ids(n["associations"]["deals"]),
        ]
        for n in snapshot["notes"]
    ]
    custom = [
        [object_type, p["name"], p["label"], p["type"], "yes" if p["hasUniqueValue"] else ""]
        for object_type, props in snapshot["customProperties"].items()
        for p in props
    ]
    counts = snapshot["counts"]
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<title>HubSpot sandbox</title>"
        f"<style>{_STYLE}</style></head><body>"
        "<h1>HubSpot sandbox</h1>"
        f"<p>Portal {escape(str(snapshot['portalId']))}: {counts['contacts']} contacts, "
        f"{counts['deals']} deals, {counts['notes']} notes, "
        f"{snapshot['requests']} requests served (pages included).</p>"
        + _faults(faults, snapshot["stats"])
        + f"<h2>Contacts ({counts['contacts']})</h2>"
        + _table(["ID", "Email", "Name", "Lifecycle stage", "Deals", "Created", ""], contacts)
        + f"<h2>Deals ({counts['deals']})</h2>"
        + _table(["ID", "Name", "Amount", "Pipeline", "Stage", "Contacts", ""], deals)
        + f"<h2>Notes ({counts['notes']})</h2>"
        + _table(["ID", "Timestamp", "Body", "Contacts", "Deals"], notes)
        + f"<h2>Custom properties ({len(custom)})</h2>"
        + _table(["Object", "Name", "Label", "Type", "Unique"], custom)
        + "</body></html>"
    )


async def home(request: Request) -> Response:
    faults = request.app.state.faults.describe()
    return HTMLResponse(render(sandbox(request).snapshot(), faults))


async def state_json(request: Request) -> Response:
    return answer(sandbox(request).snapshot())


ROUTES = [
    Route("/", home, methods=["GET"]),
    Route("/_sandbox/state", state_json, methods=["GET"]),
]
