"""Absolute links start with PUBLIC_URL; production without it is warned about at start-up."""

from __future__ import annotations

import logging

import pytest

from settings import get_settings
from web.app import create_app
from web.public_url import absolute


def test_production_without_public_url_warns_at_start_up(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(get_settings(), "redis_url", "redis://127.0.0.1:6379/0")

    with caplog.at_level(logging.WARNING, logger="web.public_url"):
        create_app()

    [record] = caplog.records
    assert "Set PUBLIC_URL" in record.getMessage()


@pytest.mark.parametrize(("redis_url", "public_url"), [(None, None), ("redis://x", "https://a.b")])
def test_embedded_runs_and_a_set_public_url_start_quietly(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    redis_url: str | None,
    public_url: str | None,
) -> None:
    monkeypatch.setattr(get_settings(), "redis_url", redis_url)
    monkeypatch.setattr(get_settings(), "public_url", public_url)

    with caplog.at_level(logging.WARNING, logger="web.public_url"):
        create_app()

    assert caplog.records == []


def test_a_path_of_the_site_is_made_absolute_and_another_sites_url_is_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(get_settings(), "public_url", "https://leads.example.com")

    assert absolute("/api/uploads/store") == "https://leads.example.com/api/uploads/store"
    assert absolute("https://bucket.s3.amazonaws.com/") == "https://bucket.s3.amazonaws.com/"
    assert absolute("//evil.example/x") == "//evil.example/x"
