"""A pending Twake file deleted while its upload completes: the delete and the completion hook
lock the same row, so whichever comes second sees what the first did, and the bytes are never
left with a reference nobody holds."""

from __future__ import annotations

import threading

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction

from apps.accounts.services import context_default_for_user
from apps.dms import services
from apps.dms.models import DMSFile
from apps.uploads.models import StoredFile
from tests.dms.conftest import finish_upload_unlinked

pytestmark = pytest.mark.django_db(transaction=True)


def _twake(client_pk):
    return f"/internal/services/files/v1/companies/{client_pk}/files"


def _pending(client, company):
    init = client.post(_twake(company) + "?filename=p.bin&total_chunks=2&total_size=4")
    assert init.status_code == 200, init.content
    return init.json()["resource"]["id"]


def _ctx(username):
    return context_default_for_user(get_user_model().objects.get(username=username))


def _bytes_kept(media) -> list:
    files = media / "files"
    return [p for p in files.rglob("*") if p.is_file()] if files.exists() else []


def _company(garden_user):
    from apps.accounts.models import Client

    return Client.objects.get(value="GardenWorld").pk


def test_a_file_linked_after_it_was_read_is_released(garden_user, local_storage):
    """The delete was handed the file while it was pending; the hook linked it before the delete
    ran: the delete re-reads the row under its lock and releases the bytes."""
    company = _company(garden_user)
    uid = _pending(garden_user, company)
    stale = DMSFile.objects.get(uid=uid)
    for number, piece in ((1, b"ab"), (2, b"cd")):
        response = garden_user.post(f"{_twake(company)}/{uid}?chunk_number={number}",
                                    {"file": SimpleUploadedFile("b", piece)}, format="multipart")
        assert response.status_code == 200, response.content
    stored_file_id = DMSFile.objects.get(uid=uid).stored_file_id
    assert stale.stored_file_id is None and stored_file_id is not None
    assert services.dms_file_delete(ctx=_ctx("GardenUser"), dms_file=stale) == 1
    assert not DMSFile.objects.filter(uid=uid).exists()
    assert not StoredFile.objects.filter(pk=stored_file_id, ref_count__gt=0).exists()
    assert _bytes_kept(local_storage) == []


def test_the_hook_after_the_delete_finds_nothing_to_link(garden_user, local_storage):
    """The owner deleted the pending file first: a late completion hook neither fails nor links
    anything, and nothing of the upload is kept."""
    company = _company(garden_user)
    uid = _pending(garden_user, company)
    dms_file = DMSFile.objects.get(uid=uid)
    session = dms_file.upload_session
    services.dms_file_delete(ctx=_ctx("GardenUser"), dms_file=dms_file)
    # A hook that had listed the row before the delete committed resolves a gone row: 404.
    from apps.core.errors import NotFound

    with pytest.raises(NotFound):
        services.dms_file_resolve(dms_file)
    services.upload_completed(session)  # nothing left waiting for this upload
    assert not DMSFile.objects.filter(uid=uid).exists()
    assert _bytes_kept(local_storage) == []


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="row locks need PostgreSQL")
def test_the_hook_waits_for_a_running_delete(garden_user, garden_admin, local_storage):
    """The delete holds the row; the hook (another connection) waits for it, then finds the row
    gone. The upload had finished: the delete linked the file itself and released the bytes."""
    company = _company(garden_user)
    uid = _pending(garden_user, company)
    dms_file = DMSFile.objects.get(uid=uid)
    finish_upload_unlinked(dms_file)
    session = dms_file.upload_session
    session.refresh_from_db()
    assert session.state == "COMPLETED" and session.stored_file_id is not None
    stored_file_id = session.stored_file_id

    locked = threading.Event()
    hook_done = threading.Event()
    errors = []

    def hook():
        try:
            locked.wait(10)
            services.upload_completed(session)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connection.close()
            hook_done.set()

    thread = threading.Thread(target=hook)
    thread.start()
    with transaction.atomic():
        services.dms_file_delete(ctx=_ctx("GardenAdmin"), dms_file=dms_file)
        locked.set()
        # The hook is blocked on the row lock while this transaction is open.
        assert not hook_done.wait(1)
    assert hook_done.wait(10)
    thread.join(10)
    assert errors == []
    assert not DMSFile.objects.filter(uid=uid).exists()
    assert not StoredFile.objects.filter(pk=stored_file_id, ref_count__gt=0).exists()
    assert _bytes_kept(local_storage) == []
