"""The CSRF middleware on a tiny app: what it lets through, what it refuses, and that the
endpoint still reads the body it buffered."""

from __future__ import annotations

import time

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from web.csrf import (
    COOKIE_NAME,
    EXPIRED_MESSAGE,
    TOKEN_MAX_AGE_S,
    TOKEN_RENEW_AGE_S,
    CSRFMiddleware,
    csrf_token,
)

SECRET = "a-secret-for-the-csrf-tests"


async def page(request: Request) -> Response:
    return PlainTextResponse(csrf_token(request))


async def plain(request: Request) -> Response:
    return PlainTextResponse("no token rendered here")


async def echo_form(request: Request) -> Response:
    async with request.form() as form:
        fields = {key: value for key, value in form.items() if isinstance(value, str)}
        files = {
            key: (await value.read()).decode() for key, value in form.items() if key not in fields
        }
    return JSONResponse({"fields": fields, "files": files})


async def echo_body(request: Request) -> Response:
    return PlainTextResponse(await request.body())


def make_client(base_url: str = "http://testserver", max_body_bytes: int = 1024) -> TestClient:
    app = Starlette(
        routes=[
            Route("/page", page),
            Route("/plain", plain),
            Route("/form", echo_form, methods=["POST"]),
            Route("/body", echo_body, methods=["POST"]),
            Route("/api/contact", echo_body, methods=["POST"]),
            Route("/healthz", echo_body, methods=["POST"]),
        ]
    )
    wrapped = CSRFMiddleware(app, secret_key=SECRET, max_body_bytes=max_body_bytes)
    return TestClient(wrapped, base_url=base_url)


@pytest.fixture
def client() -> TestClient:
    return make_client()


def token_for(client: TestClient) -> str:
    response = client.get("/page")
    assert response.cookies[COOKIE_NAME] == response.text
    return response.text


def signed_at(age_s: int, secret: str = SECRET) -> str:
    """A token signed `age_s` seconds ago."""

    class BackdatedSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - age_s

    return URLSafeTimedSerializer(secret, salt="web.csrf", signer=BackdatedSigner).dumps("x")


def test_a_rendered_token_is_set_as_a_lax_httponly_cookie(client: TestClient) -> None:
    response = client.get("/page")

    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE_NAME}={response.text};")
    assert "SameSite=Lax" in cookie and "HttpOnly" in cookie and "Path=/" in cookie
    assert f"Max-Age={TOKEN_MAX_AGE_S}" in cookie
    assert "Secure" not in cookie


def test_the_cookie_is_secure_over_https() -> None:
    response = make_client(base_url="https://testserver").get("/page")

    assert "Secure" in response.headers["set-cookie"]


def test_a_response_that_renders_no_token_sets_no_cookie(client: TestClient) -> None:
    assert "set-cookie" not in client.get("/plain").headers


def test_a_valid_cookie_is_reused_rather_than_replaced(client: TestClient) -> None:
    token = token_for(client)

    again = client.get("/page")

    assert again.text == token
    assert "set-cookie" not in again.headers


def test_a_form_post_with_the_token_reaches_the_endpoint_with_its_fields(
    client: TestClient,
) -> None:
    token = token_for(client)

    response = client.post("/form", data={"csrf_token": token, "name": "Ada"})

    assert response.status_code == 200
    assert response.json()["fields"] == {"csrf_token": token, "name": "Ada"}


def test_a_multipart_post_with_the_token_reaches_the_endpoint_with_its_file(
    client: TestClient,
) -> None:
    token = token_for(client)

    response = client.post(
        "/form",
        data={"csrf_token": token, "name": "Ada"},
        files={"notes": ("notes.txt", b"hello", "text/plain")},
    )

    assert response.status_code == 200
    assert response.json() == {
        "fields": {"csrf_token": token, "name": "Ada"},
        "files": {"notes": "hello"},
    }


def test_the_header_token_is_accepted_for_any_body(client: TestClient) -> None:
    token = token_for(client)

    response = client.post(
        "/body",
        content=b'{"a": 1}',
        headers={"X-CSRF-Token": token, "content-type": "application/json"},
    )

    assert response.status_code == 200
    assert response.text == '{"a": 1}'


def test_a_post_without_a_token_is_refused_with_the_expired_page(client: TestClient) -> None:
    token_for(client)

    response = client.post("/form", data={"name": "Ada"})

    assert response.status_code == 403
    assert EXPIRED_MESSAGE in response.text
    assert "<html" in response.text


def test_an_htmx_post_without_a_token_gets_the_message_as_a_fragment(client: TestClient) -> None:
    token_for(client)

    response = client.post("/form", data={"name": "Ada"}, headers={"HX-Request": "true"})

    assert response.status_code == 403
    assert EXPIRED_MESSAGE in response.text
    assert "<html" not in response.text


def test_a_post_without_the_cookie_is_refused(client: TestClient) -> None:
    token = token_for(client)
    client.cookies.clear()

    response = client.post("/form", data={"csrf_token": token})

    assert response.status_code == 403


def test_a_token_that_differs_from_the_cookie_is_refused(client: TestClient) -> None:
    token_for(client)
    other = make_client()

    response = client.post("/form", data={"csrf_token": token_for(other)})

    assert response.status_code == 403


def test_a_token_signed_with_another_secret_is_refused_even_as_cookie_and_field(
    client: TestClient,
) -> None:
    forged = signed_at(0, secret="another-secret-entirely")
    client.cookies.set(COOKIE_NAME, forged)

    response = client.post("/form", data={"csrf_token": forged})

    assert response.status_code == 403


def test_a_tampered_token_is_refused(client: TestClient) -> None:
    token = token_for(client)
    tampered = ("B" if token[0] != "B" else "C") + token[1:]
    client.cookies.set(COOKIE_NAME, tampered)

    response = client.post("/form", data={"csrf_token": tampered})

    assert response.status_code == 403


def test_an_expired_token_is_refused(client: TestClient) -> None:
    old = signed_at(TOKEN_MAX_AGE_S + 60)
    client.cookies.set(COOKIE_NAME, old)

    response = client.post("/form", data={"csrf_token": old})

    assert response.status_code == 403


def test_an_ageing_token_still_works_and_is_replaced(client: TestClient) -> None:
    ageing = signed_at(TOKEN_RENEW_AGE_S + 60)
    client.cookies.set(COOKIE_NAME, ageing)

    submitted = client.post("/form", data={"csrf_token": ageing})
    page = client.get("/page")

    assert submitted.status_code == 200
    assert page.text != ageing
    assert page.cookies[COOKIE_NAME] == page.text


def test_the_json_api_and_healthz_are_exempt(client: TestClient) -> None:
    api = client.post("/api/contact", json={"email": "a@b.co"})
    health = client.post("/healthz", content=b"ping")

    assert (api.status_code, api.text) == (200, '{"email":"a@b.co"}')
    assert (health.status_code, health.text) == (200, "ping")


def test_a_form_body_over_the_cap_is_refused_with_413(client: TestClient) -> None:
    token = token_for(client)

    response = client.post("/form", data={"csrf_token": token, "big": "x" * 2048})

    assert response.status_code == 413


def test_safe_methods_need_no_token(client: TestClient) -> None:
    assert client.get("/page").status_code == 200
    assert client.head("/page").status_code == 200


def test_the_middleware_refuses_an_empty_secret() -> None:
    with pytest.raises(ValueError):
        CSRFMiddleware(Starlette(), secret_key="")
