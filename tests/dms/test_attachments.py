"""iDempiere record attachments (DESIGN §5), downloads (Range/ETag) and the authorization matrix."""

import base64
import io
import zipfile

import pytest

from apps.dms.models import DMSFile

from .conftest import body_of, png_bytes

pytestmark = pytest.mark.django_db(transaction=True)


def _url(record, suffix=""):
    return f"/api/v1/models/c_bpartner/{record.pk}/attachments{suffix}"


def _post(client, record, name, data, overwrite=False):
    return client.post(_url(record), {
        "name": name, "data": base64.b64encode(data).decode(), "overwrite": overwrite,
    }, format="json")


def test_attachment_lifecycle(garden_user, joe, storage):
    response = _post(garden_user, joe, "notes.txt", b"hello attachments\n")
    assert response.status_code == 201, response.content
    assert response.json() == {"attachments": [{"name": "notes.txt", "contentType": "text/plain"}]}
    assert _post(garden_user, joe, "notes.txt", b"other").status_code == 409
    assert _post(garden_user, joe, "notes.txt", b"replaced\n", overwrite=True).status_code == 201

    response = garden_user.get(_url(joe, "/notes.txt"))
    assert response.status_code == 200
    assert body_of(response) == b"replaced\n"
    assert "filename*=UTF-8''notes.txt" in response["Content-Disposition"]
    response = garden_user.get(_url(joe, "/notes.txt") + "?json")
    assert base64.b64decode(response.json()["data"]) == b"replaced\n"

    _post(garden_user, joe, "pic.png", png_bytes())
    listed = garden_user.get(_url(joe)).json()["attachments"]
    assert {"name": "pic.png", "contentType": "image/png"} in listed

    assert garden_user.delete(_url(joe, "/notes.txt")).status_code == 200
    assert garden_user.get(_url(joe, "/notes.txt")).status_code == 404
    assert garden_user.delete(_url(joe)).status_code == 200
    assert garden_user.get(_url(joe)).json() == {"attachments": []}


def test_attachments_zip(garden_user, joe, storage):
    _post(garden_user, joe, "a.txt", b"alpha\n")
    _post(garden_user, joe, "b.txt", b"beta\n")
    response = garden_user.get(_url(joe, "/zip"))
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(body_of(response))) as archive:
        assert archive.read("a.txt") == b"alpha\n" and archive.read("b.txt") == b"beta\n"

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("c.txt", "gamma\n")
        archive.writestr("sub/d.txt", "delta\n")
    response = garden_user.post(_url(joe, "/zip"), {
        "data": base64.b64encode(out.getvalue()).decode()}, format="json")
    assert response.status_code == 201, response.content
    names = {a["name"] for a in response.json()["attachments"]}
    assert names == {"a.txt", "b.txt", "c.txt", "d.txt"}


def test_range_etag_and_not_modified(garden_user, joe, storage):
    data = bytes(range(256)) * 4
    _post(garden_user, joe, "blob.bin", data)
    url = _url(joe, "/blob.bin")
    full = garden_user.get(url)
    etag = full["ETag"]
    assert full["Accept-Ranges"] == "bytes" and body_of(full) == data

    part = garden_user.get(url, HTTP_RANGE="bytes=10-19")
    assert part.status_code == 206
    assert body_of(part) == data[10:20]
    assert part["Content-Range"] == f"bytes 10-19/{len(data)}"
    assert part["Content-Length"] == "10"
    tail = garden_user.get(url, HTTP_RANGE="bytes=-5")
    assert tail.status_code == 206 and body_of(tail) == data[-5:]

    bad = garden_user.get(url, HTTP_RANGE=f"bytes={len(data)}-")
    assert bad.status_code == 416
    assert bad["Content-Range"] == f"bytes */{len(data)}"

    assert garden_user.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304
    assert garden_user.get(url, HTTP_IF_NONE_MATCH='"other"').status_code == 200
    stale = garden_user.get(url, HTTP_RANGE="bytes=0-1", HTTP_IF_RANGE='"stale"')
    assert stale.status_code == 200


def test_authorization_matrix(garden_user, acme_admin, anon_client, joe, road_runner):
    assert _post(garden_user, joe, "ok.txt", b"ok").status_code == 201
    # Anonymous: 401.
    assert anon_client.get(_url(joe)).status_code == 401
    # Another tenant: 404 both ways, never 403.
    assert acme_admin.get(_url(joe)).status_code == 404
    assert _post(acme_admin, joe, "x.txt", b"x").status_code == 404
    assert acme_admin.get(_url(joe, "/ok.txt")).status_code == 404
    assert garden_user.get(_url(road_runner)).status_code == 404
    # No write access on C_ElementValue: reading is fine, attaching is 403.
    from apps.records.registry import table_spec

    account = table_spec("c_elementvalue").model.objects.filter(client__name="GardenWorld").first()
    ev_url = f"/api/v1/models/c_elementvalue/{account.pk}/attachments"
    assert garden_user.get(ev_url).status_code == 200
    response = garden_user.post(ev_url, {"name": "x.txt", "data": "eA=="}, format="json")
    assert response.status_code == 403
    # Unknown table / record: 404; bad base64: 400.
    assert garden_user.get("/api/v1/models/nope/1/attachments").status_code == 404
    assert garden_user.get("/api/v1/models/c_bpartner/999999/attachments").status_code == 404
    assert garden_user.post(_url(joe), {"name": "x", "data": "***"}, format="json").status_code == 400
    assert DMSFile.objects.filter(record_id=joe.pk).count() == 1
