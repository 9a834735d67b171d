"""An upload as the visitor's browser leaves it: the file in the local store, the row
recorded as uploaded, ready for the analysis actor."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

from settings import get_settings
from storage import uploads
from storage.objects import object_key
from storage.uploads import Upload


def stored_upload(data: bytes, filename: str = "sample.csv", email: str = "ann@example.com") -> str:
    upload_id = uuid.uuid4()
    key = object_key(upload_id.hex)
    path = get_settings().upload_path / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    asyncio.run(
        uploads.create_upload(
            upload_id=upload_id,
            email=email,
            filename=filename,
            content_type="text/csv",
            declared_size=len(data),
            object_key=key,
            expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10),
            results_url=f"http://127.0.0.1:8000/uploads/{upload_id}?token=t",
        )
    )
    asyncio.run(uploads.mark_uploaded(upload_id, len(data)))
    return str(upload_id)


def age_upload(upload_id: str, **columns: bool) -> None:
    """Move the upload's last change, and each column named, 400 days into the past."""
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=400)
    changes = {getattr(Upload, name): past for name in columns} | {Upload.updated_at: past}
    Upload.update(changes).where(Upload.id == uuid.UUID(upload_id)).run_sync()
