"""Where uploaded files live: S3 (or an S3-compatible server), or a local directory.

Both give the browser the same thing, a URL and form fields to POST with the file last,
and both bind it to one object key, one content type, a size range and a short expiry:
S3 through a presigned POST policy, the local store through a signed policy that the
app's own upload endpoint checks (and that works once: the key cannot be written twice).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import io
import os
import re
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from itsdangerous import BadSignature, URLSafeSerializer

from settings import get_settings

#: Object keys we make: a fixed prefix and an upload id; nothing a visitor typed.
KEY_PATTERN = re.compile(r"uploads/[0-9a-f]{32}")
#: Where the local store's upload endpoint is mounted (the web layer serves it).
LOCAL_UPLOAD_PATH = "/api/uploads/store"
#: Bytes read from S3 per request of the stream.
READ_CHUNK_BYTES = 1024 * 1024


@dataclass(frozen=True)
class UploadTarget:
    """A POST target: `url`, then every one of `fields`, then the file as `file`."""

    url: str
    fields: dict[str, str]
    expires_at: dt.datetime


class ObjectStore(Protocol):
    def upload_target(
        self, key: str, *, content_type: str, max_bytes: int, ttl_s: float
    ) -> UploadTarget: ...

    def size(self, key: str) -> int | None:
        """The stored object's size in bytes; None when nothing is there."""

    def open(self, key: str) -> BinaryIO:
        """The object as a stream of bytes, read as it is consumed."""

    def delete(self, key: str) -> None:
        """Delete the object; deleting one that is gone is not an error."""


def object_key(upload_id_hex: str) -> str:
    return f"uploads/{upload_id_hex}"


@functools.cache
def object_store() -> ObjectStore:
    """The store the settings name: S3 with S3_BUCKET, else UPLOAD_DIR."""
    settings = get_settings()
    if settings.s3_bucket:
        return S3ObjectStore(settings.s3_bucket, settings.s3_endpoint_url, settings.s3_region)
    assert settings.secret_key
    return LocalObjectStore(settings.upload_path, settings.secret_key)


def _expiry(ttl_s: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=int(ttl_s))


class S3ObjectStore:
    def __init__(self, bucket: str, endpoint_url: str | None, region: str | None) -> None:
        import boto3
        from botocore.config import Config

        # An S3-compatible server on its own host name has no bucket subdomains.
        addressing = {"addressing_style": "path"} if endpoint_url else {}
        self.bucket = bucket
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            config=Config(signature_version="s3v4", s3=addressing),
        )

    def upload_target(
        self, key: str, *, content_type: str, max_bytes: int, ttl_s: float
    ) -> UploadTarget:
        expires_at = _expiry(ttl_s)
        post = self.client.generate_presigned_post(
            self.bucket,
            key,
            Fields={"Content-Type": content_type},
            Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, max_bytes]],
            ExpiresIn=int(ttl_s),
        )
        return UploadTarget(url=post["url"], fields=dict(post["fields"]), expires_at=expires_at)

    def size(self, key: str) -> int | None:
        from botocore.exceptions import ClientError

        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return int(head["ContentLength"])

    def open(self, key: str) -> BinaryIO:
        body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        return io.BufferedReader(_BodyReader(body), READ_CHUNK_BYTES)  # type: ignore[return-value]

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)


class _BodyReader(io.RawIOBase):
    """botocore's streaming body as a raw stream, so `io` can buffer and decode it."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._body.close()
        super().close()


class UploadRejected(Exception):
    """The local upload endpoint refuses a post; `status_code` and a sentence to show."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


@dataclass(frozen=True)
class LocalPolicy:
    key: str
    content_type: str
    max_bytes: int
    expires_at_s: int


EXPIRED = "This upload link has expired. Start the upload again."
INVALID = "This upload link is not valid. Start the upload again."
USED = "This upload link has already been used. Start a new upload for another file."
TOO_LARGE = "The file is larger than the upload allows."
EMPTY = "The file is empty. Choose a file with data in it."


class LocalObjectStore:
    """Files under `root`, written only through a signed, expiring, single-use policy."""

    def __init__(self, root: Path, secret_key: str) -> None:
        self.root = root
        self._signer = URLSafeSerializer(secret_key, salt="storage.objects.local")

    def upload_target(
        self, key: str, *, content_type: str, max_bytes: int, ttl_s: float
    ) -> UploadTarget:
        expires_at = _expiry(ttl_s)
        policy = self._signer.dumps(
            {"key": key, "ct": content_type, "max": max_bytes, "exp": int(expires_at.timestamp())}
        )
        fields = {"key": key, "Content-Type": content_type, "policy": policy}
        return UploadTarget(url=LOCAL_UPLOAD_PATH, fields=fields, expires_at=expires_at)

    def verify(self, fields: Mapping[str, str]) -> LocalPolicy:
        """The policy the posted fields carry, when it is ours, current and matches them."""
        try:
            data = self._signer.loads(fields.get("policy", ""))
            policy = LocalPolicy(data["key"], data["ct"], int(data["max"]), int(data["exp"]))
        except (BadSignature, KeyError, TypeError, ValueError):
            raise UploadRejected(403, INVALID) from None
        if time.time() > policy.expires_at_s:
            raise UploadRejected(403, EXPIRED)
        if fields.get("key") != policy.key or fields.get("Content-Type") != policy.content_type:
            raise UploadRejected(403, INVALID)
        if self._path(policy.key).exists():
            raise UploadRejected(409, USED)
        return policy

    @contextlib.contextmanager
    def receive(self, policy: LocalPolicy) -> Any:
        """A `LocalWrite` for the file's bytes; committed only if the block ends cleanly."""
        target = self._path(policy.key)
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, prefix=".part-", delete=False) as part:
            try:
                write = LocalWrite(part, policy.max_bytes)
                yield write
                part.close()
                if write.size == 0:
                    raise UploadRejected(400, EMPTY)
                try:
                    # A hard link fails if the key exists: two posts of one policy store one.
                    os.link(part.name, target)
                except FileExistsError:
                    raise UploadRejected(409, USED) from None
            finally:
                os.unlink(part.name)

    def size(self, key: str) -> int | None:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError:
            return None

    def open(self, key: str) -> BinaryIO:
        return self._path(key).open("rb")

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def _path(self, key: str) -> Path:
        if not KEY_PATTERN.fullmatch(key):
            raise UploadRejected(403, INVALID)
        return self.root / key


class LocalWrite:
    """Bytes of one local upload, refused past the policy's size."""

    def __init__(self, handle: Any, max_bytes: int) -> None:
        self._handle = handle
        self._max_bytes = max_bytes
        self.size = 0

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self._max_bytes:
            raise UploadRejected(413, TOO_LARGE)
        self._handle.write(data)
