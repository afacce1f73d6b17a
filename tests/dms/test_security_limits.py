"""Security limits of the document app: ZIP imports (bombs, caps, corrupt archives, all-or-nothing),
someone else's pending Twake upload, and file names (Unicode category C, paths) sanitized as the
uploads engine does."""

from __future__ import annotations

import base64
import io
import os
import struct
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.dms.models import DMSFile
from tests.dms.conftest import finish_upload_unlinked

from .conftest import body_of, written_state

pytestmark = pytest.mark.django_db(transaction=True)

MiB = 1024 * 1024


def _url(record, suffix=""):
    return f"/api/v1/models/c_bpartner/{record.pk}/attachments{suffix}"


def _zip(entries, compression=zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=compression) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return out.getvalue()


def _post_zip(client, record, data: bytes, overwrite=False):
    return client.post(_url(record, "/zip"), {
        "data": base64.b64encode(data).decode(), "overwrite": overwrite}, format="json")


def _problem(response, status):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


def _refused(media, client, record, data, status, overwrite=False, storing=False):
    """Refused with ``status`` and nothing written. ``storing``: refused only while an entry was
    being stored (a corrupt entry's bytes): the one-shot upload sessions that carried the entries
    stay behind, cancelled, and every other row and every byte is as before."""
    before = written_state(media)
    body = _problem(_post_zip(client, record, data, overwrite), status)
    after = written_state(media)
    if not storing:
        assert after == before
        return body
    (counts, sessions, files), (counts_before, sessions_before, files_before) = after, before
    assert files == files_before
    assert [c for c in counts if c[0] != "UploadSession"] == \
        [c for c in counts_before if c[0] != "UploadSession"]
    assert sessions[:len(sessions_before)] == sessions_before
    assert sessions[len(sessions_before):] and \
        {state for _, state in sessions[len(sessions_before):]} == {"CANCELLED"}
    return body


def _names(client, record):
    return {a["name"] for a in client.get(_url(record)).json()["attachments"]}


# --- ZIP import: caps --------------------------------------------------------------------------------


def test_zip_bomb_ratio_is_413_and_writes_nothing(garden_user, joe, local_storage):
    bomb = _zip([("bomb.bin", b"\0" * (8 * MiB))])
    assert len(bomb) < 64 * 1024  # > 100:1
    _refused(local_storage, garden_user, joe, bomb, 413)
    assert _names(garden_user, joe) == set()


def test_zip_ratio_applies_only_above_the_size_floor(garden_user, joe, local_storage):
    # Highly compressible but small (under ATTACHMENT_ZIP_RATIO_MIN_SIZE): a normal text file.
    data = _zip([("spaces.txt", b" " * (512 * 1024))])
    response = _post_zip(garden_user, joe, data)
    assert response.status_code == 201, response.content
    assert body_of(garden_user.get(_url(joe, "/spaces.txt"))) == b" " * (512 * 1024)


def test_zip_entry_over_the_entry_cap_is_413(garden_user, joe, local_storage, settings):
    settings.ATTACHMENT_ZIP_MAX_ENTRY_SIZE = 1000
    _refused(local_storage, garden_user, joe, _zip([("ok.txt", b"ok"),
                                                    ("big.bin", os.urandom(1001))]), 413)


def test_zip_entry_cap_counts_real_bytes_not_the_header(garden_user, joe, local_storage, settings):
    """A header that under-states the entry's size does not get more bytes through: zipfile
    returns no more than the declared size, and the entry then fails its CRC check (400)."""
    settings.ATTACHMENT_ZIP_MAX_ENTRY_SIZE = 1000
    data = bytearray(_zip([("liar.bin", os.urandom(5000))], compression=zipfile.ZIP_STORED))
    # Rewrite the declared uncompressed size (local header and central directory) to 10 bytes.
    local = data.index(b"PK\x03\x04")
    struct.pack_into("<I", data, local + 22, 10)
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, 10)
    body = _refused(local_storage, garden_user, joe, bytes(data), 400, storing=True)
    assert "ZIP" in body["detail"]


def test_zip_total_over_the_total_cap_is_413(garden_user, joe, local_storage, settings):
    settings.ATTACHMENT_ZIP_MAX_TOTAL_SIZE = 3000
    data = _zip([("a.bin", os.urandom(2000)), ("b.bin", os.urandom(2000))])
    _refused(local_storage, garden_user, joe, data, 413)
    assert _names(garden_user, joe) == set()


def test_zip_too_many_entries_is_413(garden_user, joe, local_storage, settings):
    settings.ATTACHMENT_ZIP_MAX_ENTRIES = 2
    data = _zip([("a.txt", b"a"), ("b.txt", b"b"), ("c.txt", b"c")])
    _refused(local_storage, garden_user, joe, data, 413)


def test_zip_declared_huge_entry_is_413_before_reading(garden_user, joe, local_storage):
    data = bytearray(_zip([("huge.bin", b"x" * 100)], compression=zipfile.ZIP_STORED))
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, 0xFFFFFFF0)  # ~4 GiB declared
    _refused(local_storage, garden_user, joe, bytes(data), 413)


# --- ZIP import: corrupt archives ------------------------------------------------------------------


@pytest.mark.parametrize("case", ["not-a-zip", "truncated", "corrupt-deflate", "encrypted-flag",
                                  "bzip2"])
def test_bad_zip_is_400_and_writes_nothing(garden_user, joe, local_storage, case):
    good = _zip([("a.txt", os.urandom(3000)), ("b.txt", b"beta " * 500)])
    if case == "not-a-zip":
        data = os.urandom(2000)
    elif case == "truncated":
        data = good[: len(good) // 2]
    elif case == "corrupt-deflate":
        data = bytearray(good)
        start = data.index(b"PK\x03\x04") + 30 + len("a.txt")
        for i in range(start + 10, start + 200):
            data[i] ^= 0x5A
        data = bytes(data)
    elif case == "bzip2":  # its decompressor cannot be asked for bounded pieces
        data = _zip([("a.txt", b"a" * 3000)], compression=zipfile.ZIP_BZIP2)
    else:
        data = bytearray(good)
        for signature, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
            at = data.index(signature)
            data[at + flag_at] |= 0x01
        data = bytes(data)
    # A corrupt deflate stream passes the headers: it is found while the entry is stored.
    storing = case == "corrupt-deflate"
    body = _refused(local_storage, garden_user, joe, data, 400, storing=storing)
    assert "ZIP" in body["detail"]


def _corrupt_second_entry(good: bytes) -> bytes:
    """``good``'s second entry (deflated) with its compressed bytes scrambled, headers intact."""
    data = bytearray(good)
    archive = zipfile.ZipFile(io.BytesIO(good))
    info = archive.infolist()[1]
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for i in range(start + 10, start + min(200, info.compress_size)):
        data[i] ^= 0x5A
    return bytes(data)


def test_zip_corrupt_entry_found_while_storing_attaches_nothing_and_frees_bytes(
        garden_user, joe, local_storage, monkeypatch):
    """The headers pass; the second entry's bytes are corrupt, found only while it is streamed to
    storage after the first entry was stored: 400, no attachment, the stored bytes freed."""
    from apps.uploads import ingest
    from apps.uploads.models import StoredFile

    stored = []
    real = ingest.session_from_stream

    def spying(**kwargs):
        session = real(**kwargs)
        stored.append(kwargs["file_name"])
        return session

    monkeypatch.setattr(ingest, "session_from_stream", spying)
    good = _zip([("a.txt", os.urandom(3000)), ("b.txt", os.urandom(3000))])
    body = _refused(local_storage, garden_user, joe, _corrupt_second_entry(good), 400,
                    storing=True)
    assert "ZIP" in body["detail"]
    assert stored == ["a.txt"]  # the first entry's bytes were stored before the refusal
    assert not DMSFile.objects.filter(record_id=joe.pk).exists()
    assert not StoredFile.objects.filter(ref_count__gt=0).exists()
    files = [p for p in (local_storage / "files").rglob("*") if p.is_file()] \
        if (local_storage / "files").exists() else []
    assert files == []


def test_zip_storage_errors_are_not_a_bad_zip(garden_user, joe, local_storage, monkeypatch):
    """Only a corrupt archive answers 400: a storage failure stays a real error."""
    from apps.uploads import ingest

    def failing(**kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(ingest, "session_from_stream", failing)
    assert _post_zip(garden_user, joe, _zip([("a.txt", b"a")])).status_code == 500


# --- ZIP import: all-or-nothing -------------------------------------------------------------------


def test_zip_conflict_on_a_later_entry_attaches_nothing(garden_user, joe, local_storage):
    first = garden_user.post(_url(joe), {"name": "taken.txt", "data": "dGFrZW4="}, format="json")
    assert first.status_code == 201
    data = _zip([("evil.txt", b"evil\n"), ("taken.txt", b"other\n")])
    _refused(local_storage, garden_user, joe, data, 409)
    assert _names(garden_user, joe) == {"taken.txt"}
    assert body_of(garden_user.get(_url(joe, "/taken.txt"))) == b"taken"


def test_zip_duplicate_names_in_the_archive_are_409(garden_user, joe, local_storage):
    data = _zip([("a/x.txt", b"one"), ("b/x.txt", b"two")])
    _refused(local_storage, garden_user, joe, data, 409)
    # With overwrite the last one wins.
    response = _post_zip(garden_user, joe, data, overwrite=True)
    assert response.status_code == 201, response.content
    assert body_of(garden_user.get(_url(joe, "/x.txt"))) == b"two"


def test_zip_refusal_after_bytes_were_stored_frees_them(garden_user, joe, local_storage,
                                                         monkeypatch):
    """A refusal while attaching (a concurrent writer took a name) rolls every row back and frees
    the bytes already stored for the archive's entries."""
    from apps.core.errors import Conflict
    from apps.dms import services
    from apps.uploads.models import StoredFile

    real = services.attachment_add
    calls = []

    def racing(**kwargs):
        calls.append(kwargs["name"])
        if len(calls) == 2:
            raise Conflict("An attachment named 'y.txt' already exists.", code="attachment_exists")
        return real(**kwargs)

    monkeypatch.setattr(services, "attachment_add", racing)
    data = _zip([("x.txt", os.urandom(3000)), ("y.txt", os.urandom(3000))])
    _problem(_post_zip(garden_user, joe, data), 409)
    assert calls == ["x.txt", "y.txt"]
    assert not DMSFile.objects.filter(record_id=joe.pk).exists()
    assert not StoredFile.objects.filter(ref_count__gt=0).exists()
    files = [p for p in (local_storage / "files").rglob("*") if p.is_file()] \
        if (local_storage / "files").exists() else []
    assert files == []


def test_zip_import_stores_every_entry(garden_user, joe, storage):
    blob = os.urandom(3 * MiB)
    data = _zip([("one.bin", blob), ("dir/two.txt", b"two\n"), ("dir/", b"")])
    response = _post_zip(garden_user, joe, data)
    assert response.status_code == 201, response.content
    assert _names(garden_user, joe) == {"one.bin", "two.txt"}
    assert body_of(garden_user.get(_url(joe, "/one.bin"))) == blob


def test_zip_entries_are_read_in_bounded_pieces(garden_user, joe, local_storage, monkeypatch):
    """No entry is read whole: every read of a ZIP entry asks for a bounded piece."""
    sizes = []
    real_read = zipfile.ZipExtFile.read

    def read(self, n=-1):
        sizes.append(n)
        return real_read(self, n)

    monkeypatch.setattr(zipfile.ZipExtFile, "read", read)
    response = _post_zip(garden_user, joe, _zip([("r.bin", os.urandom(2 * MiB))]))
    assert response.status_code == 201, response.content
    assert sizes and all(0 < n <= MiB for n in sizes)


# --- Twake: someone else's pending upload ------------------------------------------------------------


def _twake(client_pk):
    return f"/internal/services/files/v1/companies/{client_pk}/files"


def _pending(garden_user, joe):
    init = garden_user.post(_twake(joe.client_id) + "?filename=p.bin&total_chunks=2&total_size=4")
    assert init.status_code == 200, init.content
    uid = init.json()["resource"]["id"]
    return uid, DMSFile.objects.get(uid=uid)


def _session_state(dms_file):
    dms_file.upload_session.refresh_from_db()
    return dms_file.upload_session.state


def _send_chunks(garden_user, joe, uid):
    for number, piece in ((1, b"ab"), (2, b"cd")):
        response = garden_user.post(f"{_twake(joe.client_id)}/{uid}?chunk_number={number}",
                                    {"file": SimpleUploadedFile("b", piece)}, format="multipart")
        assert response.status_code == 200, response.content


def _folder_of(garden_user, dms_file):
    """An Axelor folder made by ``garden_user``, ``dms_file`` moved into it."""
    domain_id = garden_user.get("/ws/dms/files").json()["data"][0]["id"]
    response = garden_user.post("/ws/dms/files", {"fileName": "Inbox", "isDirectory": True,
                                                  "parent": {"id": domain_id}}, format="json")
    assert response.status_code == 200, response.content
    folder_id = response.json()["data"][0]["id"]
    DMSFile.objects.filter(pk=dms_file.pk).update(parent_id=folder_id)
    return folder_id


@pytest.mark.parametrize("what", ["twake", "axelor", "folder"])
def test_someone_elses_pending_upload_cannot_be_deleted(garden_user, garden_admin, joe,
                                                         local_storage, what):
    """Deleting a pending file cancels its upload: only its owner may. Anyone else gets 409
    (they may read the file: no 404), for the file as for a folder holding it."""
    uid, dms_file = _pending(garden_user, joe)
    if what == "folder":
        url = f"/ws/dms/files/{_folder_of(garden_user, dms_file)}"
    elif what == "twake":
        url = f"{_twake(joe.client_id)}/{uid}"
    else:
        url = f"/ws/dms/files/{dms_file.pk}"
    assert garden_admin.get(f"{_twake(joe.client_id)}/{uid}").status_code == 200
    before = written_state(local_storage)
    body = _problem(garden_admin.delete(url), 409)
    assert "still being uploaded by its owner" in body["detail"]
    assert written_state(local_storage) == before
    assert _session_state(dms_file) in {"INITIATED", "UPLOADING"}
    # The owner's upload goes on to completion.
    _send_chunks(garden_user, joe, uid)
    assert body_of(garden_user.get(f"{_twake(joe.client_id)}/{uid}/download")) == b"abcd"
    # Once finished, it is a file like any other: write access is enough to delete it.
    assert garden_admin.delete(url).status_code == 200
    assert not DMSFile.objects.filter(pk=dms_file.pk).exists()


@pytest.mark.parametrize("target", [True, False])
def test_a_finished_upload_not_yet_linked_is_not_in_progress(garden_user, garden_admin, joe,
                                                             local_storage, target):
    """An upload that finished but whose file was not given its bytes yet (the completion hook
    has not run): someone else's delete links it, deletes it and frees the bytes (no 409)."""
    from apps.uploads.models import StoredFile

    _uid, dms_file = _pending(garden_user, joe)
    folder_id = None if target else _folder_of(garden_user, dms_file)
    finish_upload_unlinked(dms_file)
    dms_file.refresh_from_db()
    assert dms_file.stored_file_id is None and _session_state(dms_file) == "COMPLETED"
    stored_file_id = dms_file.upload_session.stored_file_id
    url = f"/ws/dms/files/{dms_file.pk if target else folder_id}"
    response = garden_admin.delete(url)
    assert response.status_code == 200, response.content
    assert not DMSFile.objects.filter(pk=dms_file.pk).exists()
    assert not StoredFile.objects.filter(pk=stored_file_id, ref_count__gt=0).exists()
    files = [p for p in (local_storage / "files").rglob("*") if p.is_file()] \
        if (local_storage / "files").exists() else []
    assert files == []


def test_a_failed_upload_of_someone_else_can_be_deleted(garden_user, garden_admin, joe,
                                                        local_storage):
    """A dead upload (cancelled) has nothing left to cancel: its pending file goes as any other."""
    from apps.uploads import services as upload_services

    uid, dms_file = _pending(garden_user, joe)
    upload_services.session_cancel(session=dms_file.upload_session)
    assert garden_admin.delete(f"{_twake(joe.client_id)}/{uid}").status_code == 200
    assert not DMSFile.objects.filter(pk=dms_file.pk).exists()


def test_the_owner_deletes_a_pending_upload_and_its_session(garden_user, joe, local_storage):
    uid, dms_file = _pending(garden_user, joe)
    response = garden_user.delete(f"{_twake(joe.client_id)}/{uid}")
    assert response.status_code == 200 and response.json() == {"status": "success"}
    assert not DMSFile.objects.filter(pk=dms_file.pk).exists()
    assert _session_state(dms_file) == "CANCELLED"


def test_a_completed_file_needs_write_access_not_ownership(garden_user, garden_admin, joe,
                                                           local_storage):
    response = garden_user.post(_twake(joe.client_id),
                                {"file": SimpleUploadedFile("done.txt", b"done\n", "text/plain")},
                                format="multipart")
    assert response.status_code == 200, response.content
    uid = response.json()["resource"]["id"]
    assert garden_admin.delete(f"{_twake(joe.client_id)}/{uid}").status_code == 200
    assert not DMSFile.objects.filter(uid=uid).exists()


# --- file names --------------------------------------------------------------------------------------

NAMES = [
    "invoice\u202egnp.exe", "zero\u200bwidth.txt", "nul\x00byte.txt", "line\r\nbreak.txt",
    "../../etc/passwd", "..\\..\\win.ini", "tab\there.txt", "bell\x07\x7f.txt", "\ufeffbom.txt",
    "bidi\u2066iso\u2069.txt", "é-nfd\u0301.txt", "  spaced.txt  ", "x" * 300 + ".pdf",
]


@pytest.mark.parametrize("raw", NAMES)
def test_file_name_sanitize_matches_the_uploads_engine(raw):
    import unicodedata

    from apps.dms.content import file_name_sanitize
    from apps.uploads.wire import sanitize_file_name

    name = file_name_sanitize(raw)
    assert name == sanitize_file_name(raw)
    assert not any(unicodedata.category(ch).startswith("C") for ch in name)
    assert "/" not in name and "\\" not in name and name not in {"", ".", ".."}
    assert len(name) <= 200


def test_file_name_sanitize_examples():
    from apps.core.errors import BadRequest
    from apps.dms.content import file_name_sanitize

    assert file_name_sanitize("invoice\u202egnp.exe") == "invoicegnp.exe"
    assert file_name_sanitize("a\x00b\r\n.txt") == "ab.txt"
    assert file_name_sanitize("../../etc/passwd") == "passwd"
    assert file_name_sanitize("\u200b", default="fallback") == "fallback"
    for empty in ("", "..", "../", "\u202e\u200b", "\x00"):
        with pytest.raises(BadRequest):
            file_name_sanitize(empty)


def test_attachment_and_zip_names_are_sanitized(garden_user, joe, local_storage):
    raw = "evil\u202etxt.exe"
    response = garden_user.post(_url(joe), {"name": raw, "data": "eA=="}, format="json")
    assert response.status_code == 201, response.content
    data = _zip([("../z\u200b\x01ip\u202e.txt", b"z")])
    assert _post_zip(garden_user, joe, data).status_code == 201
    assert _names(garden_user, joe) == {"eviltxt.exe", "zip.txt"}
