"""The CRM service the actors use, built once per process from the settings.

Every HubSpot call passes the shared circuit breaker and the shared rate limiter, both
kept in the Redis every process sees.
"""

from __future__ import annotations

import functools

from actors.audit import CallAudit
from actors.broker import redis_client
from actors.retry_policy import repeat_delays_s, write_settle_s
from crm.breaker import CircuitBreaker
from crm.client import HubSpotClient
from crm.mapping import PropertyMap
from crm.ratelimit import RateLimiter
from crm.service import CRMService
from settings import get_settings


@functools.cache
def property_map() -> PropertyMap:
    return PropertyMap.load()


@functools.cache
def circuit_breaker() -> CircuitBreaker:
    settings = get_settings()
    return CircuitBreaker(
        redis_client(),
        threshold=settings.hubspot_cb_threshold,
        failure_rate=settings.hubspot_cb_failure_rate,
        window_s=settings.hubspot_cb_window,
        open_timeout_s=settings.hubspot_cb_timeout,
    )


@functools.cache
def rate_limiter() -> RateLimiter:
    settings = get_settings()
    return RateLimiter(
        redis_client(),
        burst_limit=settings.hubspot_burst_limit,
        window_s=settings.hubspot_burst_window,
        daily_limit=settings.hubspot_daily_limit,
        # A call must not wait past the sync's lease: another worker could take the row
        # over meanwhile and repeat a write this one is about to make.
        max_wait_s=min(30.0, settings.sync_lease / 4),
    )


@functools.cache
def call_audit() -> CallAudit:
    return CallAudit()


@functools.cache
def hubspot_client() -> HubSpotClient:
    settings = get_settings()
    return HubSpotClient(
        settings.hubspot_token,
        settings.hubspot_api_url,
        timeout_s=settings.hubspot_timeout,
        # The budget first: a half-open breaker's probe is let through only for a call
        # that will be made, so no probe is left waiting for an answer that never comes.
        hooks=[rate_limiter(), circuit_breaker(), call_audit()],
    )


@functools.cache
def crm_service() -> CRMService:
    settings = get_settings()
    template_id = settings.hubspot_event_template_id if settings.hubspot_app_id else None
    return CRMService(
        hubspot_client(),
        property_map(),
        settings.hubspot_owner_id,
        template_id,
        settings.privacy_policy_version,
        write_settle_s=write_settle_s(),
        retry_delays_s=repeat_delays_s(),
    )
