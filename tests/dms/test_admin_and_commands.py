"""Admin browsing and download links, scrub_files, the demo tree, S3 presigned redirects."""

import base64
import io

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client as DjangoClient

from apps.accounts.models import Client, User
from apps.dms import demo as dms_demo
from apps.dms.models import DMSFile

from .conftest import body_of, png_bytes

pytestmark = pytest.mark.django_db(transaction=True)


def _attach(client, record, name, data):
    url = f"/api/v1/models/c_bpartner/{record.pk}/attachments"
    body = {"name": name, "data": base64.b64encode(data).decode()}
    assert client.post(url, body, format="json").status_code == 201
    return DMSFile.objects.get(record_id=record.pk, name=name)


def test_demo_tree_is_idempotent(demo):
    dms_demo.load(lambda _msg: None)
    for client in Client.objects.exclude(pk=0):
        domain = DMSFile.objects.get(client=client, parent=None, name="default-domain")
        assert DMSFile.objects.filter(client=client, parent=domain, name="workspaces").count() == 1


def test_admin_lists_and_downloads_for_staff_only(garden_user, joe, storage):
    dms_file = _attach(garden_user, joe, "pic.png", png_bytes(300, 100))
    admin = User.objects.create_superuser("dmsadmin", "a@example.com", "pw-dmsadmin")
    browser = DjangoClient()
    browser.force_login(admin)
    listing = browser.get(f"/admin/dms/dmsfile/?table_name=c_bpartner&record_id={joe.pk}")
    assert listing.status_code == 200
    assert b"pic.png" in listing.content and b"/download/" in listing.content
    download = browser.get(f"/admin/dms/dmsfile/{dms_file.pk}/download/")
    assert download.status_code == 200 and body_of(download) == png_bytes(300, 100)
    thumb = browser.get(f"/admin/dms/dmsfile/{dms_file.pk}/thumbnail/")
    assert thumb.status_code == 200 and body_of(thumb).startswith(b"\x89PNG")
    assert browser.get("/admin/dms/dmsfile/").status_code == 200

    anonymous = DjangoClient()
    assert anonymous.get(f"/admin/dms/dmsfile/{dms_file.pk}/download/").status_code == 302


def test_scrub_files_reports_changed_bytes(garden_user, joe, storage):
    dms_file = _attach(garden_user, joe, "a.txt", b"original bytes\n")
    call_command("scrub_files", stdout=open("/dev/null", "w"))  # noqa: SIM115
    stored = dms_file.stored_file
    default_storage.delete(stored.storage_key)
    default_storage.save(stored.storage_key, io.BytesIO(b"tampered bytes\n"))
    out = io.StringIO()
    with pytest.raises(CommandError):  # manage.py exits non-zero
        call_command("scrub_files", stdout=out)
    assert f"MISMATCH stored file {stored.pk}" in out.getvalue()


@pytest.mark.parametrize("storage", ["s3"], indirect=True)  # redirects apply to S3 storage only
def test_presigned_redirect_on_s3(garden_user, joe, storage, settings):
    assert settings.STORAGE_BACKEND == "s3"
    settings.DOWNLOAD_REDIRECT_TO_S3 = True
    _attach(garden_user, joe, "r.txt", b"redirect me\n")
    response = garden_user.get(f"/api/v1/models/c_bpartner/{joe.pk}/attachments/r.txt")
    assert response.status_code == 302
    assert "X-Amz-Signature" in response["Location"] and "r.txt" in response["Location"]


def test_thumbnail_bytes_go_with_the_stored_file(garden_user, joe, storage):
    from apps.dms.models import Thumbnail

    dms_file = _attach(garden_user, joe, "t.png", png_bytes(50, 50, "green"))
    [thumbnail] = Thumbnail.objects.filter(stored_file_id=dms_file.stored_file_id)
    assert default_storage.exists(thumbnail.storage_key)
    garden_user.delete(f"/api/v1/models/c_bpartner/{joe.pk}/attachments/t.png")
    assert not Thumbnail.objects.filter(pk=thumbnail.pk).exists()
    assert not default_storage.exists(thumbnail.storage_key)



@pytest.mark.parametrize("storage", ["local"], indirect=True)
def test_thumbnails_are_kept_beside_their_stored_file(garden_user, joe, storage, settings, tmp_path):
    """A worker whose default storage differs (another node, another test) still writes and serves
    thumbnails next to the stored file's bytes."""
    from apps.dms.models import Thumbnail
    from apps.dms.services import thumbnail_open, thumbnails_build
    from apps.uploads import stored_files

    dms_file = _attach(garden_user, joe, "k.png", png_bytes(40, 30, "blue"))
    Thumbnail.objects.filter(stored_file_id=dms_file.stored_file_id).delete()
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(tmp_path / "elsewhere")},
    }}
    [thumbnail] = thumbnails_build(stored_file_id=dms_file.stored_file_id)
    home = stored_files.stored_file_storage(dms_file.stored_file)
    assert home.exists(thumbnail.storage_key)
    assert not default_storage.exists(thumbnail.storage_key)
    with thumbnail_open(thumbnail) as handle:
        assert handle.read().startswith(b"\x89PNG")
    Thumbnail.objects.filter(pk=thumbnail.pk).delete()
    assert not home.exists(thumbnail.storage_key)
