"""Sample-data uploads: the upload page, the JSON API, and the visitor's live status page.

The file never passes through the app's request handling: `POST /api/uploads` hands out a
presigned POST target (S3, or the local store's endpoint in `web/upload_store.py`), the
browser sends the file there, and `POST /api/uploads/{id}/complete` queues the analysis.
Status is visible only through the signed link `status_url`/`status_page` carry: the
upload id alone shows nothing.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from actors.uploads import analyse_upload, enqueue
from crm.transforms import InvalidValue, clean_email
from settings import get_settings
from storage import uploads
from storage.analysis.detect import EXTENSIONS, claimed_family
from storage.objects import object_key, object_store
from web import upload_store
from web.profiling import load_profile
from web.public_url import absolute, absolute_url
from web.responses import envelope
from web.templating import asset_version, static_path, templates
from web.upload_view import status_view

#: Content types a browser may report for each family (Windows calls CSV an Excel type).
CONTENT_TYPES = {
    "delimited": {
        "text/csv",
        "text/tab-separated-values",
        "text/plain",
        "application/csv",
        "text/x-csv",
        "application/vnd.ms-excel",
        "application/octet-stream",
    },
    "json": {
        "application/json",
        "application/x-ndjson",
        "application/jsonl",
        "application/x-jsonlines",
        "text/plain",
        "application/octet-stream",
    },
    "xlsx": {
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/octet-stream",
    },
}
ACCEPT = ",".join(sorted(EXTENSIONS))
#: As long as the columns that keep them (`storage/uploads.py`).
MAX_EMAIL_CHARS = 254
MAX_FILENAME_CHARS = 255
MAX_CONTENT_TYPE_CHARS = 127
UPLOAD_JS = "upload-1.js"
UPLOAD_CSS = "upload-1.css"
#: Pages carry a signed link: no cache keeps them, no Referer leaks them.
PRIVATE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
}
#: htmx stops polling on this status (and swaps the final fragment in first).
STOP_POLLING = 286

CREATED_MESSAGE = "Send the file to `url` now: every field of `fields`, then the file as `file`."
COMPLETED_MESSAGE = "Thank you! We have your file and are analysing it."
INVALID_MESSAGE = "Please correct the highlighted fields."
NOT_FOUND_MESSAGE = "No upload was found for this link. Check the link, or start a new upload."
NOT_RECEIVED_MESSAGE = "We have not received the file yet. Send it to the upload URL first."
NOT_JSON_MESSAGE = "Send the request as JSON with Content-Type: application/json."
MALFORMED_MESSAGE = "The request body is not valid JSON."
NOT_OBJECT_MESSAGE = "The request body must be a JSON object."
FILE_TYPES = "Choose a CSV, TSV, JSON, JSON Lines or Excel (.xlsx) file."


def _signer() -> URLSafeTimedSerializer:
    secret_key = get_settings().secret_key
    assert secret_key
    return URLSafeTimedSerializer(secret_key, salt="web.uploads")


#: the request header that carries an upload's token to `complete` (the token of its status_url)
UPLOAD_TOKEN_HEADER = "X-Upload-Token"


def upload_token(upload_id: uuid.UUID) -> str:
    return _signer().dumps(upload_id.hex)


def _token_matches(upload_id: uuid.UUID, token: str) -> bool:
    """A token we signed for this upload, within retention (the CRM note links to it)."""
    max_age_s = (get_settings().upload_retention_days + 1) * 24 * 3600
    try:
        return _signer().loads(token, max_age=max_age_s) == upload_id.hex
    except BadSignature:
        return False


def _asset(request: Request, path: str) -> str:
    return f"{static_path(request, path)}?v={asset_version(path)}"


def _links(request: Request, upload_id: uuid.UUID) -> dict[str, str]:
    """The signed status links, on PUBLIC_URL: the page's link ends up in the CRM note."""
    query = f"?token={upload_token(upload_id)}"
    params = {"upload_id": str(upload_id)}
    return {
        "status_url": absolute_url(request, "upload_status", **params) + query,
        "status_page": absolute_url(request, "upload_page_status", **params) + query,
    }


async def upload_page(request: Request) -> Response:
    profile = await load_profile(request)
    context = {
        "email": profile.known.get("email", "") if profile else "",
        "accept": ACCEPT,
        "max_mb": get_settings().upload_max_bytes // 1_000_000,
        "create_url": request.url_for("create_upload").path,
        "upload_js": _asset(request, UPLOAD_JS),
        "upload_css": _asset(request, UPLOAD_CSS),
    }
    return templates.TemplateResponse(
        request, "upload.html", context, headers={"Cache-Control": "no-store"}
    )


async def create_upload(request: Request) -> Response:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        return envelope(415, NOT_JSON_MESSAGE)
    try:
        raw = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError, RecursionError):
        return envelope(400, MALFORMED_MESSAGE)
    if not isinstance(raw, dict):
        return envelope(422, NOT_OBJECT_MESSAGE)
    cleaned, errors = validate_upload_request(raw)
    if errors:
        return envelope(422, INVALID_MESSAGE, errors=errors)
    settings = get_settings()
    upload_id = uuid.uuid4()
    key = object_key(upload_id.hex)
    target = await run_in_threadpool(
        object_store().upload_target,
        key,
        content_type=cleaned["contentType"],
        max_bytes=cleaned["size"],
        ttl_s=settings.upload_url_ttl,
    )
    links = _links(request, upload_id)
    await uploads.create_upload(
        upload_id=upload_id,
        email=cleaned["email"],
        filename=cleaned["filename"],
        content_type=cleaned["contentType"],
        declared_size=cleaned["size"],
        object_key=key,
        expires_at=target.expires_at,
        results_url=links["status_page"],
    )
    data = {
        "upload_id": str(upload_id),
        "url": absolute(target.url),
        "fields": target.fields,
        "expires_at": target.expires_at.isoformat().replace("+00:00", "Z"),
        "status_url": links["status_url"],
        "status_page": links["status_page"],
    }
    return envelope(201, CREATED_MESSAGE, data=data)


def validate_upload_request(raw: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The request's fields cleaned, and a message for each one that is wrong."""
    errors: dict[str, str] = {}
    cleaned: dict[str, Any] = {}
    email = raw.get("email")
    try:
        cleaned["email"] = clean_email(email if isinstance(email, str) else "", {})
        if len(cleaned["email"]) > MAX_EMAIL_CHARS:
            raise InvalidValue(f"Work e-mail must be at most {MAX_EMAIL_CHARS} characters.")
    except InvalidValue as exc:
        errors["email"] = str(exc)
    filename = raw.get("filename")
    family = None
    if not isinstance(filename, str) or not filename.strip():
        errors["filename"] = "Choose a file to upload."
    elif len(filename) > MAX_FILENAME_CHARS or any(ch in filename for ch in "/\\\x00"):
        errors["filename"] = (
            f"The file name must be a plain name of at most {MAX_FILENAME_CHARS} characters."
        )
    else:
        family = claimed_family(filename)
        if family is None:
            errors["filename"] = FILE_TYPES
        cleaned["filename"] = filename.strip()
    content_type = raw.get("contentType")
    if not isinstance(content_type, str) or not content_type.strip():
        errors["contentType"] = "Give the file's content type, like text/csv."
    elif len(content_type) > MAX_CONTENT_TYPE_CHARS:
        errors["contentType"] = (
            f"The content type must be at most {MAX_CONTENT_TYPE_CHARS} characters."
        )
    elif family and content_type.strip().lower() not in CONTENT_TYPES[family]:
        errors["contentType"] = f"{content_type} is not a content type for this kind of file."
    else:
        cleaned["contentType"] = content_type.strip().lower()
    size = raw.get("size")
    limit = get_settings().upload_max_bytes
    if not isinstance(size, int) or isinstance(size, bool):
        errors["size"] = "Give the file's size in bytes, as a whole number."
    elif size < 1:
        errors["size"] = "The file is empty. Choose a file with data in it."
    elif size > limit:
        errors["size"] = (
            f"The file is larger than the {limit / 1_000_000:g} MB limit. "
            "Upload a smaller sample of the data."
        )
    else:
        cleaned["size"] = size
    return cleaned, errors


async def complete_upload(request: Request) -> Response:
    """Queue the analysis of an upload whose sender proves it holds the upload's token.

    The upload id alone reaches the CRM, so the id must not be enough to act on the
    upload; the token comes in a header, never the query string, to stay out of access
    logs. The status links are handed out once, at creation, and not again here.
    """
    row = await _upload_or_none(request.path_params["upload_id"])
    if row is None or not _token_matches(row.id, request.headers.get(UPLOAD_TOKEN_HEADER, "")):
        return envelope(404, NOT_FOUND_MESSAGE)
    if row.status == "failed":
        return envelope(409, row.message or NOT_RECEIVED_MESSAGE)
    if row.status == "pending":
        size = await run_in_threadpool(object_store().size, row.object_key)
        if size is None:
            return envelope(409, NOT_RECEIVED_MESSAGE)
        if await uploads.mark_uploaded(row.id, size):
            # A slow or unreachable Redis must not stall the event loop; the sweeper queues
            # what could not be.
            await run_in_threadpool(enqueue, analyse_upload, row.id)
        row = await uploads.get_upload(row.id) or row
    data = {"upload_id": str(row.id), "status": row.status}
    return envelope(202, COMPLETED_MESSAGE, data=data)


async def upload_status(request: Request) -> Response:
    row = await _authorised(request)
    if row is None:
        return envelope(404, NOT_FOUND_MESSAGE, headers=PRIVATE_HEADERS)
    view = status_view(row, await uploads.get_results(row.id))
    return envelope(200, view.message, data=view.as_data(), headers=PRIVATE_HEADERS)


async def upload_status_page(request: Request) -> Response:
    """The whole page, or for htmx's poll the status fragment (286 once it is final)."""
    row = await _authorised(request)
    headers = {**PRIVATE_HEADERS, "Vary": "HX-Request"}
    if row is None:
        return templates.TemplateResponse(
            request, "upload_missing.html", {"message": NOT_FOUND_MESSAGE}, 404, headers
        )
    view = status_view(row, await uploads.get_results(row.id))
    context = {
        "view": view,
        "poll_url": f"{request.url.path}?token={request.query_params['token']}",
        "upload_css": _asset(request, UPLOAD_CSS),
    }
    if request.headers.get("HX-Request") == "true":
        status_code = STOP_POLLING if view.finished else 200
        return templates.TemplateResponse(
            request, "_upload_status.html", context, status_code, headers
        )
    return templates.TemplateResponse(request, "upload_status.html", context, 200, headers)


async def _authorised(request: Request) -> uploads.Upload | None:
    """The upload, when the request carries its signed token; else None, as if unknown."""
    row = await _upload_or_none(request.path_params["upload_id"])
    token = request.query_params.get("token", "")
    if row is None or not _token_matches(row.id, token):
        return None
    return row


async def _upload_or_none(value: str) -> uploads.Upload | None:
    try:
        upload_id = uuid.UUID(value)
    except ValueError:
        return None
    return await uploads.get_upload(upload_id)


routes = [
    Route("/upload", upload_page, methods=["GET"], name="upload_page"),
    Route("/uploads/{upload_id}", upload_status_page, methods=["GET"], name="upload_page_status"),
    Route("/api/uploads", create_upload, methods=["POST"], name="create_upload"),
    *upload_store.routes,
    Route(
        "/api/uploads/{upload_id}/complete",
        complete_upload,
        methods=["POST"],
        name="complete_upload",
    ),
    Route("/api/uploads/{upload_id}", upload_status, methods=["GET"], name="upload_status"),
]
