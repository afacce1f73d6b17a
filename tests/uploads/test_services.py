"""The engine's service API as the other dialects use it (offsets, deferred length, checksums,
batches), purge of abandoned S3 multipart uploads, storage recorded per session."""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone

from apps.core.errors import ApplicationError, Conflict, Gone, NotFound
from apps.uploads import batches, chunks, ingest, purge, selectors, services, stored_files
from apps.uploads import storage as st
from apps.uploads.models import StoredFile, UploadSession
from tests.uploads.conftest import payload, sha

pytestmark = pytest.mark.django_db(transaction=True)


def test_offset_mode_with_deferred_length_and_checksums(ctx, storage):
    data = payload(7000, seed=2)
    session = services.session_create(ctx=ctx, file_name="tus.bin", size=None, dialect="tus")
    assert session.mode == ("inplace" if storage == "local" else "staged")
    first = chunks.chunk_accept(
        session=session, stream=io.BytesIO(data[:3000]), length=3000, offset=0,
        checksum=("sha1", hashlib.sha1(data[:3000]).hexdigest()),
    )
    assert first.created and not first.complete
    with pytest.raises(chunks.ChecksumMismatch):
        chunks.chunk_accept(session=session, stream=io.BytesIO(data[3000:]), length=4000,
                              offset=3000, checksum=("md5", "0" * 32))
    with pytest.raises(Conflict):  # wrong offset
        chunks.chunk_accept(session=session, stream=io.BytesIO(data[3000:]), length=4000,
                              offset=2000)
    session.refresh_from_db()
    assert session.received_bytes == 3000
    chunks.chunk_accept(session=session, stream=io.BytesIO(data[3000:]), length=4000, offset=3000)
    session = services.session_declare_size(session=session, size=7000)
    session.refresh_from_db()
    assert session.state == "COMPLETED"
    with stored_files.stored_file_open(session.stored_file) as handle:
        assert handle.read() == data


def test_chunk_count_without_chunk_size_is_staged_and_composed(ctx, storage):
    """Nuxeo-style: a count and a size but no chunk size: staged chunks composed at finalize."""
    data = payload(5000, seed=4)
    session = services.session_create(ctx=ctx, file_name="n.bin", size=5000, chunk_count=3,
                                       dialect="nuxeo")
    assert session.mode == "staged"
    pieces = [data[:2000], data[2000:4000], data[4000:]]
    for index in (2, 0, 1):
        result = chunks.chunk_accept(session=session, stream=io.BytesIO(pieces[index]),
                                       length=len(pieces[index]), index=index,
                                       sha256=sha(pieces[index]))
    assert result.complete
    session.refresh_from_db()
    assert session.state == "COMPLETED" and session.stored_file.sha256 == sha(data)
    with stored_files.stored_file_open(session.stored_file) as handle:
        assert handle.read() == data


def test_one_shot_stored_file_and_content_sniffing(ctx, storage):
    png = b"\x89PNG\r\n\x1a\n" + bytes(100)
    session = ingest.stored_file_from_stream(ctx=ctx, stream=io.BytesIO(png), length=len(png),
                                             file_name="pic")
    assert session.state == "COMPLETED"
    assert session.stored_file.content_type == "image/png"


def test_batches_are_owner_scoped(ctx, storage, demo):
    batch = batches.batch_create(ctx=ctx)
    session = services.session_create(ctx=ctx, file_name="a", size=3, batch=batch, batch_index="0")
    assert selectors.batch_for_owner(ctx, batch.uid) == batch
    assert selectors.batch_session(batch, "0") == session
    other = SimpleNamespace(client_id=ctx.client_id, org_id=0, user_id=ctx.user_id + 999)
    with pytest.raises(NotFound):
        selectors.batch_for_owner(other, batch.uid)
    with pytest.raises(NotFound):
        selectors.session_for_owner(other, session.uid)
    batches.batch_drop(batch=batch)
    assert not UploadSession.objects.filter(pk=session.pk).exists()


def test_expired_session_is_gone(ctx, storage):
    session = services.session_create(ctx=ctx, file_name="a", size=3, expires_in=60)
    UploadSession.objects.filter(pk=session.pk).update(expires_at=timezone.now() - timedelta(1))
    session.refresh_from_db()
    with pytest.raises(Gone):
        selectors.session_for_owner(ctx, session.uid)
    with pytest.raises(Gone):
        chunks.chunk_accept(session=session, stream=io.BytesIO(b"abc"), length=3, index=0)


@pytest.mark.parametrize("storage", ["s3"], indirect=True)  # multipart uploads exist on S3 only
def test_purge_aborts_abandoned_multipart_uploads(ctx, storage):
    session = services.session_create(ctx=ctx, file_name="big", size=6 * 1024 * 1024,
                                      chunk_size=5 * 1024 * 1024)
    assert session.mode == "parts" and session.s3_upload_id
    part = payload(5 * 1024 * 1024)
    chunks.chunk_accept(session=session, stream=io.BytesIO(part), length=len(part), index=0)
    store = services.session_storage(session)
    assert any(u == session.s3_upload_id for _, u, _ in st.s3_list_multipart_uploads(store, "blobs/"))
    UploadSession.objects.filter(pk=session.pk).update(expires_at=timezone.now() - timedelta(1))
    counts = purge.uploads_purge()
    assert counts["expired"] == 1
    assert not any(
        u == session.s3_upload_id for _, u, _ in st.s3_list_multipart_uploads(store, "blobs/")
    )


def test_session_keeps_its_storage_when_settings_change(ctx, storage, settings, tmp_path):
    data = payload(3000)
    session = services.session_create(ctx=ctx, file_name="a", size=3000, chunk_size=1000)
    chunks.chunk_accept(session=session, stream=io.BytesIO(data[:1000]), length=1000, index=0)
    # The "worker" now runs with another default storage: the session still lands where it began.
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                    "OPTIONS": {"location": str(tmp_path / "elsewhere")}},
    }
    for index in (1, 2):
        piece = data[index * 1000:(index + 1) * 1000]
        chunks.chunk_accept(session=session, stream=io.BytesIO(piece), length=1000, index=index)
    session.refresh_from_db()
    assert session.state == "COMPLETED"
    assert session.stored_file.storage_backend == storage
    with stored_files.stored_file_open(session.stored_file) as handle:
        assert handle.read() == data


def test_release_to_zero_frees_bytes(ctx, storage):
    session = ingest.stored_file_from_stream(ctx=ctx, stream=io.BytesIO(b"hello"), length=5,
                                             file_name="h.txt")
    stored = session.stored_file
    store = stored_files.stored_file_storage_of(stored)
    assert st.exists(store, stored.storage_backend, stored.storage_key)
    stored_files.stored_file_retain(stored_file=stored)
    assert StoredFile.objects.get(pk=stored.pk).ref_count == 2
    stored_files.stored_file_release(stored_file=stored)
    services.session_cancel(session=session)  # drops the session's own reference
    assert not StoredFile.objects.filter(pk=stored.pk).exists()
    assert not st.exists(store, stored.storage_backend, stored.storage_key)


def test_errors_are_application_errors(ctx, storage):
    with pytest.raises(ApplicationError):
        services.session_create(ctx=ctx, file_name="a", size=10, chunk_size=3, chunk_count=2)
