"""Object storage: S3 presigned POSTs against a real S3-compatible server (moto's, on
loopback), and the local store's signed, expiring, single-use upload policy."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from storage.objects import (
    LOCAL_UPLOAD_PATH,
    LocalObjectStore,
    S3ObjectStore,
    UploadRejected,
    object_key,
)
from tests.s3 import s3_store

KEY = object_key("0123456789abcdef0123456789abcdef")
OTHER_KEY = object_key("fedcba9876543210fedcba9876543210")
DATA = b"id,name\n1,Ann\n2,Bob\n"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3ObjectStore]:
    with s3_store(monkeypatch) as store:
        yield store


@pytest.fixture
def local(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore(tmp_path, "a-secret-key-for-the-tests")


def post(target, data: bytes = DATA, **field_changes: str) -> httpx2.Response:
    fields = target.fields | field_changes
    return httpx2.post(target.url, data=fields, files={"file": ("sample.csv", data, "text/csv")})


def test_a_presigned_post_stores_the_file_in_the_bucket(s3: S3ObjectStore) -> None:
    target = s3.upload_target(KEY, content_type="text/csv", max_bytes=1000, ttl_s=60)

    answer = post(target)

    assert answer.status_code == 204
    assert s3.size(KEY) == len(DATA)
    with s3.open(KEY) as stream:
        assert stream.read() == DATA
    s3.delete(KEY)
    assert s3.size(KEY) is None


def test_the_presigned_policy_binds_key_type_size_and_expiry(s3: S3ObjectStore) -> None:
    # moto stores what it is sent without checking the policy; S3 checks every condition,
    # so what matters is that they are in the signed policy.
    target = s3.upload_target(KEY, content_type="text/csv", max_bytes=1000, ttl_s=60)

    policy = json.loads(base64.b64decode(target.fields["policy"]))

    conditions = policy["conditions"]
    assert {"key": KEY} in conditions and {"bucket": s3.bucket} in conditions
    assert {"Content-Type": "text/csv"} in conditions
    assert ["content-length-range", 1, 1000] in conditions
    expiration = dt.datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    assert abs((expiration - target.expires_at).total_seconds()) < 5
    assert target.expires_at - dt.datetime.now(dt.UTC) <= dt.timedelta(seconds=60)
    assert {"x-amz-signature", "x-amz-credential", "x-amz-algorithm"} <= set(target.fields)
    assert target.url.startswith("http://127.0.0.1:")


def test_a_missing_object_has_no_size(s3: S3ObjectStore) -> None:
    assert s3.size(OTHER_KEY) is None


def _receive(store: LocalObjectStore, fields: dict[str, str], data: bytes = DATA) -> None:
    policy = store.verify(fields)
    with store.receive(policy) as write:
        write.write(data)


def test_the_local_store_takes_a_file_through_its_policy(local: LocalObjectStore) -> None:
    target = local.upload_target(KEY, content_type="text/csv", max_bytes=1000, ttl_s=60)

    _receive(local, target.fields)

    assert target.url == LOCAL_UPLOAD_PATH
    assert local.size(KEY) == len(DATA)
    with local.open(KEY) as stream:
        assert stream.read() == DATA


def test_a_local_policy_works_once(local: LocalObjectStore) -> None:
    target = local.upload_target(KEY, content_type="text/csv", max_bytes=1000, ttl_s=60)
    _receive(local, target.fields)

    with pytest.raises(UploadRejected) as caught:
        _receive(local, target.fields, b"other,data\n")

    assert caught.value.status_code == 409
    with local.open(KEY) as stream:
        assert stream.read() == DATA


def test_a_local_policy_is_refused_after_it_expires(
    local: LocalObjectStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = local.upload_target(KEY, content_type="text/csv", max_bytes=1000, ttl_s=60)
    later = target.expires_at.timestamp() + 1
    monkeypatch.setattr("storage.objects.time.time", lambda: later)

    with pytest.raises(UploadRejected) as caught:
        local.verify(target.fields)

    assert caught.value.status_code == 403 and "expired" in caught.value.message


@pytest.mark.parametrize(
    "changes",
    [
        {"key": OTHER_KEY},
        {"Content-Type": "application/json"},
        {"policy": "forged"},
        {"key": "../../etc/passwd"},
    ],
)
def test_a_local_policy_is_good_only_for_its_own_key_and_type(
    local: LocalObjectStore, changes: dict[str, str]
) -> None:
    target = local.upload_target(KEY, content_type="text/csv", max_bytes=1000, ttl_s=60)

    with pytest.raises(UploadRejected) as caught:
        local.verify(target.fields | changes)

    assert caught.value.status_code == 403


def test_more_bytes_than_the_policy_allows_leave_nothing_behind(
    local: LocalObjectStore, tmp_path: Path
) -> None:
    target = local.upload_target(KEY, content_type="text/csv", max_bytes=10, ttl_s=60)

    with pytest.raises(UploadRejected) as caught:
        _receive(local, target.fields, b"x" * 11)

    assert caught.value.status_code == 413
    assert local.size(KEY) is None
    assert not [path for path in tmp_path.rglob("*") if path.is_file()]


def test_an_empty_file_is_refused(local: LocalObjectStore) -> None:
    target = local.upload_target(KEY, content_type="text/csv", max_bytes=10, ttl_s=60)

    with pytest.raises(UploadRejected) as caught:
        _receive(local, target.fields, b"")

    assert caught.value.status_code == 400 and local.size(KEY) is None
