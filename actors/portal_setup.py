"""`just hubspot-setup`: create the custom properties the mapping needs, in any portal."""

from __future__ import annotations

import logging
import sys

from actors.services import hubspot_client, property_map
from crm.errors import HubSpotError
from crm.setup import PortalNotReady, set_up_portal


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        changes = set_up_portal(hubspot_client(), property_map())
    except (HubSpotError, PortalNotReady) as exc:
        message = exc.describe() if isinstance(exc, HubSpotError) else str(exc)
        print(f"HubSpot setup failed: {message}", file=sys.stderr)
        return 1
    print(f"HubSpot portal ready ({len(changes)} change(s)).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
