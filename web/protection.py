"""Visitor-side protection, checked before a submission is stored: honeypot, per-IP rate
limit, reCAPTCHA v3. The JSON API and the HTML forms both call `check_submission`:

    rejection = await check_submission(request, raw)
    if rejection is None:
        ...                   # validate and store as usual
    elif rejection.pretend_success:
        ...                   # a bot filled the honeypot: answer exactly as for an
                              # accepted submission, store nothing
    else:
        ...                   # answer rejection.status_code with rejection.message,
                              # rejection.errors and rejection.headers (Retry-After)

The honeypot costs nothing and tells a bot nothing, so it comes first; the rate limit
comes before reCAPTCHA so a flood does not become a flood of verifier calls. Every
submission that reaches the rate limit counts, whether or not it then validates.
"""

from __future__ import annotations

import enum
import functools
import ipaddress
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
import redis
from starlette.requests import HTTPConnection

from actors.broker import redis_client
from settings import get_settings
from web import recaptcha
from web.client_ip import client_ip, parse_address

log = logging.getLogger(__name__)

#: Hidden from people in the HTML form (and left out by API clients); only bots fill it.
HONEYPOT_FIELD = "website"
#: Where the page (or an API client) puts the reCAPTCHA v3 token.
RECAPTCHA_TOKEN_FIELD = "recaptchaToken"
#: The action the page names in `grecaptcha.execute(siteKey, {action: ...})`.
RECAPTCHA_ACTION = "submit"
#: Fields that are protection, not form data: not worth storing with the submission.
PROTECTION_FIELDS = frozenset({HONEYPOT_FIELD, RECAPTCHA_TOKEN_FIELD})
#: Seconds a visitor is asked to wait when the reCAPTCHA verifier did not answer.
VERIFIER_RETRY_AFTER_S = 30
RATE_LIMIT_PREFIX = "leadsync:submissions"
#: IPv6 visitors get a /64 each, so a limit per address would be a limit per nothing.
IPV6_RATE_LIMIT_PREFIX_LEN = 64

CAPTCHA_FAILED_MESSAGE = (
    "We could not confirm that a person sent this form. Reload the page and send it again."
)
CAPTCHA_UNAVAILABLE_MESSAGE = (
    "We could not check this submission just now. Please send it again in a minute."
)


class RejectionKind(enum.StrEnum):
    SPAM = "spam"
    CAPTCHA_FAILED = "captcha_failed"
    CAPTCHA_UNAVAILABLE = "captcha_unavailable"
    RATE_LIMITED = "rate_limited"


_STATUS_CODES = {
    # What the JSON API answers an accepted submission: a bot must not see a difference.
    RejectionKind.SPAM: 202,
    RejectionKind.CAPTCHA_FAILED: 403,
    RejectionKind.CAPTCHA_UNAVAILABLE: 503,
    RejectionKind.RATE_LIMITED: 429,
}


@dataclass(frozen=True)
class Rejection:
    """Why a submission must not be stored, and what to answer instead."""

    kind: RejectionKind
    message: str = ""
    #: Seconds before trying again is worth it (the `Retry-After` header), if known.
    retry_after_s: int | None = None

    @property
    def pretend_success(self) -> bool:
        """Answer exactly as for an accepted submission, storing nothing."""
        return self.kind is RejectionKind.SPAM

    @property
    def status_code(self) -> int:
        return _STATUS_CODES[self.kind]

    @property
    def errors(self) -> dict[str, str]:
        """Per-field errors, in the shape of the API's `errors` and the forms' error summary."""
        if self.kind is RejectionKind.CAPTCHA_FAILED:
            return {RECAPTCHA_TOKEN_FIELD: self.message}
        return {}

    @property
    def headers(self) -> dict[str, str]:
        if self.retry_after_s is None:
            return {}
        return {"Retry-After": str(self.retry_after_s)}


async def check_submission(
    request: HTTPConnection, raw: Mapping[str, Any], *, action: str = RECAPTCHA_ACTION
) -> Rejection | None:
    """None when the submission may go on to validation and storage, else why not.

    `raw` is the posted form (`HONEYPOT_FIELD` and `RECAPTCHA_TOKEN_FIELD` included);
    `action` is the reCAPTCHA action the page asked its token for.
    """
    ip = client_ip(request)
    if honeypot_filled(raw):
        log.info("honeypot filled by %s; answering as if accepted", ip)
        return Rejection(RejectionKind.SPAM)
    settings = get_settings()
    if settings.submission_rate_limit:
        retry_after_s = await anyio.to_thread.run_sync(
            functools.partial(
                count_submission,
                ip,
                limit=settings.submission_rate_limit,
                window_s=settings.submission_rate_window,
            )
        )
        if retry_after_s is not None:
            log.info("rate limit reached by %s; retry after %d s", ip, retry_after_s)
            message = (
                "Too many submissions from your network. "
                f"Please try again {_within(retry_after_s)}."
            )
            return Rejection(RejectionKind.RATE_LIMITED, message, retry_after_s)
    if settings.recaptcha_secret:
        token = raw.get(RECAPTCHA_TOKEN_FIELD)
        verdict = await recaptcha.verify(
            token if isinstance(token, str) else "",
            secret=settings.recaptcha_secret,
            verify_url=settings.recaptcha_verify_url,
            expected_action=action,
            min_score=settings.recaptcha_min_score,
            remote_ip=ip if parse_address(ip) is not None else None,
        )
        if verdict is recaptcha.Verdict.FAILED:
            return Rejection(RejectionKind.CAPTCHA_FAILED, CAPTCHA_FAILED_MESSAGE)
        if verdict is recaptcha.Verdict.UNAVAILABLE:
            return Rejection(
                RejectionKind.CAPTCHA_UNAVAILABLE,
                CAPTCHA_UNAVAILABLE_MESSAGE,
                VERIFIER_RETRY_AFTER_S,
            )
    return None


def honeypot_filled(raw: Mapping[str, Any]) -> bool:
    """Anything but absent, null or blank text in the honeypot is a bot's doing."""
    value = raw.get(HONEYPOT_FIELD)
    if isinstance(value, str):
        return bool(value.strip())
    return value is not None


def recaptcha_site_key() -> str | None:
    """The site key for the page, or None when reCAPTCHA is off (no secret configured)."""
    settings = get_settings()
    return settings.recaptcha_site_key if settings.recaptcha_secret else None


def clock() -> float:
    """Seconds since the epoch, for the rate limit windows; tests patch it to move time."""
    return time.time()


def count_submission(ip: str, *, limit: int, window_s: float) -> int | None:
    """Count one submission from `ip`; None while within `limit`, else seconds to wait.

    When Redis is down the submission is let through: losing a lead is worse than a flood.
    """
    key = f"{RATE_LIMIT_PREFIX}:{rate_limit_key(ip)}"
    return count_in_window(key, limit=limit, window_s=window_s, fail_open=True)


def count_in_window(key: str, *, limit: int, window_s: float, fail_open: bool) -> int | None:
    """Count one hit on `key` in the current fixed window of `window_s` seconds.

    None while the window holds at most `limit`, else the seconds until it ends. With Redis
    down, `fail_open` says whether to let the hit through (None) or refuse it for a window.
    """
    now = clock()
    window = math.floor(now / window_s)
    seconds_left = max(1, math.ceil((window + 1) * window_s - now))
    try:
        pipeline = redis_client().pipeline(transaction=True)
        pipeline.incr(f"{key}:{window}")
        # Only to clean up: the window's number in the key is what ends it.
        pipeline.expire(f"{key}:{window}", math.ceil(window_s) + 1)
        count, _ = pipeline.execute()
    except redis.RedisError:
        verdict = "allowing" if fail_open else "refusing"
        log.exception("rate limit unavailable; %s %s", verdict, key)
        return None if fail_open else seconds_left
    return None if count <= limit else seconds_left


def seconds_blocked(key: str, *, limit: int, window_s: float) -> int | None:
    """The seconds until the current window of `key` ends if it already holds `limit`
    hits (counted by `count_in_window`), else None; with Redis down, refused for a window.

    Reading without counting lets a caller count only the attempts that fail.
    """
    now = clock()
    window = math.floor(now / window_s)
    seconds_left = max(1, math.ceil((window + 1) * window_s - now))
    try:
        count = int(redis_client().get(f"{key}:{window}") or 0)
    except redis.RedisError:
        log.exception("rate limit unavailable; refusing %s", key)
        return seconds_left
    return seconds_left if count >= limit else None


def rate_limit_key(ip: str) -> str:
    """What one visitor's submissions are counted under: the address, or its /64 for IPv6."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        network = ipaddress.IPv6Network((address, IPV6_RATE_LIMIT_PREFIX_LEN), strict=False)
        return str(network)
    return str(address)


def _within(seconds: int) -> str:
    if seconds <= 60:
        return "in a minute"
    minutes = math.ceil(seconds / 60)
    if minutes <= 90:
        return f"in {minutes} minutes"
    return f"in {math.ceil(minutes / 60)} hours"
