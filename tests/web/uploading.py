"""Completing an upload as the upload page does: with the token of its status_url."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from web.uploads import UPLOAD_TOKEN_HEADER


def token_of(target: dict[str, Any]) -> str:
    """The upload's token, as handed out in the `status_url` at creation."""
    return parse_qs(urlsplit(target["status_url"]).query)["token"][0]


def complete(client: Any, target: dict[str, Any], token: str | None = None) -> Any:
    """POST the upload's `complete` with its token (or the one given) in the header."""
    headers = {UPLOAD_TOKEN_HEADER: token_of(target) if token is None else token}
    return client.post(f"/api/uploads/{target['upload_id']}/complete", headers=headers)
