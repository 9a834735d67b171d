"""Which paths are HubSpot's API and which are the sandbox's own pages.

The sandbox's own pages (``/`` and ``/_sandbox/*``) need no token, are never faulted
(so a test can always reach the controls) and do not count as API traffic.
"""

from __future__ import annotations


def is_public(path: str) -> bool:
    return path == "/" or path.startswith("/_sandbox/")
