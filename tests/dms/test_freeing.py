"""Deleting the last reference to a StoredFile frees its bytes (via the engine's release task)."""

import base64

import pytest
from django.core.files.storage import default_storage

from apps.dms.models import DMSFile

from .conftest import png_bytes

pytestmark = pytest.mark.django_db(transaction=True)


def _exists(stored_file) -> bool:
    return default_storage.exists(stored_file.storage_key)


def test_last_reference_frees_bytes(garden_user, joe, storage):
    from apps.uploads.models import StoredFile

    data = png_bytes(77, 55)
    url = f"/api/v1/models/c_bpartner/{joe.pk}/attachments"
    for name in ("a.png", "b.png"):  # two documents over the same bytes
        body = {"name": name, "data": base64.b64encode(data).decode()}
        assert garden_user.post(url, body, format="json").status_code == 201
    files = DMSFile.objects.filter(record_id=joe.pk)
    stored = files.first().stored_file
    assert {f.stored_file_id for f in files} == {stored.pk}
    assert _exists(stored)

    assert garden_user.delete(url + "/a.png").status_code == 200
    stored.refresh_from_db()
    assert _exists(stored)  # still referenced by b.png

    assert garden_user.delete(url + "/b.png").status_code == 200
    gone = StoredFile.objects.filter(pk=stored.pk).first()
    assert gone is None or gone.ref_count == 0
    assert not default_storage.exists(stored.storage_key)
