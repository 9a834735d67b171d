"""Signed first-party cookies: what the forms keep in the browser (ids only, never PII).

Each cookie is HttpOnly and SameSite=Lax, Secure over https, and signed with the app's
secret under its own salt, so one cookie's value is never accepted as another's.
"""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import HTTPConnection
from starlette.responses import Response

from settings import get_settings


def _serializer(salt: str) -> URLSafeTimedSerializer:
    secret_key = get_settings().secret_key
    if not secret_key:  # the settings make one up when unset, so this is a broken setup
        raise RuntimeError("settings.secret_key is empty; signed cookies need it")
    return URLSafeTimedSerializer(secret_key, salt=salt)


def read_signed(request: HTTPConnection, name: str, *, salt: str, max_age_s: float) -> str | None:
    """The cookie's value when we signed it under `salt` less than `max_age_s` seconds ago."""
    token = request.cookies.get(name)
    if not token:
        return None
    try:
        value = _serializer(salt).loads(token, max_age=max_age_s)
    except BadSignature:  # also covers SignatureExpired
        return None
    return value if isinstance(value, str) else None


def set_signed(
    response: Response,
    request: HTTPConnection,
    name: str,
    value: str,
    *,
    salt: str,
    max_age_s: float,
) -> None:
    response.set_cookie(
        name,
        _serializer(salt).dumps(value),
        max_age=int(max_age_s),
        path="/",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="lax",
    )


def delete(response: Response, request: HTTPConnection, name: str) -> None:
    response.delete_cookie(
        name, path="/", secure=request.url.scheme == "https", httponly=True, samesite="lax"
    )
