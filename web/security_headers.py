"""Security headers on every response: a strict Content-Security-Policy and its companions.

Pure ASGI, outside the other middleware, so refusals (a bad Host, a CSRF 403, a 404) carry
them too. A header a route set itself wins: the upload pages' `no-referrer` stays.
No page runs inline script or style (htmx's indicator style is turned off in its
`htmx-config`), so the policy needs no `'unsafe-inline'`.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlparse

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from settings import Settings

#: Where reCAPTCHA v3 loads its script and frame from (Google's own CSP advice).
RECAPTCHA_SCRIPT_SOURCES = (
    "https://www.google.com/recaptcha/",
    "https://www.gstatic.com/recaptcha/",
)
RECAPTCHA_FRAME_SOURCES = (
    "https://www.google.com/recaptcha/",
    "https://recaptcha.google.com/recaptcha/",
)
#: A year, in seconds: browsers keep to https for that long after one visit over it.
HSTS_MAX_AGE_S = 365 * 24 * 3600
#: Pages under these path prefixes are never framed, whatever FRAME_ANCESTORS allows.
DEFAULT_UNFRAMED_PREFIXES = ("/admin",)
DEFAULT_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
}


def content_security_policy(
    *,
    frame_ancestors: str = "'none'",
    recaptcha: bool = False,
    connect_sources: Iterable[str] = (),
) -> str:
    script_src = ["'self'", *(RECAPTCHA_SCRIPT_SOURCES if recaptcha else ())]
    frame_src = list(RECAPTCHA_FRAME_SOURCES) if recaptcha else ["'none'"]
    directives = {
        "default-src": ["'self'"],
        "script-src": script_src,
        "style-src": ["'self'"],
        "img-src": ["'self'"],
        "connect-src": ["'self'", *connect_sources],
        "frame-src": frame_src,
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": frame_ancestors.split(),
    }
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives.items())


def upload_origins(settings: Settings) -> tuple[str, ...]:
    """Where the upload page sends files when they go straight to S3 (none for UPLOAD_DIR)."""
    if not settings.s3_bucket:
        return ()
    if settings.s3_endpoint_url:  # path-style addressing on the server's own origin
        parsed = urlparse(settings.s3_endpoint_url)
        return (f"{parsed.scheme}://{parsed.netloc}",)
    bucket = settings.s3_bucket
    regional = (f"https://{bucket}.s3.{settings.s3_region}.amazonaws.com",)
    return (f"https://{bucket}.s3.amazonaws.com", *(regional if settings.s3_region else ()))


def _frame_options(frame_ancestors: str) -> str | None:
    """X-Frame-Options for browsers without frame-ancestors; it cannot name other sites."""
    return {"'none'": "DENY", "'self'": "SAMEORIGIN"}.get(frame_ancestors.strip())


class SecurityHeadersMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        frame_ancestors: str = "'none'",
        recaptcha: bool = False,
        connect_sources: Iterable[str] = (),
        unframed_prefixes: tuple[str, ...] = DEFAULT_UNFRAMED_PREFIXES,
    ) -> None:
        self.app = app
        self.unframed_prefixes = unframed_prefixes
        sources = tuple(connect_sources)
        self.framable = self._headers(frame_ancestors, recaptcha, sources)
        self.unframed = self._headers("'none'", recaptcha, sources)

    @staticmethod
    def _headers(frame_ancestors: str, recaptcha: bool, sources: tuple[str, ...]) -> dict[str, str]:
        policy = content_security_policy(
            frame_ancestors=frame_ancestors, recaptcha=recaptcha, connect_sources=sources
        )
        headers = {**DEFAULT_HEADERS, "content-security-policy": policy}
        frame_options = _frame_options(frame_ancestors)
        if frame_options:
            headers["x-frame-options"] = frame_options
        return headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        unframed = any(
            path == prefix or path.startswith(f"{prefix}/") for prefix in self.unframed_prefixes
        )
        wanted = self.unframed if unframed else self.framable
        # The scheme a trusted proxy reported (X-Forwarded-Proto) is already in the scope.
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in wanted.items():
                    headers.setdefault(name, value)
                if https:
                    headers.setdefault("strict-transport-security", f"max-age={HSTS_MAX_AGE_S}")
            await send(message)

        await self.app(scope, receive, send_with_headers)
