"""Twake files: single and chunked uploads with thumbnails, metadata, download, delete."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.accounts.models import Client

from .conftest import body_of, pdf_bytes, png_bytes

pytestmark = pytest.mark.django_db(transaction=True)


def _base(client_ref):
    return f"/internal/services/files/v1/companies/{client_ref}/files"


@pytest.fixture
def garden(demo):
    return Client.objects.get(name="GardenWorld")


def test_single_upload_with_thumbnails(garden_user, acme_admin, garden, storage):
    data = png_bytes(640, 320)
    response = garden_user.post(
        _base(garden.pk) + "?thumbnail_sync=1", {"file": SimpleUploadedFile("pic.png", data, "image/png")}, format="multipart"
    )
    assert response.status_code == 200, response.content
    resource = response.json()["resource"]
    assert resource["company_id"] == str(garden.uid)
    assert resource["metadata"] == {"name": "pic.png", "mime": "image/png",
                                    "thumbnails_status": "done"}
    assert resource["upload_data"] == {"size": len(data), "chunks": 1}
    [thumb] = resource["thumbnails"]
    assert (thumb["index"], thumb["width"], thumb["height"]) == (0, 256, 128)
    # DESIGN §8: the resource and thumbnail keys, exactly.
    assert set(resource) == {"id", "company_id", "user_id", "created_at", "updated_at", "metadata",
                             "thumbnails", "upload_data"}
    assert set(thumb) == {"index", "id", "type", "size", "width", "height", "url"}
    assert thumb["type"] == "image/png" and thumb["size"] > 0
    assert resource["user_id"] and isinstance(resource["created_at"], int)
    assert resource["updated_at"] >= resource["created_at"]

    file_url = f"{_base(garden.uid)}/{resource['id']}"
    got = garden_user.get(thumb["url"])
    assert got.status_code == 200 and body_of(got).startswith(b"\x89PNG")
    assert garden_user.get(file_url + "/thumbnails/7").status_code == 404
    download = garden_user.get(file_url + "/download")
    assert body_of(download) == data
    alias = garden_user.get(f"/internal/services/files/v1/{garden.pk}/files/{resource['id']}")
    assert alias.json()["resource"]["id"] == resource["id"]

    # Another company (tenant) sees nothing.
    acme = Client.objects.get(name="Acme")
    assert acme_admin.get(file_url).status_code == 404
    assert acme_admin.get(f"{_base(acme.pk)}/{resource['id']}").status_code == 404
    assert garden_user.get(f"{_base(acme.pk)}/{resource['id']}").status_code == 404

    assert garden_user.delete(file_url).json() == {"status": "success"}
    assert garden_user.get(file_url).status_code == 404


def test_chunked_pdf_upload(garden_user, garden, storage):
    data = pdf_bytes()
    half = (len(data) + 1) // 2
    init = garden_user.post(
        _base(garden.pk) + f"?filename=doc.pdf&type=application/pdf&total_chunks=2"
        f"&total_size={len(data)}"
    )
    assert init.status_code == 200, init.content
    resource = init.json()["resource"]
    assert resource["metadata"]["thumbnails_status"] == "waiting"
    assert resource["upload_data"] == {"size": len(data), "chunks": 2}
    file_url = f"{_base(garden.pk)}/{resource['id']}"
    assert garden_user.get(file_url + "/download").status_code == 409

    first = garden_user.post(file_url + "?chunk_number=1", {"file": SimpleUploadedFile("blob", data[:half])},
                             format="multipart")
    assert first.status_code == 200, first.content
    last = garden_user.post(file_url + "?chunk_number=2&thumbnail_sync=1",
                            {"file": SimpleUploadedFile("blob", data[half:])}, format="multipart")
    assert last.status_code == 200, last.content
    resource = last.json()["resource"]
    assert resource["metadata"]["mime"] == "application/pdf"
    assert resource["metadata"]["thumbnails_status"] == "done"
    assert len(resource["thumbnails"]) == 1
    assert body_of(garden_user.get(file_url + "/download")) == data
    assert garden_user.post(file_url + "?chunk_number=3", {"file": SimpleUploadedFile("b", b"x")},
                            format="multipart").status_code == 400


def test_upload_without_sync_and_pending_states(garden_user, garden_admin, garden, storage):
    data = b"plain text content\n"
    response = garden_user.post(
        _base(garden.pk), {"file": SimpleUploadedFile("a.txt", data, "text/plain")},
        format="multipart",
    )
    resource = response.json()["resource"]
    assert resource["metadata"] == {"name": "a.txt", "mime": "text/plain",
                                    "thumbnails_status": "none"}
    assert resource["thumbnails"] == []
    # A chunked upload is the uploader's: a colleague cannot send its chunks.
    init = garden_user.post(_base(garden.pk) + "?filename=b.bin&total_chunks=2&total_size=4")
    file_url = f"{_base(garden.pk)}/{init.json()['resource']['id']}"
    chunk = {"file": SimpleUploadedFile("b", b"ab")}
    assert garden_admin.post(file_url + "?chunk_number=1", chunk,
                             format="multipart").status_code == 404
    # Missing totals and company mismatches are refused.
    assert garden_user.post(_base(garden.pk) + "?filename=c.bin").status_code == 400
    assert garden_user.post(_base("999999") + "?filename=c.bin&total_size=1").status_code == 404


def test_completion_hook_places_pending_files(garden_user, garden, storage):
    import io

    from apps.dms.models import DMSFile
    from apps.uploads import chunks as upload_chunks

    data = png_bytes(40, 30)
    init = garden_user.post(
        _base(garden.pk) + f"?filename=h.png&total_chunks=1&total_size={len(data)}"
    )
    dms_file = DMSFile.objects.get(uid=init.json()["resource"]["id"])
    # The bytes arrive through the engine alone (no Twake read): the hook gives the file its bytes.
    upload_chunks.chunk_accept(session=dms_file.upload_session, stream=io.BytesIO(data),
                                 length=len(data), index=0)
    dms_file.refresh_from_db()
    assert dms_file.stored_file_id is not None
    assert dms_file.content_type == "image/png" and dms_file.thumbnails_status == "done"
