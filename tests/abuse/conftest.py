"""The dashboard's fixtures (an admin account, the app with it signed in), shared from there."""

from __future__ import annotations

from tests.web.admin.conftest import admin, admin_account, fast_hashing

__all__ = ["admin", "admin_account", "fast_hashing"]
