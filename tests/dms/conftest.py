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

