"""Visitor-side protection: the client's address, the honeypot, the per-IP rate limit and
reCAPTCHA v3 against a fake verifier on loopback."""

from __future__ import annotations

import asyncio
import http.server
import json
import socket
import threading
import urllib.parse
from collections.abc import Iterator

import fakeredis
import pytest
from starlette.requests import Request
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

from actors.broker import redis_client
from settings import get_settings
from storage.tables import Submission
from tests.web.leads import SPEC_LEAD
from web import protection, recaptcha
from web.client_ip import client_ip, resolve_client_ip, trusted_networks
from web.protection import (
    HONEYPOT_FIELD,
    RECAPTCHA_TOKEN_FIELD,
    Rejection,
    RejectionKind,
    check_submission,
    count_submission,
)

FORM = SPEC_LEAD
PROXIES = trusted_networks("10.0.0.0/8, 2001:db8:ff::/48, 192.0.2.7")


def _rows() -> int:
    return Submission.count().run_sync()


def without_lifespan(app: ASGIApp) -> ASGIApp:
    """The app minus its start-up: the `db` fixture migrated, and no worker is wanted."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})

    return wrapped


@pytest.fixture
def client(db: None, monkeypatch) -> Iterator[TestClient]:
    """The app with no worker (queued syncs are dropped), the rate limit off, Redis empty."""
    from web.app import create_app

    redis_client().flushall()
    monkeypatch.setattr("actors.sync.sync_submission.send", lambda submission_id: None)
    monkeypatch.setattr(get_settings(), "submission_rate_limit", 0)
    with TestClient(without_lifespan(create_app())) as test_client:
        yield test_client


def _request(peer: str = "203.0.113.9", forwarded_for: str | None = None) -> Request:
    headers = [(b"x-forwarded-for", forwarded_for.encode())] if forwarded_for else []
    return Request({"type": "http", "client": (peer, 50000), "headers": headers})


# --- The client's address -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("peer", "chain", "expected"),
    [
        # No proxy of ours in front: the header is the visitor's own claim.
        ("203.0.113.9", ["198.51.100.1"], "203.0.113.9"),
        ("203.0.113.9", [], "203.0.113.9"),
        # Our proxy saw the visitor.
        ("10.0.0.2", ["198.51.100.1"], "198.51.100.1"),
        # The visitor forged the left part; our proxies appended the right part.
        ("10.0.0.2", ["6.6.6.6, 198.51.100.1, 10.0.0.3, 192.0.2.7"], "198.51.100.1"),
        # Several headers are one chain, in order.
        ("10.0.0.2", ["6.6.6.6, 198.51.100.1", "10.0.0.3"], "198.51.100.1"),
        # Only our own hops: the furthest one is all we know.
        ("10.0.0.2", ["10.1.2.3, 10.0.0.3"], "10.1.2.3"),
        # A trusted proxy without the header is the client.
        ("10.0.0.2", [], "10.0.0.2"),
        # Garbage ends the walk at the last real address.
        ("10.0.0.2", ["198.51.100.1, not-an-ip, 10.0.0.3"], "10.0.0.3"),
        # Ports and brackets, as some proxies write them.
        ("10.0.0.2", ["198.51.100.1:4711"], "198.51.100.1"),
        ("10.0.0.2", ["[2001:db8::1]:443"], "2001:db8::1"),
        # IPv6 peers and hops, and IPv4 carried in IPv6.
        ("2001:db8:ff::10", ["2001:db8:1::5, 2001:db8:ff:1::1"], "2001:db8:1::5"),
        ("2001:db8:1::5", ["198.51.100.1"], "2001:db8:1::5"),
        ("::ffff:10.0.0.2", ["198.51.100.1"], "198.51.100.1"),
        ("10.0.0.2", ["::FFFF:198.51.100.1"], "198.51.100.1"),
        # Not an address at all (a test client): itself, and never trusted.
        ("testclient", ["198.51.100.1"], "testclient"),
    ],
)
def test_the_client_is_the_first_untrusted_hop_from_the_right(peer, chain, expected) -> None:
    assert resolve_client_ip(peer, chain, PROXIES) == expected


def test_the_client_ip_reads_trusted_proxies_from_the_settings(monkeypatch) -> None:
    monkeypatch.setattr(get_settings(), "trusted_proxies", "10.0.0.0/8")

    assert client_ip(_request("10.0.0.2", "198.51.100.1")) == "198.51.100.1"
    assert client_ip(_request("203.0.113.9", "198.51.100.1")) == "203.0.113.9"


def test_without_trusted_proxies_the_socket_peer_is_the_client(monkeypatch) -> None:
    monkeypatch.setattr(get_settings(), "trusted_proxies", "")

    assert client_ip(_request("10.0.0.2", "198.51.100.1")) == "10.0.0.2"


def test_a_bad_trusted_proxies_setting_names_the_variable() -> None:
    with pytest.raises(ValueError, match="TRUSTED_PROXIES: 'proxy.internal'"):
        trusted_networks("10.0.0.1, proxy.internal")


# --- Rate limit -----------------------------------------------------------------------------


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    redis_client().flushall()
    clock = Clock()
    monkeypatch.setattr(protection, "clock", clock)
    return clock


def test_the_limit_counts_per_address_and_resets_with_the_window(clock: Clock) -> None:
    # Given 3 submissions allowed per 60 s, 20 s into a window
    clock.now = 1_800_000_020.0
    counts = [count_submission("198.51.100.1", limit=3, window_s=60) for _ in range(4)]

    # Then the fourth waits for the window's end, and other addresses are not affected
    assert counts == [None, None, None, 40]
    assert count_submission("198.51.100.2", limit=3, window_s=60) is None

    # When the window has rolled, the address may submit again
    clock.now += 40
    assert count_submission("198.51.100.1", limit=3, window_s=60) is None


def test_ipv6_visitors_are_counted_per_64(clock: Clock) -> None:
    assert count_submission("2001:db8:1:2::1", limit=1, window_s=60) is None
    assert count_submission("2001:db8:1:2:ffff::9", limit=1, window_s=60) is not None
    assert count_submission("2001:db8:1:3::1", limit=1, window_s=60) is None


def test_without_redis_submissions_are_let_through(monkeypatch, caplog) -> None:
    server = fakeredis.FakeServer()
    server.connected = False
    monkeypatch.setattr(protection, "redis_client", lambda: fakeredis.FakeRedis(server=server))

    assert count_submission("198.51.100.1", limit=1, window_s=60) is None
    assert count_submission("198.51.100.1", limit=1, window_s=60) is None
    assert "rate limit unavailable" in caplog.text


def test_a_rate_limited_visitor_gets_429_with_retry_after(client, clock: Clock, monkeypatch):
    monkeypatch.setattr(get_settings(), "submission_rate_limit", 2)
    monkeypatch.setattr(get_settings(), "submission_rate_window", 3600.0)
    clock.now = 1_800_000_000.0 + 600  # windows start at multiples of 3600: 10 minutes in

    answers = [client.post("/api/contact", json=FORM) for _ in range(3)]

    assert [answer.status_code for answer in answers] == [202, 202, 429]
    refused = answers[2]
    assert refused.headers["retry-after"] == "3000"
    assert refused.json()["success"] is False
    assert refused.json()["message"] == (
        "Too many submissions from your network. Please try again in 50 minutes."
    )
    assert _rows() == 2

    clock.now += 3000
    assert client.post("/api/contact", json=FORM).status_code == 202


def test_a_limit_of_zero_turns_the_rate_limit_off(client, monkeypatch) -> None:
    def counted(*args, **kwargs):
        raise AssertionError("nothing is counted with the limit off")

    monkeypatch.setattr(get_settings(), "submission_rate_limit", 0)
    monkeypatch.setattr(protection, "count_submission", counted)

    statuses = {client.post("/api/contact", json=FORM).status_code for _ in range(12)}

    assert statuses == {202}


# --- Honeypot -------------------------------------------------------------------------------


def test_a_filled_honeypot_is_answered_like_success_and_stores_nothing(client, monkeypatch):
    queued: list[str] = []
    monkeypatch.setattr("actors.sync.sync_submission.send", queued.append)

    trapped = client.post("/api/contact", json=FORM | {HONEYPOT_FIELD: "https://spam.example"})
    genuine = client.post("/api/contact", json=FORM)

    assert trapped.status_code == genuine.status_code == 202
    assert trapped.headers.keys() == genuine.headers.keys()
    body, real = trapped.json(), genuine.json()
    assert body["message"] == real["message"]
    assert body["data"].keys() == real["data"].keys()
    assert body["data"]["submission_id"] != real["data"]["submission_id"]
    assert _rows() == 1
    assert queued == [real["data"]["submission_id"]]


@pytest.mark.parametrize(
    ("value", "spam"),
    [(None, False), ("", False), ("  ", False), ("x", True), (0, True), ([], True)],
)
def test_the_honeypot_is_filled_by_anything_but_blank_text(value, spam) -> None:
    assert protection.honeypot_filled({HONEYPOT_FIELD: value}) is spam
    assert protection.honeypot_filled({}) is False


def test_the_honeypot_field_is_no_field_of_any_form() -> None:
    from actors.services import property_map

    spellings = {
        spelling
        for spec in property_map().fields.values()
        for spelling in (spec.name, *spec.aliases)
    }
    assert HONEYPOT_FIELD not in spellings
    assert RECAPTCHA_TOKEN_FIELD not in spellings


def test_a_rejection_says_what_to_answer() -> None:
    limited = Rejection(RejectionKind.RATE_LIMITED, "Later.", 30)
    failed = Rejection(RejectionKind.CAPTCHA_FAILED, "Not a person.")

    assert (limited.status_code, limited.headers, limited.errors) == (
        429,
        {"Retry-After": "30"},
        {},
    )
    assert (failed.status_code, failed.headers) == (403, {})
    assert failed.errors == {RECAPTCHA_TOKEN_FIELD: "Not a person."}
    assert Rejection(RejectionKind.SPAM).pretend_success
    assert not limited.pretend_success


# --- reCAPTCHA ------------------------------------------------------------------------------


class FakeVerifier:
    """Google's siteverify on loopback: the token names the answer."""

    ANSWERS = {
        "good": {"success": True, "score": 0.9, "action": "submit"},
        "borderline": {"success": True, "score": 0.5, "action": "submit"},
        "low": {"success": True, "score": 0.2, "action": "submit"},
        "other-action": {"success": True, "score": 0.9, "action": "login"},
        "expired": {"success": False, "error-codes": ["timeout-or-duplicate"]},
    }

    def __init__(self) -> None:
        self.posted: list[dict[str, str]] = []
        verifier = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                verifier.posted.append(form)
                token = form.get("response", "")
                if token == "broken":
                    self.send_response(500)
                    self.end_headers()
                    return
                body = json.dumps(verifier.ANSWERS.get(token, {"success": False})).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/recaptcha/api/siteverify"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> FakeVerifier:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self.thread.is_alive():
            self.server.shutdown()
            self.thread.join()
        self.server.server_close()


@pytest.fixture
def verifier(monkeypatch) -> Iterator[FakeVerifier]:
    with FakeVerifier() as fake:
        monkeypatch.setattr(get_settings(), "recaptcha_secret", "test-recaptcha-secret")
        monkeypatch.setattr(get_settings(), "recaptcha_verify_url", fake.url)
        monkeypatch.setattr(get_settings(), "recaptcha_min_score", 0.5)
        yield fake


def test_a_good_score_for_the_right_action_is_accepted(client, verifier: FakeVerifier) -> None:
    response = client.post("/api/contact", json=FORM | {RECAPTCHA_TOKEN_FIELD: "good"})

    assert response.status_code == 202
    assert verifier.posted == [{"secret": "test-recaptcha-secret", "response": "good"}]
    assert _rows() == 1


def test_the_verifier_is_told_the_visitors_address(verifier: FakeVerifier) -> None:
    raw = {RECAPTCHA_TOKEN_FIELD: "good"}

    assert asyncio.run(check_submission(_request("198.51.100.1"), raw)) is None
    assert verifier.posted[0]["remoteip"] == "198.51.100.1"


def test_a_score_at_the_threshold_is_enough(client, verifier: FakeVerifier) -> None:
    response = client.post("/api/contact", json=FORM | {RECAPTCHA_TOKEN_FIELD: "borderline"})

    assert response.status_code == 202


@pytest.mark.parametrize("token", ["low", "other-action", "expired", "unknown"])
def test_a_failed_check_is_refused_with_a_403(client, verifier: FakeVerifier, token) -> None:
    response = client.post("/api/contact", json=FORM | {RECAPTCHA_TOKEN_FIELD: token})

    assert response.status_code == 403
    body = response.json()
    assert body["success"] is False
    assert body["message"] == protection.CAPTCHA_FAILED_MESSAGE
    assert body["errors"] == {RECAPTCHA_TOKEN_FIELD: protection.CAPTCHA_FAILED_MESSAGE}
    assert _rows() == 0


@pytest.mark.parametrize("token", [None, "", 42])
def test_no_token_is_refused_without_asking_the_verifier(client, verifier, token) -> None:
    response = client.post("/api/contact", json=FORM | {RECAPTCHA_TOKEN_FIELD: token})

    assert response.status_code == 403
    assert verifier.posted == []
    assert _rows() == 0


def test_a_verifier_that_is_down_fails_closed_with_a_retry(client, verifier, monkeypatch):
    verifier.stop()  # nothing listens on its port any more

    response = client.post("/api/contact", json=FORM | {RECAPTCHA_TOKEN_FIELD: "good"})

    assert response.status_code == 503
    assert response.headers["retry-after"] == str(protection.VERIFIER_RETRY_AFTER_S)
    assert response.json()["message"] == protection.CAPTCHA_UNAVAILABLE_MESSAGE
    assert _rows() == 0


def test_a_verifier_error_fails_closed(client, verifier: FakeVerifier) -> None:
    response = client.post("/api/contact", json=FORM | {RECAPTCHA_TOKEN_FIELD: "broken"})

    assert response.status_code == 503
    assert _rows() == 0


def test_a_verifier_that_never_answers_fails_closed(client, verifier, monkeypatch) -> None:
    monkeypatch.setattr(recaptcha, "VERIFY_TIMEOUT_S", 0.2)
    # The kernel accepts the connection into the backlog; nobody ever answers it.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        monkeypatch.setattr(get_settings(), "recaptcha_verify_url", f"http://127.0.0.1:{port}/")

        response = client.post("/api/contact", json=FORM | {RECAPTCHA_TOKEN_FIELD: "good"})

    assert response.status_code == 503
    assert _rows() == 0


def test_without_a_secret_recaptcha_is_off(client, verifier, monkeypatch) -> None:
    monkeypatch.setattr(get_settings(), "recaptcha_secret", None)
    monkeypatch.setattr(get_settings(), "recaptcha_site_key", "site-key")

    assert client.post("/api/contact", json=FORM).status_code == 202
    assert verifier.posted == []
    assert protection.recaptcha_site_key() is None


def test_the_action_the_caller_expects_is_checked(verifier: FakeVerifier) -> None:
    raw = {RECAPTCHA_TOKEN_FIELD: "other-action"}

    assert asyncio.run(check_submission(_request(), raw, action="login")) is None
    rejection = asyncio.run(check_submission(_request(), raw))
    assert rejection is not None and rejection.kind is RejectionKind.CAPTCHA_FAILED


def test_the_verdict_needs_success_action_and_score() -> None:
    def judge(answer):
        return recaptcha.judge(answer, expected_action="submit", min_score=0.5)

    assert judge({"success": True, "action": "submit", "score": 0.7}) is recaptcha.Verdict.PERSON
    for answer in (
        {"success": "true", "action": "submit", "score": 0.7},
        {"success": True, "action": "submit"},
        {"success": True, "action": "submit", "score": True},
        {"success": True, "action": "submit", "score": "0.9"},
        {"success": True, "score": 0.9},
    ):
        assert judge(answer) is recaptcha.Verdict.FAILED, answer


def test_addresses_are_compared_as_addresses() -> None:
    assert protection.rate_limit_key("2001:DB8:0:0:1::1") == "2001:db8::/64"
    assert protection.rate_limit_key("198.51.100.1") == "198.51.100.1"
    assert protection.rate_limit_key("") == "unknown"
