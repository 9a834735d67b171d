"""Admin sign-in: the guard in front of every `/admin` URL, and the sign-in/out pages.

The guard is middleware, not a per-route decorator, so a route added under `/admin` is
protected without anyone remembering to. CSRF is checked before it, by `CSRFMiddleware`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from urllib.parse import quote, urlsplit

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection, Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from settings import get_settings
from storage import admin as accounts
from storage.admin import Admin
from web.admin.pages import render
from web.client_ip import client_ip
from web.protection import count_in_window, rate_limit_key, seconds_blocked

log = logging.getLogger(__name__)

PREFIX = "/admin"
LOGIN_PATH = f"{PREFIX}/login"
COOKIE_NAME = "admin_session"
SCOPE_KEY = "admin"
#: Sent by elements that refresh themselves (`hx-headers`), so polling is not activity.
POLL_HEADER = "x-admin-poll"
LOGIN_RATE_PREFIX = "leadsync:admin-login"
#: Admin pages hold personal data: never cached, no referrer leaves them. (That they are
#: never framed, and the rest of the security headers, `web/security_headers.py` sees to.)
SECURITY_HEADERS = {
    "cache-control": "no-store",
    "referrer-policy": "same-origin",
}


def is_admin_path(path: str) -> bool:
    return path == PREFIX or path.startswith(f"{PREFIX}/")


class AdminGuard:
    """Lets a request into `/admin` only with a live session; sets `scope["admin"]`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_admin_path(scope["path"]):
            await self.app(scope, receive, send)
            return

        async def send_secure(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        connection = HTTPConnection(scope)
        if scope["path"] != LOGIN_PATH:
            token = connection.cookies.get(COOKIE_NAME)
            ttl = get_settings().admin_session_ttl
            in_use = connection.headers.get(POLL_HEADER) != "true"
            admin = await accounts.session_admin(token, ttl, in_use=in_use) if token else None
            if admin is None:
                await _sign_in_first(connection)(scope, receive, send_secure)
                return
            scope[SCOPE_KEY] = admin
        await self.app(scope, receive, send_secure)


def _sign_in_first(connection: HTTPConnection) -> Response:
    """A page load goes to the sign-in form; htmx and other requests are told 401.

    An htmx request (a poll, say) comes back to the page it was made from, not to the
    fragment it asked for."""
    if connection.headers.get("hx-request") == "true":
        page = urlsplit(connection.headers.get("hx-current-url", "")).path
        target = f"{LOGIN_PATH}?next={quote(safe_next(page))}"
        return Response(status_code=401, headers={"HX-Redirect": target})
    target = f"{LOGIN_PATH}?next={quote(connection.url.path)}"
    if connection.scope["method"] in ("GET", "HEAD"):
        return RedirectResponse(target, status_code=303)
    return PlainTextResponse("Sign in first.", status_code=401)


def current_admin(request: Request) -> Admin:
    """The signed-in admin; the guard has made sure there is one."""
    return request.scope[SCOPE_KEY]


def safe_next(target: str | None) -> str:
    """Where to go after signing in: only a path inside the dashboard, never another site."""
    if target and is_admin_path(target) and not target.startswith("//") and target != LOGIN_PATH:
        return target
    return f"{PREFIX}/"


async def login_page(request: Request) -> Response:
    return _login_form(request, request.query_params.get("next"))


async def login(request: Request) -> Response:
    form = await request.form()
    username = str(form.get("username", "")).strip()
    password = str(form.get("password", ""))
    next_path = str(form.get("next", ""))
    settings = get_settings()
    wait_s = count_in_window(
        f"{LOGIN_RATE_PREFIX}:{rate_limit_key(client_ip(request))}",
        limit=settings.admin_login_rate_limit,
        window_s=settings.admin_login_rate_window,
        fail_open=False,
    )
    if wait_s is None:
        wait_s = seconds_blocked(
            _account_key(username),
            limit=settings.admin_login_account_limit,
            window_s=settings.admin_login_rate_window,
        )
    if wait_s is not None:
        message = f"Too many sign-in attempts. Try again in {-(-wait_s // 60)} minutes."
        return _login_form(request, next_path, message, 429, {"Retry-After": str(wait_s)})
    account = await accounts.find_admin_password(username) if username else None
    # PBKDF2 takes a third of a second: off the event loop, so other requests go on.
    matches = await asyncio.to_thread(
        accounts.password_matches, password, account[1] if account else None
    )
    if account is None or not matches:
        log.warning("admin sign-in refused from %s", client_ip(request))
        count_in_window(
            _account_key(username),
            limit=settings.admin_login_account_limit,
            window_s=settings.admin_login_rate_window,
            fail_open=False,
        )
        return _login_form(request, next_path, "Wrong username or password.", 401)
    admin = Admin(account[0], username)
    token = await accounts.start_session(
        admin.user_id, username, settings.admin_session_ttl, settings.admin_session_max_age
    )
    await accounts.record_action(admin, "sign_in", detail={"ip": client_ip(request)})
    response = RedirectResponse(safe_next(next_path), status_code=303)
    response.set_cookie(
        COOKIE_NAME,
        token,
        path=PREFIX,
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="strict",
    )
    return response


def _account_key(username: str) -> str:
    """Failed sign-ins are counted per username, known or not, so a lock reveals nothing
    and guessing from many addresses gains nothing; hashed so no username sits in Redis.
    """
    digest = hashlib.sha256(username.casefold().encode()).hexdigest()
    return f"{LOGIN_RATE_PREFIX}:account:{digest}"


async def logout(request: Request) -> Response:
    token = request.cookies.get(COOKIE_NAME)
    if token:
        await accounts.end_session(token)
    await accounts.record_action(current_admin(request), "sign_out")
    response = RedirectResponse(LOGIN_PATH, status_code=303)
    response.delete_cookie(COOKIE_NAME, path=PREFIX, httponly=True, samesite="strict")
    return response


def _login_form(
    request: Request,
    next_path: str | None,
    error: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    context = {"next": safe_next(next_path), "error": error}
    return render(request, "admin/login.html", context, status_code, headers)


routes = [
    Route("/login", login_page, methods=["GET"], name="admin_login"),
    Route("/login", login, methods=["POST"], name="admin_login_post"),
    Route("/logout", logout, methods=["POST"], name="admin_logout"),
]
