"""The one settings object, read once from the environment.

With no environment at all the product runs embedded: SQLite, an in-process broker and
worker on fakeredis, local file storage and the HubSpot sandbox. Each variable below
switches one part to the real thing.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import secrets
import sys
from pathlib import Path
from typing import Annotated
from urllib.parse import urlparse

from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent

#: The token the embedded HubSpot sandbox accepts; never a real credential.
SANDBOX_TOKEN = "sandbox-token"


#: Names the host itself answers to: health checks and `curl` on the box still get in.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
#: A DNS name or IPv4 address, optionally with a leading `*.` wildcard.
_HOST_PATTERN = re.compile(
    r"(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*"
)
#: A CSP host source: http(s) scheme, a host (maybe `*.`), an optional port, nothing more.
_FRAME_SOURCE_PATTERN = re.compile(r"https?://(\*\.)?[A-Za-z0-9.-]+(:[0-9]{1,5})?")


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


class ConfigError(Exception):
    """A setting has a value the product cannot run with."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore")

    # HubSpot, as in the spec's Environment Variables table.
    hubspot_api_key: Annotated[
        str | None,
        Field(validation_alias=AliasChoices("HUBSPOT_API_KEY", "HUBSPOT_ACCESS_TOKEN")),
    ] = None
    hubspot_api_url: str = "https://api.hubapi.com"
    hubspot_timeout: float = Field(10.0, gt=0, description="seconds per HubSpot request")
    hubspot_max_retries: int = Field(3, ge=0)
    hubspot_retry_delay: int = Field(1000, ge=0, description="first retry delay, milliseconds")
    hubspot_max_retry_delay: int = Field(60_000, ge=1, description="retry delay cap, milliseconds")
    hubspot_cb_threshold: int = Field(
        5, ge=1, description="failures within the window that may open the breaker"
    )
    hubspot_cb_failure_rate: float = Field(
        0.5,
        gt=0,
        le=1,
        description="share of the window's latest calls (40 at most) that must fail, as "
        "well as the threshold, to open the breaker",
    )
    hubspot_cb_timeout: float = Field(120.0, gt=0, description="seconds the breaker stays open")
    hubspot_cb_window: float = Field(60.0, gt=0, description="seconds calls are judged over")
    hubspot_owner_id: str | None = None
    hubspot_portal_id: str | None = None
    hubspot_app_id: str | None = None
    hubspot_event_template_id: str | None = None
    hubspot_burst_limit: int = Field(100, ge=1, description="calls per burst window")
    hubspot_burst_window: float = Field(10.0, gt=0, description="burst window, seconds")
    hubspot_daily_limit: int = Field(250_000, ge=1, description="calls per day")

    # Sync.
    sync_lease: float = Field(300.0, gt=0, description="seconds a worker holds a submission")
    sweep_interval: float = Field(30.0, gt=0, description="seconds between stale-row sweeps")
    sweep_grace: float = Field(90.0, ge=0, description="seconds a row may wait before a sweep")

    # Infrastructure.
    database_url: str = f"sqlite:///{ROOT / 'var' / 'leadsync.sqlite'}"
    redis_url: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    sandbox_port: int = Field(8001, ge=0, le=65535)

    # Monitoring.
    alert_webhook_url: str | None = Field(None, description="POSTed a JSON body per alert")

    # Web.
    secret_key: str | None = Field(None, description="signs cookies and CSRF tokens")
    max_body_bytes: int = Field(64 * 1024, gt=0)
    trusted_proxies: str = Field(
        "",
        description="comma-separated proxy IPs/CIDRs trusted "
        "for X-Forwarded-For; empty: use the socket peer",
    )

    # Public address, allowed hosts and framing. Every absolute
    # link the product writes (the HubSpot note, the API's status links) is built on
    # PUBLIC_URL, never on the request's Host header, which the visitor chooses.
    public_url: str | None = Field(
        None,
        description="the site's origin as visitors reach it, like https://leads.example.com; "
        "unset: http://HOST:PORT",
    )
    allowed_hosts: str | None = Field(
        None,
        description="comma-separated Host names served (*.example.com matches subdomains); "
        "unset: PUBLIC_URL's host and loopback names, or * without PUBLIC_URL",
    )
    frame_ancestors: str = Field(
        "'none'",
        description="CSP frame-ancestors of the visitor pages: 'none', 'self' and/or "
        "https:// origins allowed to frame them; the dashboard is never framed",
    )

    # Admin dashboard.
    admin_session_ttl: float = Field(
        8 * 3600.0, gt=0, description="seconds an idle admin session stays signed in"
    )
    admin_session_max_age: float = Field(
        24 * 3600.0, gt=0, description="seconds before an admin must sign in again"
    )
    admin_login_rate_limit: int = Field(10, ge=1, description="sign-in attempts per IP per window")
    admin_login_rate_window: float = Field(900.0, gt=0, description="seconds")

    # Hostile visitors (#11): sign-in limited per account as well as per address.
    admin_login_account_limit: int = Field(
        5,
        ge=1,
        description="failed sign-ins for one username, from any address, per "
        "ADMIN_LOGIN_RATE_WINDOW before that username is locked until the window ends",
    )
    metrics_token: str | None = Field(
        None, description="bearer token /metrics requires; unset: /metrics is open"
    )

    # Visitor-side protection.
    recaptcha_secret: str | None = Field(None, description="reCAPTCHA v3 secret; unset: off")
    recaptcha_site_key: str | None = None
    recaptcha_min_score: float = Field(0.5, ge=0, le=1)
    recaptcha_verify_url: str = "https://www.google.com/recaptcha/api/siteverify"
    submission_rate_limit: int = Field(
        10, ge=0, description="submissions per IP per window; 0: off"
    )
    submission_rate_window: float = Field(3600.0, gt=0, description="seconds")

    # Forms.
    draft_ttl: float = Field(
        7 * 24 * 3600.0, gt=0, description="seconds an unfinished form is kept"
    )
    privacy_policy_version: str = "2026-11"

    # Sample-data uploads. With S3_BUCKET set the browser posts files straight to S3 (or an
    # S3-compatible server at S3_ENDPOINT_URL; credentials from boto3's usual chain); without
    # it they go to UPLOAD_DIR through the app's own signed upload endpoint.
    s3_bucket: str | None = Field(None, description="bucket for uploads; unset: UPLOAD_DIR")
    s3_endpoint_url: str | None = Field(None, description="S3-compatible server; unset: AWS")
    s3_region: str | None = Field(None, description="the bucket's region; unset: boto3's")
    upload_dir: str = Field("var/uploads", description="local store; relative to the project")
    upload_max_bytes: int = Field(250_000_000, gt=0, description="largest file, bytes")
    upload_url_ttl: float = Field(
        600.0, gt=0, le=7 * 24 * 3600, description="seconds an upload URL can be used"
    )
    upload_retention_days: float = Field(
        30.0, gt=0, description="days files and their analyses are kept"
    )

    # Analysis of uploads. The analysis looks at its clock as it reads, and a file
    # that takes longer fails with a message; kept under the worker's hard 10-minute limit.
    analysis_time_limit_s: float = Field(
        120.0,
        gt=0,
        lt=600,
        description="seconds one analysis may take before the upload fails as too slow",
    )

    # Worker threads of upload analysis, apart from lead sync's (actors/analysis_workers.py).
    analysis_worker_threads: int = Field(
        2,
        ge=1,
        le=64,
        description="threads per worker process that analyse uploads, and only that: two, so "
        "one slow file does not hold up every other visitor's; few, as analysis is CPU-bound "
        "under Python's GIL and each one holds its own read buffers",
    )

    @field_validator("hubspot_api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("s3_endpoint_url")
    @classmethod
    def _optional_http_url(cls, value: str | None) -> str | None:
        if value and urlparse(value).scheme not in ("http", "https"):
            raise ValueError("must be an http:// or https:// URL")
        return value or None

    @field_validator("public_url")
    @classmethod
    def _origin(cls, value: str | None) -> str | None:
        if not value:
            return None
        parsed = urlparse(value)
        if (
            parsed.scheme not in ("http", "https")
            or not parsed.hostname
            or parsed.username is not None
            or parsed.path not in ("", "/")
            or parsed.params
            or parsed.query
            or parsed.fragment
        ):
            raise ValueError(
                "must be the site's origin, like https://leads.example.com, "
                "with no path, query or password"
            )
        return value.rstrip("/")

    @field_validator("allowed_hosts")
    @classmethod
    def _host_names(cls, value: str | None) -> str | None:
        if value is None:
            return None
        names = _split(value)
        if not names:
            raise ValueError("name at least one host, or * for any")
        for name in names:
            if name != "*" and not _HOST_PATTERN.fullmatch(name):
                raise ValueError(
                    f"{name!r} is not a host name; give names like leads.example.com "
                    "or *.example.com, without scheme or port"
                )
        return value

    @field_validator("frame_ancestors")
    @classmethod
    def _frame_sources(cls, value: str) -> str:
        sources = value.split()
        if sources == ["'none'"]:
            return value
        for source in sources:
            if source != "'self'" and not _FRAME_SOURCE_PATTERN.fullmatch(source):
                raise ValueError(
                    f"{source!r} is not allowed; give 'none' alone, or 'self' and "
                    "https:// origins separated by spaces"
                )
        if not sources:
            raise ValueError("give 'none', or 'self' and https:// origins")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        for item in filter(None, (part.strip() for part in value.split(","))):
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or network") from None
        return value

    @field_validator("database_url")
    @classmethod
    def _database_scheme(cls, value: str) -> str:
        if urlparse(value).scheme not in ("sqlite", "postgres", "postgresql"):
            raise ValueError("must start with sqlite:/// or postgres://")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value and urlparse(value).scheme not in ("redis", "rediss", "unix"):
            raise ValueError("must start with redis:// or rediss://")
        return value or None

    @model_validator(mode="after")
    def _secret_key(self) -> Settings:
        if self.secret_key is None:
            if not self.embedded:
                raise ValueError("SECRET_KEY must be set when REDIS_URL is (production)")
            # Embedded runs are one process: a fresh key only logs visitors out on restart.
            self.secret_key = secrets.token_urlsafe(32)
        elif len(self.secret_key) < 16:
            raise ValueError("SECRET_KEY must be at least 16 characters")
        return self

    @property
    def site_url(self) -> str:
        """The origin absolute links start with: PUBLIC_URL, else where `just run` listens."""
        if self.public_url:
            return self.public_url
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def trusted_hosts(self) -> list[str]:
        """The Host header values served. Without PUBLIC_URL nothing says which name the
        site has (`just run` is reached as localhost, 127.0.0.1 or a LAN address), so any
        is; links never use the Host header, so a forged one only reaches its sender."""
        if self.allowed_hosts is not None:
            return _split(self.allowed_hosts)
        if self.public_url:
            host = urlparse(self.public_url).hostname
            assert host  # the validator made sure
            return [host, *LOOPBACK_HOSTS]
        return ["*"]

    @property
    def uses_sandbox(self) -> bool:
        """No HubSpot token configured: the embedded sandbox stands in for HubSpot."""
        return not self.hubspot_api_key

    @property
    def embedded(self) -> bool:
        """No Redis configured: broker and worker run inside the web process."""
        return self.redis_url is None

    @property
    def hubspot_token(self) -> str:
        return self.hubspot_api_key or SANDBOX_TOKEN

    @property
    def upload_path(self) -> Path:
        """UPLOAD_DIR as an absolute path; a relative one is taken from the project folder."""
        return ROOT / self.upload_dir


def load_settings() -> Settings:
    """Read the environment, turning pydantic's report into one line naming the variable."""
    try:
        return Settings()
    except ValidationError as exc:
        error = exc.errors()[0]
        message = error["msg"].removeprefix("Value error, ")
        if error["loc"]:
            message = f"{str(error['loc'][0]).upper()}: {message}"
        # The value itself is left out: it may be a credential or a URL with a password.
        raise ConfigError(message) from None


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings; a bad value stops start-up with a one-line message."""
    try:
        return load_settings()
    except ConfigError as exc:
        sys.exit(f"Configuration error: {exc}")
