"""Thumbnails belong to one tenant: two tenants with the same bytes have a thumbnail each, under
keys of their own; deleting one tenant's file, or rebuilding its thumbnail, never touches the
other's; another tenant cannot read it; a thumbnail whose bytes are gone is a 404 problem body.

Thumbnails kept under the old key shared by every tenant (``thumbnails/{sha[:2]}/{sha}/{n}.png``)
are rebuilt under each StoredFile's own key, and the shared object goes with its last row."""

import base64
import io

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from apps.accounts.models import Client
from apps.dms.models import DMSFile, Thumbnail
from apps.dms.services import thumbnail_key, thumbnails_rebuild_shared
from apps.uploads import stored_files

from .conftest import body_of, png_bytes

pytestmark = pytest.mark.django_db(transaction=True)

RED = png_bytes(640, 320, "red")


def _files(client_ref) -> str:
    return f"/internal/services/files/v1/companies/{client_ref}/files"


def _twake_upload(api, client: Client, data: bytes, name: str = "same.png") -> dict:
    response = api.post(_files(client.pk) + "?thumbnail_sync=1",
                        {"file": SimpleUploadedFile(name, data, "image/png")}, format="multipart")
    assert response.status_code == 200, response.content
    resource = response.json()["resource"]
    assert resource["metadata"]["thumbnails_status"] == "done"
    return resource


def _thumbnail_url(client: Client, resource: dict) -> str:
    return f"{_files(client.pk)}/{resource['id']}/thumbnails/0"


def _colour_and_size(png: bytes) -> tuple:
    image = Image.open(io.BytesIO(png))
    return image.convert("RGB").getpixel((image.width // 2, image.height // 2)), image.size


def _thumbnail_of(resource: dict) -> Thumbnail:
    dms_file = DMSFile.objects.get(uid=resource["id"])
    return Thumbnail.objects.get(stored_file_id=dms_file.stored_file_id, index=0)


def _assert_problem(response, status: int) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]


@pytest.fixture
def garden(demo):
    return Client.objects.get(name="GardenWorld")


@pytest.fixture
def acme(demo):
    return Client.objects.get(name="Acme")


def test_one_tenant_deleting_its_file_keeps_the_others_thumbnail(
    garden_user, acme_admin, garden, acme, storage,
):
    mine = _twake_upload(garden_user, garden, RED)
    theirs = _twake_upload(acme_admin, acme, RED)
    garden_thumbnail, acme_thumbnail = _thumbnail_of(mine), _thumbnail_of(theirs)
    # Same bytes, two tenants: two stored files, two thumbnails, two keys of their own.
    assert garden_thumbnail.stored_file_id != acme_thumbnail.stored_file_id
    assert garden_thumbnail.storage_key == thumbnail_key(garden_thumbnail.stored_file, 0)
    assert acme_thumbnail.storage_key == thumbnail_key(acme_thumbnail.stored_file, 0)
    assert garden_thumbnail.storage_key.startswith(f"thumbnails/{garden.pk}/")
    assert acme_thumbnail.storage_key.startswith(f"thumbnails/{acme.pk}/")

    before = acme_admin.get(_thumbnail_url(acme, theirs))
    assert before.status_code == 200
    acme_png = body_of(before)
    assert _colour_and_size(acme_png) == ((255, 0, 0), (256, 128))

    # Neither tenant reads the other's thumbnail, by either company in the URL.
    for api, client, resource in ((acme_admin, garden, mine), (acme_admin, acme, mine),
                                  (garden_user, acme, theirs), (garden_user, garden, theirs)):
        _assert_problem(api.get(_thumbnail_url(client, resource)), 404)

    assert garden_user.delete(f"{_files(garden.pk)}/{mine['id']}").json() == {"status": "success"}
    # GardenWorld's file is gone with its thumbnail bytes; Acme's are untouched.
    assert not Thumbnail.objects.filter(pk=garden_thumbnail.pk).exists()
    garden_storage = stored_files.stored_file_storage(garden_thumbnail.stored_file)
    assert not garden_storage.exists(garden_thumbnail.storage_key)
    after = acme_admin.get(_thumbnail_url(acme, theirs))
    assert after.status_code == 200
    assert body_of(after) == acme_png


def test_an_attachment_and_a_twake_file_of_two_tenants(garden_user, acme_admin, joe, acme, storage):
    """GardenWorld attaches the PNG to a record (iDempiere attachments), Acme uploads it through
    Twake; GardenWorld deletes its attachment; Acme's thumbnail is still there."""
    url = f"/api/v1/models/c_bpartner/{joe.pk}/attachments"
    body = {"name": "same.png", "data": base64.b64encode(RED).decode()}
    assert garden_user.post(url, body, format="json").status_code == 201
    attachment = DMSFile.objects.get(record_id=joe.pk, name="same.png")
    assert attachment.thumbnails_status == "done"
    theirs = _twake_upload(acme_admin, acme, RED)
    acme_png = body_of(acme_admin.get(_thumbnail_url(acme, theirs)))

    assert garden_user.delete(f"{url}/same.png").status_code in (200, 204)
    assert not DMSFile.objects.filter(pk=attachment.pk).exists()
    after = acme_admin.get(_thumbnail_url(acme, theirs))
    assert after.status_code == 200 and body_of(after) == acme_png


@pytest.mark.parametrize("storage", ["local"], indirect=True)
def test_rebuilding_one_tenants_thumbnail_never_changes_the_others(
    garden_user, acme_admin, garden, acme, storage,
):
    """The shared key let a rebuild from one tenant's (changed) bytes repaint the other tenant's
    thumbnail. Now GardenWorld's stored bytes turn blue behind its back and its thumbnail is made
    again: GardenWorld's preview is blue, Acme's stays red."""
    from apps.dms.services import thumbnails_build

    mine = _twake_upload(garden_user, garden, RED)
    theirs = _twake_upload(acme_admin, acme, RED)
    acme_png = body_of(acme_admin.get(_thumbnail_url(acme, theirs)))
    garden_file = DMSFile.objects.get(uid=mine["id"]).stored_file
    home = stored_files.stored_file_storage(garden_file)
    home.delete(garden_file.storage_key)
    home.save(garden_file.storage_key, ContentFile(png_bytes(640, 320, "blue")))
    Thumbnail.objects.filter(stored_file=garden_file).delete()

    [rebuilt] = thumbnails_build(stored_file_id=garden_file.pk)
    assert _colour_and_size(body_of(garden_user.get(_thumbnail_url(garden, mine))))[0] == (0, 0, 255)
    after = acme_admin.get(_thumbnail_url(acme, theirs))
    assert after.status_code == 200 and body_of(after) == acme_png
    assert rebuilt.storage_key != _thumbnail_of(theirs).storage_key


def test_a_thumbnail_whose_bytes_are_gone_is_a_404_problem(garden_user, garden, storage):
    mine = _twake_upload(garden_user, garden, RED)
    thumbnail = _thumbnail_of(mine)
    assert garden_user.get(_thumbnail_url(garden, mine)).status_code == 200
    _assert_problem(garden_user.get(f"{_files(garden.pk)}/{mine['id']}/thumbnails/1"), 404)
    stored_files.stored_file_storage(thumbnail.stored_file).delete(thumbnail.storage_key)
    _assert_problem(garden_user.get(_thumbnail_url(garden, mine)), 404)


def _share_like_before(*resources: dict) -> str:
    """Put the thumbnails of ``resources`` back as they were kept before: one object under the
    content hash, every tenant's row pointing at it."""
    rows = [_thumbnail_of(resource) for resource in resources]
    sha = rows[0].stored_file.sha256
    shared_key = f"thumbnails/{sha[:2]}/{sha}/0.png"
    home = stored_files.stored_file_storage(rows[0].stored_file)
    with home.open(rows[0].storage_key, "rb") as handle:
        data = handle.read()
    home.save(shared_key, ContentFile(data))
    for row in rows:
        home.delete(row.storage_key)
        Thumbnail.objects.filter(pk=row.pk).update(storage_key=shared_key)
    return shared_key


def test_thumbnails_under_the_old_shared_key_are_rebuilt_per_tenant(
    garden_user, acme_admin, garden, acme, storage,
):
    mine = _twake_upload(garden_user, garden, RED)
    theirs = _twake_upload(acme_admin, acme, RED)
    shared_key = _share_like_before(mine, theirs)
    home = stored_files.stored_file_storage(_thumbnail_of(mine).stored_file)
    shared = acme_admin.get(_thumbnail_url(acme, theirs))  # still read where it is, until rebuilt
    assert shared.status_code == 200 and _colour_and_size(body_of(shared))[0] == (255, 0, 0)

    assert thumbnails_rebuild_shared() == 2  # what runs after migrate (tasks are eager here)
    for client, api, resource in ((garden, garden_user, mine), (acme, acme_admin, theirs)):
        row = _thumbnail_of(resource)
        assert row.storage_key == thumbnail_key(row.stored_file, 0)
        got = api.get(_thumbnail_url(client, resource))
        assert got.status_code == 200 and _colour_and_size(body_of(got)) == ((255, 0, 0), (256, 128))
    assert not home.exists(shared_key)  # its last row moved off it
    assert thumbnails_rebuild_shared() == 0


def test_deleting_a_file_never_removes_a_shared_object_another_row_reads(
    garden_user, acme_admin, garden, acme, storage,
):
    """Before its rebuild, a thumbnail still under the old shared key survives another tenant's
    delete: the object goes only with the last row that points at it."""
    mine = _twake_upload(garden_user, garden, RED)
    theirs = _twake_upload(acme_admin, acme, RED)
    shared_key = _share_like_before(mine, theirs)
    home = stored_files.stored_file_storage(_thumbnail_of(mine).stored_file)

    assert garden_user.delete(f"{_files(garden.pk)}/{mine['id']}").status_code == 200
    assert home.exists(shared_key)
    after = acme_admin.get(_thumbnail_url(acme, theirs))
    assert after.status_code == 200 and _colour_and_size(body_of(after))[0] == (255, 0, 0)
    assert acme_admin.delete(f"{_files(acme.pk)}/{theirs['id']}").status_code == 200
    assert not home.exists(shared_key)
