"""CSRF protection for the HTML forms: a signed double-submit token, checked before routing.

The token lives in the `csrftoken` cookie and is rendered into every form; an unsafe request
must send it back in the `X-CSRF-Token` header or the `csrf_token` form field. A cross-site
page can make the browser send the cookie but cannot read it, so it cannot echo the token.
Signing it means a cookie planted from a sibling subdomain is rejected too.

Over https the cookie is `__Host-csrftoken`: the browser then takes it only from this very
host, Secure, with Path=/ and no Domain, so no sibling subdomain can plant one at all.

Signed-in admin pages use a token bound to the admin session instead: an HMAC of the
session cookie, so each sign-in brings a new one and a visitor's token (which anyone can
get by loading a public form) is refused on the dashboard. Only the sign-in form, which
acts on no session, takes either.

The JSON API is exempt by design: a cross-site page cannot post JSON without a CORS
preflight, and the app grants none (see `web/api.py`).
"""

from __future__ import annotations

import base64
import hmac
import secrets
from collections.abc import AsyncGenerator

from itsdangerous import BadSignature, URLSafeTimedSerializer
from python_multipart.multipart import parse_options_header
from starlette.datastructures import FormData, Headers, MutableHeaders
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser
from starlette.requests import HTTPConnection
from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web.replay import replay

COOKIE_NAME = "csrftoken"
#: The cookie's name over https: the `__Host-` prefix makes the browser insist it is
#: Secure, Path=/ and without Domain (only plain http, embedded or in development, lacks it).
SECURE_COOKIE_NAME = f"__Host-{COOKIE_NAME}"
HEADER_NAME = "x-csrf-token"
FORM_FIELD = "csrf_token"
#: Where the token is kept for the request, read through `csrf_token(request)`.
SCOPE_KEY = "csrf_token"
#: Set once the token was handed out, so a newly made one is worth a cookie.
_RENDERED_KEY = "csrf_token.rendered"
#: A token older than this (seconds) is refused: a week covers a tab left open for days.
TOKEN_MAX_AGE_S = 7 * 24 * 3600
#: A token past this age (seconds) is replaced on the next response, so a form rendered
#: with it still has half the lifetime left to be submitted.
TOKEN_RENEW_AGE_S = TOKEN_MAX_AGE_S // 2
#: The most body (bytes) buffered to find the form field; the app's own cap is the same.
DEFAULT_MAX_BODY_BYTES = 64 * 1024

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
EXEMPT_PREFIXES = ("/api/",)
EXEMPT_PATHS = frozenset({"/healthz"})
FORM_CONTENT_TYPES = frozenset({b"application/x-www-form-urlencoded", b"multipart/form-data"})

EXPIRED_MESSAGE = "This form has expired. Reload the page and submit again."
EXPIRED_PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Form expired</title>
</head>
<body>
<main>
<h1>Form expired</h1>
<p>{EXPIRED_MESSAGE}</p>
</main>
</body>
</html>
"""
#: What an htmx request gets instead: a fragment the page's 403 handling shows in place.
EXPIRED_FRAGMENT = f'<p class="form-expired" role="alert">{EXPIRED_MESSAGE}</p>'
TOO_LARGE_PAGE = (
    "<!doctype html><title>Too large</title>"
    "<p>The form is too large. Shorten the longest fields and send it again.</p>"
)


class CSRFMiddleware:
    """Pure ASGI, so the body it buffers can be replayed to the endpoint unchanged."""

    def __init__(
        self,
        app: ASGIApp,
        secret_key: str,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        *,
        session_cookie: str | None = None,
        session_prefix: str = "",
        sign_in_path: str | None = None,
    ) -> None:
        """`session_cookie` (sent to paths under `session_prefix`) binds those pages' token
        to the session it holds; `sign_in_path` also takes the visitor's token."""
        if not secret_key:
            raise ValueError("CSRFMiddleware needs a non-empty secret_key")
        self.app = app
        self.serializer = URLSafeTimedSerializer(secret_key, salt="web.csrf")
        self.session_key = hmac.digest(secret_key.encode(), b"web.csrf.session", "sha256")
        self.max_body_bytes = max_body_bytes
        self.session_cookie = session_cookie
        self.session_prefix = session_prefix
        self.sign_in_path = sign_in_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        connection = HTTPConnection(scope)
        secure = scope.get("scheme") == "https"
        cookie_token = connection.cookies.get(SECURE_COOKIE_NAME if secure else COOKIE_NAME, "")
        current = self._load(cookie_token, TOKEN_MAX_AGE_S)
        fresh = self._load(cookie_token, TOKEN_RENEW_AGE_S)
        session_token = self._session_token(scope, connection)
        if session_token is None:
            accepted = [current]
        elif scope["path"] == self.sign_in_path:
            accepted = [session_token, current]
        else:
            accepted = [session_token]
        expected = [token for token in accepted if token is not None]

        if scope["method"] not in SAFE_METHODS and not _is_exempt(scope):
            if not expected:
                await self._reject(scope, receive, send)
                return
            if not _any_same(connection.headers.get(HEADER_NAME, ""), expected):
                if not _is_form(connection.headers):
                    await self._reject(scope, receive, send)
                    return
                body = await self._read_body(connection.headers, receive)
                if body is None:
                    await HTMLResponse(TOO_LARGE_PAGE, 413)(scope, receive, send)
                    return
                receive = replay(body, receive)
                if not _any_same(await _form_token(connection.headers, body), expected):
                    await self._reject(scope, receive, send)
                    return

        if session_token is not None or fresh is not None:
            scope[SCOPE_KEY] = session_token or fresh
            await self.app(scope, receive, send)
            return

        token = scope[SCOPE_KEY] = self.serializer.dumps(secrets.token_urlsafe(32))
        cookie = _cookie_header(token, secure=secure)

        async def send_with_cookie(message: Message) -> None:
            # Only a response that rendered the token sets it: static files and API answers
            # stay cookie-free, and so cacheable.
            if message["type"] == "http.response.start" and scope.get(_RENDERED_KEY):
                MutableHeaders(scope=message).append("set-cookie", cookie)
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    def _session_token(self, scope: Scope, connection: HTTPConnection) -> str | None:
        """The token bound to the session cookie this request carries, if it carries one.

        Whether the session is live is the guard's business (it runs after this): a dead
        one gets the sign-in page, whose form this token then fits."""
        if not self.session_cookie:
            return None
        path = scope["path"]
        if path != self.session_prefix and not path.startswith(f"{self.session_prefix}/"):
            return None
        session = connection.cookies.get(self.session_cookie, "")
        if not session:
            return None
        digest = hmac.digest(self.session_key, session.encode(), "sha256")
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def _load(self, token: str, max_age_s: int) -> str | None:
        """The token itself when it is ours and young enough, else None."""
        if not token:
            return None
        try:
            self.serializer.loads(token, max_age=max_age_s)
        except BadSignature:  # also covers SignatureExpired
            return None
        return token

    async def _read_body(self, headers: Headers, receive: Receive) -> bytes | None:
        """The whole body, or None once it passes the cap (413 rather than a huge buffer)."""
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            return None
        chunks: list[bytes] = []
        size = 0
        more_body = True
        while more_body:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client went away; what we have is all there is
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
            more_body = message.get("more_body", False)
        return b"".join(chunks)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        is_htmx = Headers(scope=scope).get("hx-request") == "true"
        response = HTMLResponse(
            EXPIRED_FRAGMENT if is_htmx else EXPIRED_PAGE,
            status_code=403,
            headers={"Cache-Control": "no-store", "Vary": "HX-Request"},
        )
        await response(scope, receive, send)


def csrf_token(request: HTTPConnection) -> str:
    """The token to render into this request's forms; set by `CSRFMiddleware`."""
    try:
        token = request.scope[SCOPE_KEY]
    except KeyError:
        raise RuntimeError("CSRFMiddleware is not installed; forms would always fail") from None
    request.scope[_RENDERED_KEY] = True
    return token


def _is_exempt(scope: Scope) -> bool:
    path = scope["path"]
    root_path = scope.get("root_path", "")
    if root_path and path.startswith(root_path):
        path = path[len(root_path) :]
    return path in EXEMPT_PATHS or path.startswith(EXEMPT_PREFIXES)


def _is_form(headers: Headers) -> bool:
    content_type, _ = parse_options_header(headers.get("content-type", ""))
    return content_type in FORM_CONTENT_TYPES


def _any_same(submitted: str, expected: list[str]) -> bool:
    if not submitted:
        return False
    # Every candidate is compared, so the time taken tells nothing about which one matched.
    matches = [hmac.compare_digest(submitted.encode(), token.encode()) for token in expected]
    return any(matches)


async def _form_token(headers: Headers, body: bytes) -> str:
    """The `csrf_token` field of a urlencoded or multipart body; empty when absent or unreadable."""
    if not body:
        return ""
    parser: FormParser | MultiPartParser
    if parse_options_header(headers.get("content-type", ""))[0] == b"multipart/form-data":
        parser = MultiPartParser(headers, _once(body))
    else:
        parser = FormParser(headers, _once(body))
    form: FormData | None = None
    try:
        form = await parser.parse()
        value = form.get(FORM_FIELD)
    except (MultiPartException, ValueError):
        return ""
    finally:
        if form is not None:
            await form.close()
    return value if isinstance(value, str) else ""


async def _once(body: bytes) -> AsyncGenerator[bytes, None]:
    yield body


def _cookie_header(token: str, *, secure: bool) -> str:
    parts = [
        f"{SECURE_COOKIE_NAME if secure else COOKIE_NAME}={token}",
        "Path=/",
        f"Max-Age={TOKEN_MAX_AGE_S}",
        "HttpOnly",
        "SameSite=Lax",
    ]
    if secure:
        parts.append("Secure")
    return "; ".join(parts)
