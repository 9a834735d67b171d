"""The Content-Security-Policy lets the upload page reach S3 when files go there, and no more."""

from __future__ import annotations

import pytest

from settings import get_settings
from web.security_headers import content_security_policy, upload_origins


def _connect_src(monkeypatch: pytest.MonkeyPatch, **settings: str | None) -> str:
    for name, value in settings.items():
        monkeypatch.setattr(get_settings(), name, value)
    policy = content_security_policy(connect_sources=upload_origins(get_settings()))
    [directive] = [d.strip() for d in policy.split(";") if d.strip().startswith("connect-src")]
    return directive


def test_the_local_store_needs_nothing_beyond_the_site(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _connect_src(monkeypatch, s3_bucket=None) == "connect-src 'self'"


def test_an_s3_compatible_server_is_allowed_by_its_origin(monkeypatch: pytest.MonkeyPatch) -> None:
    connect_src = _connect_src(
        monkeypatch, s3_bucket="uploads", s3_endpoint_url="https://minio.internal:9000/x"
    )

    assert connect_src == "connect-src 'self' https://minio.internal:9000"


def test_aws_is_allowed_by_the_buckets_own_host_names(monkeypatch: pytest.MonkeyPatch) -> None:
    connect_src = _connect_src(
        monkeypatch, s3_bucket="uploads", s3_endpoint_url=None, s3_region="eu-west-1"
    )

    assert connect_src == (
        "connect-src 'self' https://uploads.s3.amazonaws.com "
        "https://uploads.s3.eu-west-1.amazonaws.com"
    )
