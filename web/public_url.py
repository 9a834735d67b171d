"""Absolute links on PUBLIC_URL: the Host header is the visitor's to choose, so never used.

A link that leaves the page (the HubSpot note, the API's `status_url`) built from the
request would point wherever the sender's Host header said: a phishing link in the CRM.
"""

from __future__ import annotations

import logging

from starlette.requests import Request

from settings import Settings, get_settings

log = logging.getLogger(__name__)


def absolute_url(request: Request, name: str, **path_params: str) -> str:
    """The route's URL on the site's configured origin."""
    return get_settings().site_url + request.url_for(name, **path_params).path


def absolute(path: str) -> str:
    """A path of this site (or an absolute URL elsewhere, returned as it is) made absolute."""
    if path.startswith("/") and not path.startswith("//"):
        return get_settings().site_url + path
    return path


def warn_if_unset(settings: Settings) -> None:
    """In production an unset PUBLIC_URL sends links to HOST:PORT, which visitors rarely reach."""
    if settings.public_url is None and not settings.embedded:
        log.warning(
            "PUBLIC_URL is not set: links in HubSpot notes and API answers point to %s. "
            "Set PUBLIC_URL to the address visitors use, like https://leads.example.com.",
            settings.site_url,
        )
