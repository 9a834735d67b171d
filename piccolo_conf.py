"""Piccolo's configuration: the engine comes from DATABASE_URL via the one settings object."""

from __future__ import annotations

from piccolo.conf.apps import AppRegistry

from settings import get_settings
from storage.database import engine_for

DB = engine_for(get_settings().database_url)

APP_REGISTRY = AppRegistry(apps=["storage.piccolo_app", "piccolo.apps.user.piccolo_app"])
