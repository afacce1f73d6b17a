"""Fixtures for document tests: demo records, sample bytes and upload helpers over the real API."""

from __future__ import annotations

import hashlib
import io
import math

import pytest
from PIL import Image


def png_bytes(width: int = 64, height: int = 48, color: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="PNG")
    return out.getvalue()


def pdf_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (120, 160), "blue").save(out, format="PDF")
    return out.getvalue()


def record_of(table: str, **lookup):
    from apps.records.registry import table_spec

    return table_spec(table).model._default_manager.get(**lookup)


@pytest.fixture
def joe(demo):
    """GardenWorld's business partner Joe Block."""
    return record_of("c_bpartner", name="Joe Block")


@pytest.fixture
def road_runner(demo):
    """Acme's business partner (another tenant)."""
    return record_of("c_bpartner", name="Road Runner")


def idempiere_upload(client, data: bytes, name: str = "report.bin", chunk_size: int = 1024,
                     location: str = "ATTACHMENT") -> str:
    """Upload ``data`` through the iDempiere uploads dialect; returns the uploadId."""
    response = client.post("/api/v1/uploads", {
        "fileName": name, "contentType": "application/octet-stream", "fileSize": len(data),
        "chunkSize": chunk_size, "sha256": hashlib.sha256(data).hexdigest(),
        "uploadLocation": location,
    }, format="json")
    assert response.status_code == 201, response.content
    upload_id = response.json()["uploadId"]
    count = max(math.ceil(len(data) / chunk_size), 1)
    for order in range(1, count + 1):
        piece = data[(order - 1) * chunk_size: order * chunk_size]
        response = client.put(
            f"/api/v1/uploads/{upload_id}/chunks/{order}", piece,
            content_type="application/octet-stream", HTTP_X_TOTAL_CHUNKS=str(count),
            HTTP_X_CONTENT_SHA256=hashlib.sha256(piece).hexdigest(),
        )
        assert response.status_code in (200, 201), response.content
    return upload_id


def body_of(response) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content



# --- authorization matrices: orgs, a world of documents, and "nothing was written" ------------------


@pytest.fixture
def local_storage(settings, tmp_path):
    """The default storage on a temp directory only: access rules do not depend on the backend."""
    storages = dict(settings.STORAGES)
    storages["default"] = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(tmp_path / "media"), "base_url": "/media/"},
    }
    settings.STORAGES = storages
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGE_BACKEND = "local"
    return tmp_path / "media"


@pytest.fixture
def orgs(demo):
    """GardenWorld User writes HQ, only reads Store, and does not see Hidden at all."""
    from apps.accounts.models import Organization, Role, RoleOrgAccess

    role = Role.objects.get(name="GardenWorld User")
    hq = Organization.objects.get(client__name="GardenWorld", value="HQ")
    store, _ = Organization.objects.get_or_create(
        client=hq.client, value="Store", defaults={"name": "Store"}
    )
    hidden, _ = Organization.objects.get_or_create(
        client=hq.client, value="Hidden", defaults={"name": "Hidden"}
    )
    role.is_all_orgs = False
    role.save()
    RoleOrgAccess.objects.update_or_create(role=role, org=hq, defaults={"is_read_only": False})
    RoleOrgAccess.objects.update_or_create(role=role, org=store, defaults={"is_read_only": True})
    RoleOrgAccess.objects.filter(role=role, org=hidden).delete()
    return {"hq": hq, "store": store, "hidden": hidden}


def partner_in(org, value: str):
    """A GardenWorld business partner of ``org``."""
    joe = record_of("c_bpartner", name="Joe Block")
    model = type(joe)
    return model.objects.create(
        client=joe.client, org=org, value=value, name=value, bp_group=joe.bp_group
    )


def written_state(media_root) -> tuple:
    """Row counts of every table a DMS write touches, and the bytes kept in storage."""
    from apps.dms.models import Archive, DMSFile, Image, Thumbnail
    from apps.uploads.models import Batch, StoredFile, UploadChunk, UploadSession

    counts = tuple(
        (model.__name__, model.objects.count())
        for model in (DMSFile, Image, Archive, Thumbnail, StoredFile, UploadSession,
                      UploadChunk, Batch)
    )
    sessions = tuple(UploadSession.objects.order_by("pk").values_list("pk", "state"))
    files = tuple(sorted(
        (str(path.relative_to(media_root)), path.stat().st_size)
        for path in media_root.rglob("*") if path.is_file()
    )) if media_root.exists() else ()
    return counts, sessions, files


def finish_upload_unlinked(dms_file) -> None:
    """Send a pending 4-byte file's two chunks with the completion hooks off: the upload finishes
    but its DMS file is not linked yet (as when the worker is slow)."""
    import io

    from apps.uploads import chunks as upload_chunks
    from apps.uploads import finalize as upload_finalize

    hooks = list(upload_finalize._completion_hooks)
    upload_finalize._completion_hooks.clear()
    try:
        for index, piece in enumerate((b"ab", b"cd")):
            upload_chunks.chunk_accept(session=dms_file.upload_session,
                                         stream=io.BytesIO(piece), length=2, index=index)
    finally:
        upload_finalize._completion_hooks[:] = hooks
