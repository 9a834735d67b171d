"""The Jinja environment every HTML page renders with, and where templates and assets live."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.templating import Jinja2Templates

from web.csrf import csrf_token

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent / "static"

#: Vendored, with the version in the name: StaticFiles sends no Cache-Control, so a new
#: release must be a new URL.
HTMX_FILE = "htmx-2.0.11.min.js"
HTMX_INTEGRITY = "sha384-2OatzQy1H+Zd/IIrjr1TcuDGqLXeHhbooAyJY1KdQMKnr4LZ22k31GBLdYKHmVjg"


def static_path(request: Request, path: str) -> str:
    """A static file's URL path (no scheme or host, so it survives a TLS-terminating proxy)."""
    return request.url_for("static", path=path).path


@functools.cache
def asset_version(path: str) -> str:
    """A short hash of a static file: our own assets change without a rename, so the URL must."""
    return hashlib.sha256((STATIC_DIR / path).read_bytes()).hexdigest()[:12]


def page_context(request: Request) -> dict[str, Any]:
    """What every page needs: the CSRF token for its forms and the asset URLs."""
    return {
        "csrf_token": csrf_token(request),
        "htmx_src": static_path(request, HTMX_FILE),
        "htmx_integrity": HTMX_INTEGRITY,
        "css_src": f"{static_path(request, 'site.css')}?v={asset_version('site.css')}",
    }


#: Autoescaping for every template whatever its extension; trimmed blocks keep the HTML tidy.
_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
templates = Jinja2Templates(env=_env, context_processors=[page_context])
