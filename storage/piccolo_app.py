"""Piccolo's view of the storage package: its tables and migrations."""

from __future__ import annotations

from pathlib import Path

from piccolo.conf.apps import AppConfig

from storage.admin import AdminAction, AdminSession
from storage.drafts import Draft
from storage.tables import Alert, HubSpotCall, Submission, SyncBatchMember
from storage.uploads import Upload, UploadAnalysis

APP_CONFIG = AppConfig(
    app_name="storage",
    migrations_folder_path=str(Path(__file__).resolve().parent / "migrations"),
    table_classes=[
        Submission,
        HubSpotCall,
        Alert,
        Draft,
        Upload,
        UploadAnalysis,
        AdminSession,
        AdminAction,
        SyncBatchMember,
    ],
    migration_dependencies=[],
    commands=[],
)
