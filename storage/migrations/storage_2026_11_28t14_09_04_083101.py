from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Varchar

ID = "2026-11-28T14:09:04:083101"
VERSION = "1.38.0"
DESCRIPTION = ""


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="storage", description=DESCRIPTION)

    manager.alter_column(
        table_class_name="Submission",
        tablename="submissions",
        column_name="hubspot_activity_id",
        db_column_name="hubspot_activity_id",
        params={"length": 64},
        old_params={"length": 32},
        column_class=Varchar,
        old_column_class=Varchar,
        schema=None,
    )

    manager.alter_column(
        table_class_name="HubSpotCall",
        tablename="hubspot_calls",
        column_name="object_id",
        db_column_name="object_id",
        params={"length": 64},
        old_params={"length": 32},
        column_class=Varchar,
        old_column_class=Varchar,
        schema=None,
    )

    manager.alter_column(
        table_class_name="Upload",
        tablename="uploads",
        column_name="hubspot_activity_id",
        db_column_name="hubspot_activity_id",
        params={"length": 64},
        old_params={"length": 32},
        column_class=Varchar,
        old_column_class=Varchar,
        schema=None,
    )

    return manager
