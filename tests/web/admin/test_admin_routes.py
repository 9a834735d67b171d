"""Every `/admin` URL, found by walking the app's routes, refuses the signed-out and the
CSRF-less: a route added later is covered without anyone listing it here."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from starlette.routing import BaseRoute, Mount, Route

from storage.admin import AdminAction
from tests.web.admin.signing import csrf_of
from web.app import create_app

#: Stand-ins for path parameters: every id in the dashboard is a UUID or an integer.
PARAMETERS = {"uuid": str(uuid.uuid4()), "int": "1", "string": str(uuid.uuid4())}
PUBLIC = {("/admin/login", "GET"), ("/admin/login", "POST")}


def walk(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, str]]:
    for route in routes:
        if isinstance(route, Mount):
            yield from walk(route.routes, prefix + route.path)
        elif isinstance(route, Route):
            path = prefix + route.path
            for name, convertor in route.param_convertors.items():
                kind = type(convertor).__name__.removesuffix("Convertor").lower()
                path = path.replace(f"{{{name}:{kind}}}", PARAMETERS[kind])
                path = path.replace(f"{{{name}}}", PARAMETERS["string"])
            for method in sorted((route.methods or {"GET"}) - {"HEAD"}):
                yield path, method


ADMIN_ROUTES = sorted(
    (path, method)
    for path, method in walk(create_app().routes)
    if path.startswith("/admin") and (path, method) not in PUBLIC
)
UNSAFE = [(path, method) for path, method in ADMIN_ROUTES if method != "GET"]


def test_the_walk_finds_the_dashboard_and_its_levers():
    paths = {path for path, _ in ADMIN_ROUTES}
    assert {"/admin/", "/admin/submissions", "/admin/people"} <= paths
    assert ("/admin/logout", "POST") in UNSAFE


@pytest.mark.parametrize(("path", "method"), ADMIN_ROUTES)
def test_a_signed_out_request_is_refused(client, admin_account, path, method):
    token = csrf_of(client, "/admin/login")  # a valid CSRF token: only the session is missing

    response = client.request(
        method,
        path,
        data={"csrf_token": token},
        headers={"X-CSRF-Token": token},
        follow_redirects=False,
    )

    if method == "GET":
        assert response.status_code == 303
        assert response.headers["location"].startswith("/admin/login?next=")
    else:
        assert response.status_code == 401
    assert "ops" not in response.text


@pytest.mark.parametrize(("path", "method"), UNSAFE)
def test_a_signed_in_request_without_the_csrf_token_is_refused(admin, path, method):
    recorded = AdminAction.count().run_sync()

    response = admin.request(method, path, data={"confirm": "yes"}, follow_redirects=False)

    assert response.status_code == 403
    assert admin.get("/admin/").status_code == 200, "the session outlived the refused request"
    assert AdminAction.count().run_sync() == recorded, "a refused request did nothing"


@pytest.mark.parametrize("path", ["/admin/login"])
def test_signing_in_needs_the_csrf_token_too(client, admin_account, path):
    response = client.post(path, data={"username": "ops", "password": "x"})

    assert response.status_code == 403
