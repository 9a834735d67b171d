"""Admin accounts, their sign-in sessions, and the trail of what each admin did.

Accounts are Piccolo's `BaseUser` (PBKDF2 hashing); only `active` users with `admin` set
may sign in. A session is a random token in an HttpOnly cookie; only its SHA-256 is
stored, so a leaked database holds no usable session.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from piccolo.apps.user.tables import BaseUser
from piccolo.columns import JSON, BigSerial, Integer, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from storage.storable import UNSTORABLE_MESSAGE, is_storable


class AdminSession(Table, tablename="admin_sessions"):
    """One signed-in browser."""

    id = BigSerial(primary_key=True)
    token_hash = Varchar(length=64, unique=True, index=True)
    user_id = Integer(index=True)
    username = Varchar(length=100)
    created_at = Timestamptz(default=TimestamptzNow())
    expires_at = Timestamptz(help_text="idle expiry, pushed back on each request")
    ends_at = Timestamptz(help_text="absolute expiry; never pushed back")


class AdminAction(Table, tablename="admin_actions"):
    """The admin audit trail: who did what to which record, and when."""

    id = BigSerial(primary_key=True)
    at = Timestamptz(default=TimestamptzNow(), index=True)
    username = Varchar(length=100)
    action = Varchar(length=32, index=True)
    target = Varchar(length=100, null=True, default=None)
    detail = JSON(default={})


@dataclass(frozen=True)
class Admin:
    """The signed-in admin of a request."""

    user_id: int
    username: str


@functools.cache
def _unknown_user_hash() -> str:
    """Checked when the username is unknown, so the answer takes as long either way."""
    return BaseUser.hash_password(secrets.token_urlsafe(16))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_admin(username: str, email: str, password: str) -> int:
    """An active admin account; raises ValueError for a weak password or a taken name."""
    if not all(is_storable(text) for text in (username, email, password)):
        raise ValueError(UNSTORABLE_MESSAGE)
    if len(password) < 12:
        raise ValueError("The password must be at least 12 characters.")
    taken = await BaseUser.exists().where(
        (BaseUser.username == username) | (BaseUser.email == email)
    )
    if taken:
        raise ValueError(f"A user named {username!r} or with that e-mail exists already.")
    user = await BaseUser.create_user(
        username=username, password=password, email=email, active=True, admin=True
    )
    return user.id


async def find_admin_password(username: str) -> tuple[int, str] | None:
    """The id and stored hash of an active admin named `username`."""
    row = (
        await BaseUser.select(BaseUser.id, BaseUser.password)
        .where(
            (BaseUser.username == username) & (BaseUser.active.eq(True)) & (BaseUser.admin.eq(True))
        )
        .first()
    )
    return (row["id"], row["password"]) if row else None


def password_matches(password: str, stored: str | None) -> bool:
    """Check a password against a stored hash. CPU-bound (~0.3 s): call it off the loop.

    With no stored hash (unknown user) a dummy hash is checked, so timing tells nothing.
    """
    algorithm, iterations, salt, expected = BaseUser.split_stored_password(
        stored or _unknown_user_hash()
    )
    if algorithm != "pbkdf2_sha256" or len(password) > BaseUser._max_password_length:
        return False
    actual = BaseUser.split_stored_password(
        BaseUser.hash_password(password, salt, int(iterations))
    )[3]
    return hmac.compare_digest(actual, expected) and stored is not None


async def start_session(user_id: int, username: str, idle_s: float, max_age_s: float) -> str:
    """A new session for a user who just proved their password; returns the cookie token."""
    token = secrets.token_urlsafe(32)
    now = _now()
    await AdminSession(
        token_hash=_digest(token),
        user_id=user_id,
        username=username,
        expires_at=now + dt.timedelta(seconds=idle_s),
        ends_at=now + dt.timedelta(seconds=max_age_s),
    ).save()
    # `last_login` is Piccolo's naive timestamp column.
    await BaseUser.update({BaseUser.last_login: dt.datetime.now()}).where(BaseUser.id == user_id)
    return token


async def session_admin(token: str, idle_s: float, *, in_use: bool = True) -> Admin | None:
    """The admin a live session token belongs to; None if it ended or its account is off.

    `in_use` (an admin did something) pushes the idle expiry back; a page polling by
    itself does not, so a tab left open still signs out after `idle_s`.
    """
    now = _now()
    live = (
        (AdminSession.token_hash == _digest(token))
        & (AdminSession.expires_at > now)
        & (AdminSession.ends_at > now)
        # An account switched off, or no longer an admin, is out at its next request.
        & AdminSession.user_id.is_in(
            BaseUser.select(BaseUser.id).where(BaseUser.active.eq(True) & BaseUser.admin.eq(True))
        )
    )
    columns = (AdminSession.user_id, AdminSession.username)
    if in_use:
        idle_end = {AdminSession.expires_at: now + dt.timedelta(seconds=idle_s)}
        rows = await AdminSession.update(idle_end).where(live).returning(*columns)
    else:
        rows = await AdminSession.select(*columns).where(live)
    return Admin(rows[0]["user_id"], rows[0]["username"]) if rows else None


async def end_session(token: str) -> None:
    await AdminSession.delete().where(AdminSession.token_hash == _digest(token))


async def purge_expired_sessions() -> int:
    """Drop sessions past either expiry: the periodic job keeps the table small."""
    now = _now()
    expired = (AdminSession.expires_at <= now) | (AdminSession.ends_at <= now)
    rows = await AdminSession.delete().where(expired).returning(AdminSession.id)
    return len(rows)


async def record_action(
    admin: Admin, action: str, target: str | None = None, detail: dict[str, Any] | None = None
) -> None:
    """Write one line of the admin audit trail."""
    await AdminAction(
        username=admin.username, action=action, target=target, detail=detail or {}
    ).save()
