"""iDempiere ``POST /api/v1/uploads/{id}/copy`` to each location, then the record's attachments."""

import pytest

from apps.dms.models import Archive, DMSFile, Image

from .conftest import body_of, idempiere_upload, png_bytes

pytestmark = pytest.mark.django_db(transaction=True)


def _copy(client, upload_id, **body):
    return client.post(f"/api/v1/uploads/{upload_id}/copy", body, format="json")


@pytest.mark.parametrize("location", ["ATTACHMENT", "ARCHIVE", "IMAGE"])
def test_copy_to_each_location(garden_user, joe, storage, location):
    data = png_bytes(300, 200)
    upload_id = idempiere_upload(garden_user, data, name="photo.png", chunk_size=1000,
                                 location=location)
    response = _copy(garden_user, upload_id, copyLocation=location, tableName="C_BPartner",
                     recordId=joe.pk)
    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["uploadId"] == upload_id
    assert answer["copyLocation"] == location
    assert answer["fileName"] == "photo.png"
    assert answer["contentType"] == "image/png"
    assert answer["fileSize"] == len(data)
    if location == "IMAGE":
        image = Image.objects.get(pk=answer["imageId"])
        assert answer["tableName"] == "AD_Image" and answer["recordUU"] == str(image.uid)
        status = garden_user.get(f"/api/v1/uploads/{upload_id}").json()
        assert status["imageId"] == image.pk
    else:
        assert answer["tableName"] == "C_BPartner" and answer["recordId"] == joe.pk
        assert answer["recordUU"] == str(joe.uid)
    listed = garden_user.get(f"/api/v1/models/c_bpartner/{joe.pk}/attachments").json()
    if location == "ATTACHMENT":
        assert listed == {"attachments": [{"name": "photo.png", "contentType": "image/png"}]}
        got = garden_user.get(f"/api/v1/models/c_bpartner/{joe.pk}/attachments/photo.png")
        assert body_of(got) == data
    else:
        assert listed == {"attachments": []}
    if location == "ARCHIVE":
        assert Archive.objects.get(record_id=joe.pk).stored_file.size == len(data)


def test_copy_by_record_uuid_and_errors(garden_user, garden_admin, acme_admin, joe, storage):
    upload_id = idempiere_upload(garden_user, b"some text\n", name="t.txt")
    response = _copy(garden_user, upload_id, copyLocation="ATTACHMENT", tableName="c_bpartner",
                     recordId=str(joe.uid))
    assert response.status_code == 200, response.content
    assert DMSFile.objects.filter(record_id=joe.pk, name="t.txt").exists()
    # Bad location, missing record, someone else's upload, other tenant.
    assert _copy(garden_user, upload_id, copyLocation="NOWHERE").status_code == 400
    assert _copy(garden_user, upload_id, copyLocation="ATTACHMENT").status_code == 400
    assert _copy(garden_admin, upload_id, copyLocation="ATTACHMENT", tableName="c_bpartner",
                 recordId=joe.pk).status_code == 404
    assert _copy(acme_admin, upload_id, copyLocation="ATTACHMENT", tableName="c_bpartner",
                 recordId=joe.pk).status_code == 404


def test_copy_while_processing_is_409_with_retry_after(garden_user, joe, storage):
    from apps.uploads.models import UploadSession

    upload_id = idempiere_upload(garden_user, b"abc", name="a.txt")
    session = UploadSession.objects.get(uid=upload_id)
    UploadSession.objects.filter(pk=session.pk).update(state="PROCESSING")
    response = _copy(garden_user, upload_id, copyLocation="ATTACHMENT", tableName="c_bpartner",
                     recordId=joe.pk)
    assert response.status_code == 409
    assert int(response["Retry-After"]) > 0
