"""The ASGI application object for uvicorn: `uvicorn web.main:app` (what `just web` runs)."""

from __future__ import annotations

from web.app import create_app

app = create_app()
