"""reCAPTCHA v3, checked on the server: the token the page got is sent to the verify URL.

Google's answer carries `success`, the `score` (0.0 bot .. 1.0 person) and the `action` the
page named when it asked for the token; all three must be right. The call uses `urllib` in
a worker thread: one short POST per submission does not justify an HTTP client dependency.
"""

from __future__ import annotations

import enum
import http.client
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

import anyio.to_thread

log = logging.getLogger(__name__)

#: Seconds to wait for the verifier; past it the submission is refused, not let through.
VERIFY_TIMEOUT_S = 5.0
#: The largest verifier answer read (bytes): Google's is a few hundred.
MAX_ANSWER_BYTES = 16 * 1024


class Verdict(enum.Enum):
    PERSON = "person"
    #: Missing, invalid, expired or reused token, low score or another action's token.
    FAILED = "failed"
    #: The verifier did not answer usably; the visitor may simply try again.
    UNAVAILABLE = "unavailable"


async def verify(
    token: str,
    *,
    secret: str,
    verify_url: str,
    expected_action: str,
    min_score: float,
    remote_ip: str | None = None,
) -> Verdict:
    """Ask the verifier about `token`; never raises for what the verifier does."""
    if not token:
        return Verdict.FAILED
    form = {"secret": secret, "response": token}
    if remote_ip:
        form["remoteip"] = remote_ip
    try:
        answer = await anyio.to_thread.run_sync(_post, verify_url, form)
    # URLError, HTTPError and timeouts are OSErrors; a garbled answer is one of the others.
    except (OSError, http.client.HTTPException, ValueError) as exc:
        log.warning("reCAPTCHA verifier unavailable: %s", exc)
        return Verdict.UNAVAILABLE
    return judge(answer, expected_action=expected_action, min_score=min_score)


def judge(answer: Mapping[str, Any], *, expected_action: str, min_score: float) -> Verdict:
    """The verdict on one verifier answer."""
    score = answer.get("score")
    if (
        answer.get("success") is not True
        or answer.get("action") != expected_action
        or not isinstance(score, int | float)
        or isinstance(score, bool)
        or score < min_score
    ):
        log.info(
            "reCAPTCHA refused: success=%s action=%r score=%r errors=%s",
            answer.get("success"),
            answer.get("action"),
            score,
            answer.get("error-codes"),
        )
        return Verdict.FAILED
    return Verdict.PERSON


def _post(url: str, form: Mapping[str, str]) -> Mapping[str, Any]:
    body = urllib.parse.urlencode(form).encode()
    request = urllib.request.Request(
        url,
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=VERIFY_TIMEOUT_S) as response:
            answer = json.loads(response.read(MAX_ANSWER_BYTES))
    except urllib.error.HTTPError as exc:
        exc.close()  # it holds the connection open
        raise
    if not isinstance(answer, dict):
        raise ValueError("the verifier's answer is not a JSON object")
    return answer
