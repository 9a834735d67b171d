"""What every HubSpot-writing actor shares: its retry settings and how a row records time."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from dramatiq.middleware import CurrentMessage

from crm.errors import ErrorKind
from settings import get_settings

#: Errors a retry with backoff can fix; the rest fail the row at once.
RETRYABLE = {ErrorKind.TRANSIENT, ErrorKind.AUTHENTICATION}
#: Times the worker holding a batch repeats one of its calls that failed transiently, after
#: the retry policy's first delays, before the batch's rows go back with a retry counted.
CALL_REPEATS = 2


def retry_options() -> dict[str, Any]:
    """Dramatiq's Retries options from HUBSPOT_MAX_RETRIES and the retry delays (ms)."""
    settings = get_settings()
    return {
        "max_retries": settings.hubspot_max_retries,
        "min_backoff": max(settings.hubspot_retry_delay, 1),
        "max_backoff": settings.hubspot_max_retry_delay,
    }


def repeat_delays_s() -> tuple[float, ...]:
    """Seconds before each repeat of a failed batch call: the first retry delays, unjittered."""
    settings = get_settings()
    first_s = max(settings.hubspot_retry_delay, 1) / 1000
    longest_s = settings.hubspot_max_retry_delay / 1000
    return tuple(min(longest_s, first_s * 2**n) for n in range(CALL_REPEATS))


def backoff_s(retries: int, *, no_answer: bool = False) -> float:
    """Seconds before retry number `retries` (1 for the first): the first delay doubled per
    retry up to the longest, with jitter so batches that failed together come back apart.

    After no answer at all HubSpot may still be doing the write: wait until it has
    settled, so the retry finds what it did instead of repeating it.
    """
    settings = get_settings()
    first_s = max(settings.hubspot_retry_delay, 1) / 1000
    delay_s = min(settings.hubspot_max_retry_delay / 1000, first_s * 2 ** max(retries - 1, 0))
    delay_s *= random.uniform(0.5, 1.0)
    return max(delay_s, write_settle_s()) if no_answer else delay_s


def write_settle_s() -> float:
    """Seconds after sending a write that got no answer before looking for what it did:
    its own timeout, then another whole one for it to land."""
    return get_settings().hubspot_timeout * 2


def last_attempt() -> bool:
    """Whether the message being processed has no retry left."""
    message = CurrentMessage.get_current_message()
    retries = message.options.get("retries", 0) if message else 0
    return retries >= get_settings().hubspot_max_retries


def epoch(moment_: dt.datetime | None) -> float | None:
    return moment_.timestamp() if moment_ else None


def moment(epoch_s: float | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(epoch_s, dt.UTC) if epoch_s is not None else None
