"""``Accept`` is a preference: a client asking for bytes gets them, a JSON answer stays JSON, an
error stays a problem body; never a 406 (RFC 9110 §12.5.1 lets a server disregard Accept)."""

from __future__ import annotations

import base64

import pytest

from apps.erp.models import BPartner


@pytest.mark.parametrize("storage", ["local"], indirect=True)
def test_octet_stream_accept_gets_an_attachments_bytes(garden_admin, storage):
    joe = BPartner.objects.get(client__value="GardenWorld", name="Joe Block")
    url = f"/api/v1/models/c_bpartner/{joe.pk}/attachments"
    added = garden_admin.post(
        url, {"name": "note.txt", "data": base64.b64encode(b"hello").decode()}, format="json"
    )
    assert added.status_code == 201, added.content
    response = garden_admin.get(f"{url}/note.txt", HTTP_ACCEPT="application/octet-stream")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"hello"
    zipped = garden_admin.get(f"{url}/zip", HTTP_ACCEPT="application/octet-stream")
    assert (zipped.status_code, zipped["Content-Type"]) == (200, "application/zip")


@pytest.mark.parametrize("accept", ["application/xml", "application/yaml", "text/html;q=0.9"])
def test_a_json_answer_stays_json(garden_admin, accept):
    response = garden_admin.get("/api/v1/models", HTTP_ACCEPT=accept)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    assert "models" in response.json()


def test_an_error_stays_a_problem_body(garden_admin):
    response = garden_admin.get("/api/v1/models/nope", HTTP_ACCEPT="application/octet-stream")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert {"title", "status", "detail"} <= set(response.json())
