"""Uploads through the app: the JSON contract end to end on both stores, the rules of the
upload target, and the visitor-only, self-stopping status page."""

from __future__ import annotations

import asyncio
import io
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx2
import openpyxl
import pytest
from hypothesis import HealthCheck, settings

from settings import get_settings
from storage.objects import LOCAL_UPLOAD_PATH, S3ObjectStore
from tests.s3 import s3_store
from tests.web.uploading import complete, token_of
from web.upload_store import BEFORE_FILE_MAX_BYTES

EMAIL = "dana@example.com"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: Seconds an upload may take to be analysed and recorded in the sandbox.
SETTLE_TIMEOUT_S = 30
BASE_URL = "http://127.0.0.1:8000"


@pytest.fixture
def app(db) -> Any:
    """The app without its lifespan: no worker, for what needs no analysis to run."""
    from starlette.testclient import TestClient

    from web.app import create_app

    return TestClient(create_app(), base_url=BASE_URL)


def _workbook() -> bytes:
    book = openpyxl.Workbook()
    for row in (["sku", "price"], ["A-1", 9.5], ["B-2", 12.0], ["B-2", 12.0]):
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# Over the app's 64 KB body limit: the local store's endpoint caps uploads itself.
CSV = b"id,name,amount\n" + b"".join(b"%d,Name %d,%d.5\n" % (i, i, i) for i in range(6000))
#: name -> (bytes, content type, file type, rows, columns)
FILES: dict[str, tuple[bytes, str, str, int, int]] = {
    "people.csv": (CSV, "text/csv", "CSV", 6000, 3),
    "cities.tsv": (b"id\tcity\n1\tParis\n2\tRome\n", "text/tab-separated-values", "TSV", 2, 2),
    "events.jsonl": (b'{"a": 1}\n{"a": 2, "b": "x"}\n', "application/x-ndjson", "JSON Lines", 2, 2),
    "items.json": (b'[{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]', "application/json", "JSON", 2, 2),
    "prices.xlsx": (_workbook(), XLSX_TYPE, "XLSX", 3, 2),
}

Sender = Callable[[dict[str, Any], str, bytes, str], int]


def _create(client, filename: str, data: bytes, content_type: str, /, **changes) -> Any:
    body = {"email": EMAIL, "filename": filename, "contentType": content_type, "size": len(data)}
    return client.post("/api/uploads", json=body | changes)


def _via_app(client) -> Sender:
    def send(target: dict[str, Any], filename: str, data: bytes, content_type: str) -> int:
        files = {"file": (filename, data, content_type)}
        return client.post(target["url"], data=target["fields"], files=files).status_code

    return send


def _via_network(target: dict[str, Any], filename: str, data: bytes, content_type: str) -> int:
    files = {"file": (filename, data, content_type)}
    return httpx2.post(target["url"], data=target["fields"], files=files).status_code


def _settled(client, status_url: str) -> dict[str, Any]:
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while True:
        data = client.get(status_url).json()["data"]
        crm = (data.get("crm") or {}).get("status")
        if data["status"] == "failed" or crm in ("synced", "failed"):
            return data
        assert time.monotonic() < deadline, f"upload still {data['status']}/{crm}"
        time.sleep(0.05)


def _upload(client, send: Sender, filename: str, data: bytes, content_type: str) -> str:
    created = _create(client, filename, data, content_type)
    assert created.status_code == 201, created.json()
    target = created.json()["data"]
    assert send(target, filename, data, content_type) == 204
    completed = complete(client, target)
    assert completed.status_code == 202, completed.json()
    assert completed.json()["data"]["status"] in ("uploaded", "processing", "completed")
    return target["status_url"]


def _check_all_formats(client, sandbox, send: Sender) -> None:
    status_urls = {
        name: _upload(client, send, name, data, content_type)
        for name, (data, content_type, *_) in FILES.items()
    }

    settled = {name: _settled(client, url) for name, url in status_urls.items()}

    for name, data in settled.items():
        _, _, file_type, rows, column_count = FILES[name]
        assert data["status"] == "completed", data["message"]
        results = data["results"]
        assert (results["file_type"], results["row_count"]) == (file_type, rows), name
        assert results["column_count"] == column_count and 0 <= results["quality_score"] <= 1
        assert all({"name", "type", "null_share"} <= set(c) for c in results["columns"])
        assert data["crm"]["status"] == "synced" and data["crm"]["activity_id"]
    assert settled["prices.xlsx"]["results"]["duplicate_share"] == pytest.approx(1 / 3, 1e-3)
    [contact] = sandbox.contacts()
    assert contact["properties"]["file_upload_count"] == str(len(FILES))
    assert {data["crm"]["contact_id"] for data in settled.values()} == {contact["id"]}
    notes = sandbox.notes()
    assert {note["id"] for note in notes} == {d["crm"]["activity_id"] for d in settled.values()}
    assert all("Sample Data Upload" in note["properties"]["hs_note_body"] for note in notes)


def test_every_format_through_the_local_store_reaches_the_contact(client, sandbox) -> None:
    _check_all_formats(client, sandbox, _via_app(client))


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3ObjectStore]:
    with s3_store(monkeypatch) as store:
        yield store


def test_every_format_through_s3_reaches_the_contact(s3, client, sandbox) -> None:
    _check_all_formats(client, sandbox, _via_network)

    keys = [item["Key"] for item in s3.client.list_objects_v2(Bucket=s3.bucket)["Contents"]]
    assert len(keys) == len(FILES) and all(key.startswith("uploads/") for key in keys)


def test_a_file_that_is_not_what_it_claims_ends_failed_with_a_reason(client, sandbox) -> None:
    status_url = _upload(client, _via_app(client), "data.csv", b'[{"a": 1}]', "text/csv")

    data = _settled(client, status_url)

    assert data["status"] == "failed" and "content is JSON" in data["message"]
    assert "results" not in data and not sandbox.contacts()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"email": "not-an-address"}, "email"),
        ({"filename": "photo.png"}, "filename"),
        ({"filename": "../etc/passwd.csv"}, "filename"),
        ({"contentType": "image/png"}, "contentType"),
        ({"size": 0}, "size"),
        ({"size": 10**12}, "size"),
        ({"size": "12"}, "size"),
    ],
)
def test_bad_upload_details_are_refused_field_by_field(app, changes, field) -> None:
    answer = _create(app, "people.csv", CSV, "text/csv", **changes)

    assert answer.status_code == 422
    body = answer.json()
    assert body["success"] is False and list(body["errors"]) == [field]


def test_the_upload_api_takes_json_only(app) -> None:
    assert app.post("/api/uploads", content=b"email=x").status_code == 415
    assert app.post("/api/uploads", content=b"{", headers=_JSON).status_code == 400
    assert app.post("/api/uploads", content=b"[]", headers=_JSON).status_code == 422


_JSON = {"Content-Type": "application/json"}


def _target(client, data: bytes = CSV) -> dict[str, Any]:
    answer = _create(client, "people.csv", data, "text/csv")
    assert answer.status_code == 201
    return answer.json()["data"]


def test_a_local_upload_url_works_once(app) -> None:
    target = _target(app)
    send = _via_app(app)
    assert send(target, "people.csv", CSV, "text/csv") == 204

    assert send(target, "people.csv", CSV, "text/csv") == 409


def test_a_local_upload_url_is_not_good_for_another_upload(app) -> None:
    mine, other = _target(app), _target(app)
    fields = mine["fields"] | {"key": other["fields"]["key"]}

    answer = app.post(mine["url"], data=fields, files={"file": ("x.csv", CSV, "text/csv")})

    assert answer.status_code == 403
    assert complete(app, other).status_code == 409


def test_a_local_upload_url_is_refused_after_it_expires(app, monkeypatch) -> None:
    target = _target(app)
    monkeypatch.setattr("storage.objects.time.time", lambda: time.monotonic() + 10**10)

    answer = _via_app(app)(target, "people.csv", CSV, "text/csv")

    assert answer == 403


def test_a_local_upload_larger_than_declared_is_refused(app) -> None:
    target = _target(app, CSV[:1000])

    assert _via_app(app)(target, "people.csv", CSV, "text/csv") == 413
    assert complete(app, target).status_code == 409


BOUNDARY = "hostile"
#: Bytes a hostile sender offers in all: far more than any upload may be.
OFFERED_BYTES = 300 * 1024 * 1024
#: Bytes one piece of a streamed body carries, as a server hands them over.
PIECE_BYTES = 64 * 1024


class _Offer:
    """A streamed body: `opening`, then `filler` until OFFERED_BYTES; counts what was read."""

    def __init__(self, opening: bytes, filler: bytes) -> None:
        self.opening = opening
        self.filler = filler * (PIECE_BYTES // len(filler))
        self.read_bytes = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        piece = self.opening
        while self.read_bytes < OFFERED_BYTES:
            self.read_bytes += len(piece)
            yield piece
            piece = self.filler


def _part(name: str, value: str = "", filename: str = "") -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    return f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n{value}".encode()


def _fields(target: dict[str, Any]) -> bytes:
    return b"".join(_part(name, value) + b"\r\n" for name, value in target["fields"].items())


def _post(offer: _Offer, url: str = LOCAL_UPLOAD_PATH, **headers: str) -> httpx2.Response:
    """POST the offer to the app as a stream, with no length unless one is given."""
    from web.app import create_app

    async def send() -> httpx2.Response:
        transport = httpx2.ASGITransport(app=create_app())
        async with httpx2.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            content_type = f"multipart/form-data; boundary={BOUNDARY}"
            return await client.post(
                url, content=offer, headers={"Content-Type": content_type} | headers
            )

    return asyncio.run(send())


@pytest.mark.parametrize(
    ("opening", "filler", "status"),
    [
        (_part("policy"), b"x", 413),
        (b"", b"\r\n", 413),
        (_part("a") + b"\r\n", _part("a") + b"\r\n", 413),
        (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=".encode(), b"x", 400),
    ],
    ids=["one-endless-field", "endless-preamble", "endless-fields", "endless-disposition"],
)
def test_hundreds_of_megabytes_before_the_file_are_refused_after_a_bounded_read(
    db, opening: bytes, filler: bytes, status: int
) -> None:
    offer = _Offer(opening, filler)

    answer = _post(offer)

    assert answer.status_code == status, answer.text
    assert offer.read_bytes <= BEFORE_FILE_MAX_BYTES + 2 * PIECE_BYTES


def test_a_declared_length_over_any_upload_is_refused_unread(db) -> None:
    offer = _Offer(_part("policy"), b"x")
    too_long = get_settings().upload_max_bytes + BEFORE_FILE_MAX_BYTES + 1

    answer = _post(offer, **{"Content-Length": str(too_long)})

    assert answer.status_code == 413 and "larger than the upload allows" in answer.text
    assert offer.read_bytes == 0


def test_a_declared_length_over_the_policy_is_refused_before_the_file_is_read(app) -> None:
    target = _target(app, CSV[:1000])
    opening = _fields(target) + _part("file", filename="people.csv")
    offer = _Offer(opening, b"1,Name,1.5\n")

    answer = _post(offer, target["url"], **{"Content-Length": str(OFFERED_BYTES)})

    assert answer.status_code == 413 and "larger than the upload allows" in answer.text
    assert offer.read_bytes <= len(opening) + PIECE_BYTES
    assert complete(app, target).status_code == 409


def test_an_endless_file_is_refused_at_the_policys_size(app) -> None:
    target = _target(app, CSV)
    offer = _Offer(_fields(target) + _part("file", filename="people.csv"), b"1,Name,1.5\n")

    answer = _post(offer, target["url"])

    assert answer.status_code == 413
    assert offer.read_bytes <= len(CSV) + BEFORE_FILE_MAX_BYTES + PIECE_BYTES


def test_completing_an_unknown_upload_is_a_404(app) -> None:
    assert complete(app, {"upload_id": str(uuid.uuid4())}, token="x").status_code == 404


def test_completing_needs_the_uploads_own_token_and_answers_no_links(app) -> None:
    mine, other = _target(app), _target(app)
    assert _via_app(app)(mine, "people.csv", CSV, "text/csv") == 204

    bare = app.post(f"/api/uploads/{mine['upload_id']}/complete")
    borrowed = complete(app, mine, token=token_of(other))
    in_query = app.post(f"/api/uploads/{mine['upload_id']}/complete?token={token_of(mine)}")
    completed = complete(app, mine)

    assert bare.status_code == borrowed.status_code == in_query.status_code == 404
    assert completed.status_code == 202
    assert set(completed.json()["data"]) == {"upload_id", "status"}


def test_the_status_needs_the_uploads_own_token(app) -> None:
    mine, other = _target(app), _target(app)
    bare = mine["status_url"].split("?")[0]
    borrowed = bare + "?" + other["status_url"].split("?")[1]

    assert app.get(mine["status_url"]).status_code == 200
    assert app.get(bare).status_code == 404
    assert app.get(borrowed).status_code == 404
    assert app.get(mine["status_url"].replace("/api/uploads/", "/uploads/")).status_code == 200
    assert app.get(borrowed.replace("/api/uploads/", "/uploads/")).status_code == 404


def test_the_status_page_polls_until_the_end_then_stops(client, sandbox) -> None:
    target = _target(client)
    page_url = target["status_url"].replace("/api/uploads/", "/uploads/")

    waiting = client.get(page_url)
    fragment = client.get(page_url, headers={"HX-Request": "true"})

    assert waiting.status_code == 200 and 'hx-trigger="every 2s"' in waiting.text
    assert waiting.headers["cache-control"] == "no-store"
    assert waiting.headers["referrer-policy"] == "no-referrer"
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert "Waiting for your file" in fragment.text

    assert _via_app(client)(target, "people.csv", CSV, "text/csv") == 204
    complete(client, target)
    _settled(client, target["status_url"])
    final = client.get(page_url, headers={"HX-Request": "true"})
    page = client.get(page_url)

    assert final.status_code == 286 and "hx-trigger" not in final.text
    assert "Results" in final.text and "Quality score" in final.text
    assert page.status_code == 200 and "hx-get" not in page.text
    assert 'data-stage="recorded" data-state="done"' in page.text


def test_the_upload_page_asks_for_email_and_file(app) -> None:
    page = app.get("/upload")

    assert page.status_code == 200
    assert 'type="email"' in page.text and 'type="file"' in page.text
    assert 'data-create-url="/api/uploads"' in page.text and "upload-1.js" in page.text


def test_a_returning_visitor_finds_their_email_filled_in(app) -> None:
    from starlette.requests import Request
    from starlette.responses import Response

    from web.profiling import VISITOR_COOKIE, remember_visitor
    from web.submit import accept_submission

    form = {
        "email": "returning@example.com",
        "firstName": "Rae",
        "lastName": "Turner",
        "company": "Acme",
        "country": "GB",
        "serviceInterests": ["data_collection"],
    }
    accepted = asyncio.run(accept_submission("contact", form))
    assert accepted.ok, accepted.errors
    response = Response()
    remember_visitor(
        Request({"type": "http", "scheme": "http", "path": "/", "headers": []}),
        response,
        accepted.submission_id,
    )
    cookie = response.headers["set-cookie"].split(";")[0].split("=", 1)[1]
    app.cookies.set(VISITOR_COOKIE, cookie)

    page = app.get("/upload")

    assert 'value="returning@example.com"' in page.text


def test_the_openapi_document_describes_the_upload_endpoints(app) -> None:
    document = app.get("/api/openapi.json").json()

    assert {"/api/uploads", "/api/uploads/{upload_id}/complete", "/api/uploads/{upload_id}"} <= set(
        document["paths"]
    )
    request = document["components"]["schemas"]["UploadRequest"]
    assert request["required"] == ["email", "filename", "contentType", "size"]


def _uploads_schema() -> Any:
    import schemathesis
    from schemathesis.config import SchemathesisConfig

    from web.app import create_app

    application = create_app()

    async def without_lifespan(scope, receive, send):
        if scope["type"] == "lifespan":
            raise RuntimeError("no lifespan")  # the `db` fixture migrates; no worker
        await application(scope, receive, send)

    config = {
        "generation": {"max-examples": 25, "database": "none"},
        # Unknown ids and tokens are 404 and a file not yet sent is 409, as documented.
        "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "404", "409", "422"]}},
    }
    return schemathesis.openapi.from_asgi(
        "/api/openapi.json", without_lifespan, config=SchemathesisConfig.from_dict(config)
    ).include(tag="uploads")


@_uploads_schema().parametrize()
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_upload_endpoints_do_what_the_document_says(case, db) -> None:
    case.call_and_validate()
