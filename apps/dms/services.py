"""Writes on documents: folders, files, attachments, images, archives, thumbnails, deletes.

Every row that points at a StoredFile retains it; deleting the row releases it, and the uploads
engine frees the bytes (in a task) when the last reference is gone.

Every write checks the role's org access here, before anything is written (``_writes_check``):
new rows land in the caller's org, files go into a parent folder's org, attachments change their
record's org, deletes change the deleted rows' orgs; a read-only org answers 403.
"""

from __future__ import annotations

import io
import logging
import lzma
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from apps.core.context import RequestContext
from apps.core.errors import BadRequest, Conflict, Gone, NotFound, NotReady, PayloadTooLarge
from apps.dms.access import org_write_check, record_org_check, record_resolve
from apps.dms.content import SNIFF_BYTES, content_type_sniff, file_name_sanitize
from apps.dms.models import Archive, DMSFile, Image, Thumbnail, ThumbnailRender, ThumbnailStatus
from apps.dms.selectors import dms_files_qs
from apps.dms.thumbnails import thumbnail_supported, thumbnails_render_outcome
from apps.uploads import chunks as upload_chunks
from apps.uploads import ingest, stored_files
from apps.uploads import selectors as upload_selectors
from apps.uploads import services as upload_services

logger = logging.getLogger("ledgerdoc.dms")

FOLDER_TYPES = {"Folder", "Workspace", "Domain", "WorkspaceRoot", "OrderedFolder"}


# --- stored bytes --------------------------------------------------------------------------------


def stored_file_content_type(stored_file: Any, file_name: str = "") -> str:
    """Sniffed from the first bytes of the stored content (the client's word is not trusted)."""
    handle = stored_files.stored_file_open(stored_file)
    try:
        head = handle.read(SNIFF_BYTES)
    finally:
        handle.close()
    return content_type_sniff(head, file_name)


def _thumbnails_status_for(content_type: str, stored_file: Any) -> str:
    if not thumbnail_supported(content_type):
        return ThumbnailStatus.NONE
    if Thumbnail.objects.filter(stored_file=stored_file).exists():
        return ThumbnailStatus.DONE
    failed = ThumbnailRender.objects.filter(
        stored_file=stored_file, state=ThumbnailRender.State.FAILED
    ).exists()
    return ThumbnailStatus.ERROR if failed else ThumbnailStatus.WAITING


def thumbnails_enqueue(stored_file: Any) -> None:
    from apps.dms.tasks import thumbnails_make

    stored_file_id = stored_file.pk
    transaction.on_commit(lambda: thumbnails_make.delay(stored_file_id))


def _retain(stored_file: Any) -> None:
    stored_files.stored_file_retain(stored_file=stored_file)


def _release(stored_file: Any) -> None:
    stored_files.stored_file_release(stored_file=stored_file)


# --- org access -----------------------------------------------------------------------------------


def _writes_check(
    ctx: RequestContext, *, parent: DMSFile | None = None, record: Any | None = None,
    rows: Any = (), new_row: bool = True,
) -> None:
    """403 before anything is written when one of the orgs this write touches is read-only for
    the role (or not visible to it): the new row's (the caller's org), the parent folder's, the
    record's the file is attached to, and each existing row's that is replaced or deleted."""
    if new_row:
        org_write_check(ctx, ctx.org_id)
    if parent is not None:
        org_write_check(ctx, parent.org_id, what="documents of this folder")
    if record is not None:
        record_org_check(ctx, record)
    for row in rows:
        org_write_check(ctx, row.org_id)


# --- folders and files ----------------------------------------------------------------------------


def _sibling_exists(ctx: RequestContext, parent: DMSFile | None, name: str) -> bool:
    return DMSFile.objects.filter(
        client_id=ctx.client_id, parent=parent, name=name, table_name=""
    ).exists()


def _check_parent(ctx: RequestContext, parent: DMSFile | None) -> None:
    if parent is None:
        return
    if parent.client_id != ctx.client_id:
        raise NotFound("No such folder.")
    if not parent.is_directory:
        raise BadRequest("The parent is not a folder.", code="parent_not_folder")


@transaction.atomic
def folder_create(
    *, ctx: RequestContext, name: str, parent: DMSFile | None = None, doc_type: str = "Folder",
    title: str = "",
) -> DMSFile:
    name = file_name_sanitize(name)
    _check_parent(ctx, parent)
    _writes_check(ctx, parent=parent)
    if _sibling_exists(ctx, parent, name):
        raise Conflict(f"'{name}' already exists in this folder.", code="name_exists")
    return DMSFile.objects.create(
        client_id=ctx.client_id, org_id=ctx.org_id, created_by_id=ctx.user_id,
        updated_by_id=ctx.user_id, owner_id=ctx.user_id, name=name, parent=parent,
        is_directory=True, doc_type=doc_type or "Folder", title=title or name,
    )


@transaction.atomic
def folder_ensure_path(*, client_id: int, org_id: int, names: list[tuple[str, str]]) -> DMSFile:
    """Folders ``names`` ((name, doc_type), ...) from the root, created where missing (demo)."""
    parent = None
    for name, doc_type in names:
        folder = DMSFile.objects.filter(
            client_id=client_id, parent=parent, name=name, is_directory=True, table_name=""
        ).first()
        if folder is None:
            folder = DMSFile.objects.create(
                client_id=client_id, org_id=org_id, name=name, parent=parent, is_directory=True,
                doc_type=doc_type, title=name,
            )
        parent = folder
    return parent


@transaction.atomic
def file_place(
    *,
    ctx: RequestContext,
    stored_file: Any,
    name: str,
    parent: DMSFile | None = None,
    table_name: str = "",
    record_id: int | None = None,
    content_type: str | None = None,
    doc_type: str = "File",
    title: str = "",
    blob_name: str = "",
) -> DMSFile:
    """A new DMS file over ``stored_file`` (retained), in ``parent`` or attached to a record
    (whose org the caller's attachment service has checked)."""
    name = file_name_sanitize(name)
    _check_parent(ctx, parent)
    _writes_check(ctx, parent=parent)
    content_type = content_type or stored_file_content_type(stored_file, name)
    _retain(stored_file)
    dms_file = DMSFile.objects.create(
        client_id=ctx.client_id, org_id=ctx.org_id, created_by_id=ctx.user_id,
        updated_by_id=ctx.user_id, owner_id=ctx.user_id, name=name, parent=parent,
        is_directory=False, version=1, doc_type=doc_type, title=title or name,
        blob_name=file_name_sanitize(blob_name, default=name), stored_file=stored_file,
        table_name=table_name.lower(), record_id=record_id,
        content_type=content_type, size=stored_file.size,
        thumbnails_status=_thumbnails_status_for(content_type, stored_file),
    )
    if dms_file.thumbnails_status == ThumbnailStatus.WAITING:
        thumbnails_enqueue(stored_file)
    return dms_file


@transaction.atomic
def file_place_pending(
    *, ctx: RequestContext, session: Any, name: str, parent: DMSFile | None = None,
) -> DMSFile:
    """A DMS file for an upload still coming in (Twake chunked); it gets its bytes on completion."""
    name = file_name_sanitize(name)
    _check_parent(ctx, parent)
    _writes_check(ctx, parent=parent)
    return DMSFile.objects.create(
        client_id=ctx.client_id, org_id=ctx.org_id, created_by_id=ctx.user_id,
        updated_by_id=ctx.user_id, owner_id=ctx.user_id, name=name, parent=parent,
        is_directory=False, version=0, doc_type="File", title=name, upload_session=session,
        size=getattr(session, "size", None),
    )


def file_pending_create(
    *, ctx: RequestContext, name: str, content_type: str, size: int | None, chunk_count: int,
    dialect: str, parent: DMSFile | None = None,
) -> DMSFile:
    """A new upload session and the pending DMS file over it (Twake); the org check comes first,
    so a refused write leaves no session behind."""
    name = file_name_sanitize(name)
    _check_parent(ctx, parent)
    _writes_check(ctx, parent=parent)
    session = upload_services.session_create(
        ctx=ctx, file_name=name, content_type=content_type, size=size, chunk_size=None,
        chunk_count=chunk_count, dialect=dialect,
    )
    return file_place_pending(ctx=ctx, session=session, name=name, parent=parent)


def pending_file_chunk_accept(
    *, ctx: RequestContext, dms_file: DMSFile, index: int, stream: Any, length: int,
    offset: int | None = None,
) -> DMSFile:
    """Chunk ``index`` (0-based, at ``offset`` where known) of a pending file's upload, sent by
    its uploader."""
    if dms_file.upload_session_id is None or dms_file.stored_file_id:
        raise BadRequest("This file is already uploaded.", code="already_uploaded")
    session = upload_selectors.session_for_owner(ctx, dms_file.upload_session.uid)
    _writes_check(ctx, rows=[dms_file], new_row=False)
    chunk_count = session.planned_chunk_count
    if not 0 <= index < chunk_count:
        raise BadRequest(f"chunk_number must be between 1 and {chunk_count}.", code="chunk_number")
    upload_chunks.chunk_accept(session=session, stream=stream, length=length, index=index, offset=offset)
    return dms_file_resolve(dms_file)


def dms_file_resolve(dms_file: DMSFile) -> DMSFile:
    """Give a pending file its bytes once its upload session is completed (idempotent)."""
    if dms_file.stored_file_id or dms_file.upload_session_id is None:
        return dms_file
    with transaction.atomic():
        # The row lock serializes this with a delete of the file (``dms_file_delete``).
        locked = DMSFile.objects.select_for_update().filter(pk=dms_file.pk).first()
        if locked is None:
            raise NotFound("No such file.")
        if locked.stored_file_id is None and locked.upload_session_id is not None:
            session = locked.upload_session
            stored_file = session.finished_file
            if stored_file is not None:
                content_type = stored_file_content_type(stored_file, locked.name)
                _retain(stored_file)
                locked.stored_file = stored_file
                locked.content_type = content_type
                locked.size = stored_file.size
                locked.version = 1
                locked.thumbnails_status = _thumbnails_status_for(content_type, stored_file)
                locked.save()
                if locked.thumbnails_status == ThumbnailStatus.WAITING:
                    thumbnails_enqueue(stored_file)
                # The file now holds its own reference: the upload was only the vehicle.
                upload_services.session_cancel(session=session)
    dms_file.refresh_from_db()
    return dms_file


def upload_completed(session: Any) -> None:
    """Completion hook: files waiting for this upload (Twake chunked) get their bytes at once,
    so thumbnails start without waiting for a read. Reads resolve too, should a hook be missed.
    A file deleted meanwhile (its delete held the row lock) is simply gone."""
    for dms_file in DMSFile.objects.filter(upload_session_id=session.pk, stored_file=None):
        try:
            dms_file_resolve(dms_file)
        except NotFound:
            continue


def upload_stored_file(session: Any) -> Any:
    """The StoredFile of a completed upload; 409 + Retry-After while it is being finalized."""
    session.refresh_from_db(fields=["state", "stored_file"])
    state = session.state
    if state == "COMPLETED":
        stored_file = session.finished_file
        if stored_file is not None:
            return stored_file
    if state in {"PROCESSING", "COMPLETED"}:
        raise NotReady("The upload is still being processed.", retry_after=2)
    if state in {"INITIATED", "UPLOADING"}:
        raise Conflict("The upload is not complete yet.", code="upload_incomplete")
    raise Conflict(f"The upload is {state.lower()}.", code="upload_unusable")


@transaction.atomic
def document_from_upload(
    *, ctx: RequestContext, session: Any, name: str | None = None, parent: DMSFile | None = None,
    table_name: str = "", record_id: int | None = None, title: str = "",
    doc_type: str = "File", blob_name: str = "",
) -> DMSFile:
    _check_parent(ctx, parent)
    _writes_check(ctx, parent=parent)
    stored_file = upload_stored_file(session)
    return file_place(
        ctx=ctx, stored_file=stored_file, name=name or session.file_name,
        parent=parent, table_name=table_name, record_id=record_id, title=title,
        doc_type=doc_type, blob_name=blob_name,
    )


@transaction.atomic
def document_update(
    *, ctx: RequestContext, dms_file: DMSFile, title: str | None = None, session: Any = None,
    blob_name: str = "",
) -> DMSFile:
    """Change a document's title and/or give it new content from a finished upload (Nuxeo PUT).

    The new bytes are retained before the old ones are released, so content identical to the
    old one (the same StoredFile) never drops to zero references in between."""
    # Lock the document row only: PostgreSQL refuses FOR UPDATE on the nullable side of the join.
    locked = (
        DMSFile.objects.select_for_update(of=("self",))
        .filter(pk=dms_file.pk, client_id=ctx.client_id).select_related("stored_file").first()
    )
    if locked is None:
        raise NotFound("No such document.")
    _writes_check(ctx, rows=[locked], new_row=False)
    if session is not None:
        if locked.is_directory:
            raise BadRequest("A folder has no file:content.", code="folder_content")
        if locked.stored_file_id is None and locked.upload_session_id is not None:
            raise Conflict("This file is still being uploaded.", code="upload_in_progress")
        stored_file = upload_stored_file(session)
        old = locked.stored_file if locked.stored_file_id else None
        name = blob_name or session.file_name or locked.name
        content_type = stored_file_content_type(stored_file, name)
        _retain(stored_file)
        locked.stored_file = stored_file
        locked.blob_name = file_name_sanitize(name, default=locked.name)
        locked.content_type = content_type
        locked.size = stored_file.size
        locked.version += 1
        locked.thumbnails_status = _thumbnails_status_for(content_type, stored_file)
        if locked.thumbnails_status == ThumbnailStatus.WAITING:
            thumbnails_enqueue(stored_file)
        if old is not None:
            _release(old)
    if title is not None:
        locked.title = title
    locked.updated_by_id = ctx.user_id
    locked.save()
    return locked


# --- attachments -----------------------------------------------------------------------------------


@transaction.atomic
def attachment_add(
    *, ctx: RequestContext, record: Any, stored_file: Any, name: str, overwrite: bool = False,
) -> DMSFile:
    """Attach ``stored_file`` as ``name`` to ``record`` (already resolved with write access)."""
    name = file_name_sanitize(name)
    table_name = record._meta.db_table.lower()
    existing = list(
        DMSFile.objects.select_for_update().filter(
            client_id=ctx.client_id, table_name=table_name, record_id=record.pk, name=name
        )
    )
    _writes_check(ctx, record=record, rows=existing)
    if existing and not overwrite:
        raise Conflict(f"An attachment named '{name}' already exists.", code="attachment_exists")
    version = max((f.version for f in existing), default=0) + 1
    for old in existing:
        _delete_one(old)
    dms_file = file_place(
        ctx=ctx, stored_file=stored_file, name=name, table_name=table_name, record_id=record.pk
    )
    if version > 1:
        DMSFile.objects.filter(pk=dms_file.pk).update(version=version)
        dms_file.version = version
    return dms_file


def attachment_add_bytes(
    *, ctx: RequestContext, record: Any, data: bytes, name: str, overwrite: bool = False,
) -> DMSFile:
    """Attach bytes given in the request (base64 JSON): stored through a one-chunk upload."""
    name = file_name_sanitize(name)
    _writes_check(ctx, record=record)  # before the bytes are stored
    if not overwrite and DMSFile.objects.filter(
        client_id=ctx.client_id, table_name=record._meta.db_table.lower(), record_id=record.pk,
        name=name,
    ).exists():
        raise Conflict(f"An attachment named '{name}' already exists.", code="attachment_exists")
    session = ingest.session_from_stream(ctx=ctx, stream=io.BytesIO(data), size=len(data), file_name=name)
    try:
        stored_file = upload_stored_file(session)
        return attachment_add(
            ctx=ctx, record=record, stored_file=stored_file, name=name, overwrite=overwrite
        )
    finally:
        # The one-shot session only carried the bytes: drop it and its reference.
        upload_services.session_cancel(session=session)


# --- attachments from a ZIP archive ---------------------------------------------------------------

_ZIP_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
_ZIP_ERRORS = (
    zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, NotImplementedError, RuntimeError,
    ValueError, OSError, struct.error,
)
# A corrupt entry while it is decompressed; storage errors (OSError) stay real errors.
_ZIP_STREAM_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError)


@dataclass(frozen=True)
class ZipLimits:
    """Caps of a ZIP import, from the ATTACHMENT_ZIP_* settings: entries, bytes per entry and in all
    (as the headers declare them, which bound what zipfile will ever return), and the largest
    compression ratio of an entry above ``ratio_min_size`` bytes."""

    max_entries: int
    max_entry_size: int
    max_total_size: int
    max_ratio: int
    ratio_min_size: int

    @classmethod
    def from_settings(cls) -> ZipLimits:
        return cls(
            max_entries=settings.ATTACHMENT_ZIP_MAX_ENTRIES,
            max_entry_size=settings.ATTACHMENT_ZIP_MAX_ENTRY_SIZE,
            max_total_size=settings.ATTACHMENT_ZIP_MAX_TOTAL_SIZE,
            max_ratio=settings.ATTACHMENT_ZIP_MAX_RATIO,
            ratio_min_size=settings.ATTACHMENT_ZIP_RATIO_MIN_SIZE,
        )


@dataclass(frozen=True)
class _ZipEntry:
    info: zipfile.ZipInfo
    name: str
    size: int


def _bad_zip(error: BaseException | None = None) -> BadRequest:
    reason = f" ({error})" if error is not None and str(error) else ""
    return BadRequest(f"data is not a valid ZIP archive{reason}.", code="invalid_zip")


def _zip_open(data: bytes) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except _ZIP_ERRORS as error:
        raise _bad_zip(error) from None


def _zip_entries_check(archive: zipfile.ZipFile, archive_size: int, limits: ZipLimits) -> list[_ZipEntry]:
    """Every file entry, with its sanitized name and its size, checked on its headers alone: 413
    past a cap or a likely bomb's ratio, 400 for an encrypted entry or a method other than stored
    or deflated. Nothing is decompressed here: the headers bound the real bytes, since zipfile
    never returns more than an entry's declared ``file_size`` (an entry holding more fails its
    CRC check while it is stored, and the import is refused then, 400)."""
    infos = [info for info in archive.infolist() if not info.is_dir()]
    if len(infos) > limits.max_entries:
        raise PayloadTooLarge(f"The ZIP archive has more than {limits.max_entries} entries.")
    if any(info.file_size > limits.max_entry_size for info in infos):
        raise PayloadTooLarge(f"A ZIP entry is larger than {limits.max_entry_size} bytes.")
    if sum(info.file_size for info in infos) > limits.max_total_size:
        raise PayloadTooLarge(f"The ZIP archive holds more than {limits.max_total_size} bytes.")
    entries = []
    for info in infos:
        if info.flag_bits & 0x1:
            raise BadRequest("data is not a valid ZIP archive (encrypted entries are not "
                             "supported).", code="invalid_zip")
        if info.compress_type not in _ZIP_METHODS:
            # bzip2/LZMA decompressors cannot be asked for bounded output pieces.
            raise BadRequest("data is not a valid ZIP archive (only stored and deflated entries "
                             "are supported).", code="invalid_zip")
        compressed = max(1, min(info.compress_size, archive_size))
        if info.file_size > limits.ratio_min_size and info.file_size > compressed * limits.max_ratio:
            raise PayloadTooLarge(
                f"A ZIP entry expands more than {limits.max_ratio} times; refused as a likely ZIP "
                "bomb."
            )
        entries.append(_ZipEntry(info=info, name=file_name_sanitize(info.filename),
                                 size=info.file_size))
    return entries


def _zip_names_check(
    ctx: RequestContext, record: Any, entries: list[_ZipEntry], overwrite: bool,
) -> list[_ZipEntry]:
    """409 (and 403 for a replaced row the role may not write) before any byte is stored: a name
    twice in the archive, or an attachment already named so, unless ``overwrite`` (then the
    archive's last entry of a name wins)."""
    by_name: dict[str, _ZipEntry] = {}
    for entry in entries:
        if entry.name in by_name and not overwrite:
            raise Conflict(f"The ZIP archive holds '{entry.name}' twice.", code="attachment_exists")
        by_name[entry.name] = entry
    existing = list(DMSFile.objects.filter(
        client_id=ctx.client_id, table_name=record._meta.db_table.lower(), record_id=record.pk,
        name__in=list(by_name),
    ))
    _writes_check(ctx, record=record, rows=existing)
    if existing and not overwrite:
        raise Conflict(
            f"An attachment named '{existing[0].name}' already exists.", code="attachment_exists"
        )
    return list(by_name.values())


def attachments_add_zip(
    *, ctx: RequestContext, record: Any, data: bytes, overwrite: bool = False,
) -> list[DMSFile]:
    """Attach every file of a ZIP archive to ``record`` (resolved with write access), all or none.

    Checked first on the headers, before a byte is stored: the caps (``ZipLimits``; 413), the
    archive itself (400), the names (409). Then each entry is decompressed and streamed to storage
    in bounded pieces (a corrupt one, found there, answers 400), and every attachment is made in
    one transaction. A refusal leaves no row, and the bytes stored for it are freed: the one-shot
    upload sessions that carried them are cancelled in any case, which drops their only reference
    when nothing was attached."""
    _writes_check(ctx, record=record)
    archive = _zip_open(data)
    with archive:
        entries = _zip_entries_check(archive, len(data), ZipLimits.from_settings())
        entries = _zip_names_check(ctx, record, entries, overwrite)
        sessions = []
        try:
            stored = []
            for entry in entries:
                try:
                    with archive.open(entry.info) as stream:
                        session = ingest.session_from_stream(
                            ctx=ctx, stream=stream, size=entry.size, file_name=entry.name,
                        )
                except _ZIP_STREAM_ERRORS as error:  # a corrupt entry, found while it is stored
                    raise _bad_zip(error) from None
                sessions.append(session)
                stored.append((entry.name, upload_stored_file(session)))
            with transaction.atomic():
                return [
                    attachment_add(
                        ctx=ctx, record=record, stored_file=stored_file, name=name,
                        overwrite=overwrite,
                    )
                    for name, stored_file in stored
                ]
        finally:
            for session in sessions:
                upload_services.session_cancel(session=session)


@transaction.atomic
def attachment_remove(*, ctx: RequestContext, record: Any, name: str | None = None) -> int:
    """Delete one attachment (by name) or all of a record's that the role sees; 404 when the
    named one is missing (or in an org the role does not see)."""
    queryset = dms_files_qs(ctx).select_for_update().filter(
        table_name=record._meta.db_table.lower(), record_id=record.pk
    )
    if name is not None:
        queryset = queryset.filter(name=name)
    files = list(queryset)
    if name is not None and not files:
        raise NotFound(f"No attachment named '{name}'.")
    _writes_check(ctx, record=record, rows=files, new_row=False)
    for dms_file in files:
        _delete_one(dms_file)
    return len(files)


# --- images and archives ---------------------------------------------------------------------------


@transaction.atomic
def image_create(*, ctx: RequestContext, stored_file: Any, name: str) -> Image:
    _writes_check(ctx)
    name = file_name_sanitize(name)
    content_type = stored_file_content_type(stored_file, name)
    _retain(stored_file)
    return Image.objects.create(
        client_id=ctx.client_id, org_id=ctx.org_id, created_by_id=ctx.user_id,
        updated_by_id=ctx.user_id, name=name, stored_file=stored_file, content_type=content_type,
    )


@transaction.atomic
def archive_create(
    *, ctx: RequestContext, stored_file: Any, name: str, record: Any | None = None,
) -> Archive:
    _writes_check(ctx, record=record)
    name = file_name_sanitize(name)
    content_type = stored_file_content_type(stored_file, name)
    _retain(stored_file)
    return Archive.objects.create(
        client_id=ctx.client_id, org_id=ctx.org_id, created_by_id=ctx.user_id,
        updated_by_id=ctx.user_id, name=name, stored_file=stored_file, content_type=content_type,
        table_name=record._meta.db_table if record is not None else "",
        record_id=record.pk if record is not None else 0,
        record_uid=str(getattr(record, "uid", "") or "") if record is not None else "",
    )


@transaction.atomic
def image_delete(*, image: Image) -> None:
    stored_file = image.stored_file
    image.delete()
    _release(stored_file)


@transaction.atomic
def archive_delete(*, archive: Archive) -> None:
    stored_file = archive.stored_file
    archive.delete()
    _release(stored_file)


# --- the iDempiere copy call -----------------------------------------------------------------------

COPY_LOCATIONS = ("ARCHIVE", "IMAGE", "ATTACHMENT")


@dataclass(frozen=True)
class CopyResult:
    location: str
    table_name: str
    record_id: int
    record_uid: str
    file_name: str
    content_type: str
    file_size: int
    target: Any


def upload_copy(
    *, ctx: RequestContext, session: Any, location: str, table_name: str | None,
    record_ref: Any | None,
) -> CopyResult:
    """Place a completed upload as an archive, an image or an attachment of a record.

    No new bytes: the target references the upload's stored file (the client's own, counted once
    by its storage quota, ``apps.uploads.quota``), so a copy is allowed at a full quota."""
    location = (location or session.location or "").upper()
    if location not in COPY_LOCATIONS:
        raise BadRequest(
            f"copyLocation must be one of {', '.join(COPY_LOCATIONS)}.", code="copy_location"
        )
    record = None
    if location == "ATTACHMENT" or table_name or record_ref not in (None, ""):
        if not table_name or record_ref in (None, ""):
            raise BadRequest("tableName and recordId are required.", code="record_required")
        record = record_resolve(ctx, table_name, record_ref, write=True)
    _writes_check(ctx, record=record)
    with transaction.atomic():
        stored_file = upload_stored_file(session)
        name = session.file_name
        if location == "IMAGE":
            target = image_create(ctx=ctx, stored_file=stored_file, name=name)
            table, record_id, record_uid = "AD_Image", target.pk, str(target.uid)
            upload_services.session_record_result(session=session, imageId=target.pk)
        elif location == "ARCHIVE":
            target = archive_create(ctx=ctx, stored_file=stored_file, name=name, record=record)
            table = record._meta.db_table if record is not None else ""
            record_id = record.pk if record is not None else 0
            record_uid = str(getattr(record, "uid", "")) if record is not None else ""
        else:
            target = attachment_add(
                ctx=ctx, record=record, stored_file=stored_file, name=name, overwrite=True
            )
            table, record_id, record_uid = (
                record._meta.db_table, record.pk, str(getattr(record, "uid", ""))
            )
    return CopyResult(
        location=location, table_name=table, record_id=record_id, record_uid=record_uid,
        file_name=target.name, content_type=target.content_type, file_size=stored_file.size,
        target=target,
    )


# --- rename and move (the web UI) -----------------------------------------------------------------


def _locked_tree_node(ctx: RequestContext, dms_file: DMSFile) -> DMSFile:
    locked = (
        DMSFile.objects.select_for_update()
        .filter(pk=dms_file.pk, client_id=ctx.client_id, table_name="").first()
    )
    if locked is None:
        raise NotFound("No such file.")
    return locked


@transaction.atomic
def dms_file_rename(*, ctx: RequestContext, dms_file: DMSFile, name: str) -> DMSFile:
    """Give a folder or file of the tree a new name (unique among its siblings; 409 otherwise).
    A title that was the old name follows the name."""
    locked = _locked_tree_node(ctx, dms_file)
    name = file_name_sanitize(name)
    _writes_check(ctx, rows=[locked], new_row=False)
    if name == locked.name:
        return locked
    if _sibling_exists(ctx, locked.parent, name):
        raise Conflict(f"'{name}' already exists in this folder.", code="name_exists")
    if locked.title in ("", locked.name):
        locked.title = name
    locked.name = name
    locked.updated_by_id = ctx.user_id
    locked.save()
    return locked


@transaction.atomic
def dms_file_move(*, ctx: RequestContext, dms_file: DMSFile, parent: DMSFile | None) -> DMSFile:
    """Move a folder or file of the tree into folder ``parent`` (None: the root). A folder cannot
    go into itself or below itself; the name must be free in the target (409 otherwise)."""
    locked = _locked_tree_node(ctx, dms_file)
    _check_parent(ctx, parent)
    node = parent
    while node is not None:
        if node.pk == locked.pk:
            raise BadRequest("A folder cannot be moved into itself.", code="move_into_self")
        node = node.parent
    _writes_check(ctx, parent=parent, rows=[locked], new_row=False)
    if (parent.pk if parent else None) == locked.parent_id:
        return locked
    if _sibling_exists(ctx, parent, locked.name):
        raise Conflict(f"'{locked.name}' already exists in the target folder.", code="name_exists")
    locked.parent = parent
    locked.updated_by_id = ctx.user_id
    locked.save()
    return locked


# --- deletes ---------------------------------------------------------------------------------------


def _delete_one(dms_file: DMSFile) -> None:
    stored_file = dms_file.stored_file if dms_file.stored_file_id else None
    dms_file.delete()
    if stored_file is not None:
        _release(stored_file)


def _pending_upload_of_caller(ctx: RequestContext, dms_file: DMSFile, *, target: bool) -> Any:
    """The live upload a pending file (Twake chunked) still waits for, when the caller owns it.

    Deleting the file cancels that upload, so only its owner may: anyone else gets 409, for the
    file itself (which they may read) as for a folder holding it, and the upload goes on. A dead
    upload (cancelled, expired) has nothing left to cancel: None."""
    session = dms_file.upload_session
    session.refresh_from_db(fields=["state", "stored_file"])
    if session.state in {"CANCELLED", "EXPIRED"} or session.is_expired:
        return None
    try:
        return upload_selectors.session_for_owner(ctx, session.uid)
    except Gone:  # the owner's, expired meanwhile
        return None
    except NotFound:
        what = "This file is" if target else "This folder holds a file"
        raise Conflict(
            f"{what} still being uploaded by its owner.", code="upload_in_progress"
        ) from None


@transaction.atomic
def dms_file_delete(*, ctx: RequestContext, dms_file: DMSFile) -> int:
    """Delete a file, or a folder with everything under it; returns how many rows went.

    Deleting an attachment changes its record: that needs write access to the record's table and
    org, as attaching does. A completed file needs write access to its org, whoever made it; a
    pending file's upload is cancelled with it, which only the upload's owner may do.

    Every row is locked before it is read, as the completion hook (``dms_file_resolve``) locks a
    pending file's row to give it its bytes: the two serialize, so a file linked meanwhile is seen
    linked and its bytes are released. A pending file whose upload has finished is linked here
    first (no longer an upload in progress), then deleted and released like any other."""
    if dms_file.client_id != ctx.client_id:
        raise NotFound("No such file.")
    if dms_file.is_attachment:
        record_resolve(ctx, dms_file.table_name, dms_file.record_id, write=True)
    root = DMSFile.objects.select_for_update().filter(pk=dms_file.pk).first()
    if root is None:
        raise NotFound("No such file.")
    doomed = [root]
    frontier = [root.pk]
    while frontier:
        children = list(
            DMSFile.objects.select_for_update().filter(parent_id__in=frontier).order_by("pk")
        )
        doomed.extend(children)
        frontier = [c.pk for c in children if c.is_directory]
    uploads = []
    for node in doomed:
        if node.upload_session_id is None or node.stored_file_id is not None:
            continue
        dms_file_resolve(node)  # a finished upload: the file takes its bytes, the session goes
        if node.stored_file_id is None:
            uploads.append(_pending_upload_of_caller(ctx, node, target=node is root))
    _writes_check(ctx, rows=doomed, new_row=False)
    for node in reversed(doomed):
        _delete_one(node)
    for session in uploads:
        if session is not None:
            upload_services.session_cancel(session=session)
    return len(doomed)


# --- thumbnails ------------------------------------------------------------------------------------


# How thumbnails were kept before they were per tenant: one object per content hash.
SHARED_THUMBNAIL_KEY = r"^thumbnails/[0-9a-f]{2}/[0-9a-f]{64}/"


def thumbnail_key(stored_file: Any, index: int) -> str:
    """Where a thumbnail's bytes go: under its tenant and its own StoredFile, so that no two
    tenants' documents ever share, overwrite or delete one another's thumbnail, whatever their
    bytes (the content hash alone named them once: ``thumbnails/{sha[:2]}/{sha}/{index}.png``)."""
    return f"{_thumbnail_prefix(stored_file)}{index}.png"


def _thumbnail_prefix(stored_file: Any) -> str:
    tenant = stored_file.client_id if stored_file.client_id is not None else "shared"
    return f"thumbnails/{tenant}/{stored_file.pk}/"


def _thumbnail_is_own(thumbnail: Thumbnail, stored_file: Any) -> bool:
    """Whether the row's bytes are under its StoredFile's own key (not a shared, older one)."""
    return thumbnail.storage_key.startswith(_thumbnail_prefix(stored_file))


def _render_attempt_begin(stored_file: Any) -> bool:
    """Record a render attempt before it starts (committed: a worker killed mid-render leaves
    it counted). False when the file gets no render: it failed before, or a render that never
    came back was tried ``THUMBNAIL_MAX_ATTEMPTS`` times (then it is marked failed here)."""
    max_attempts = max(int(getattr(settings, "THUMBNAIL_MAX_ATTEMPTS", 2)), 1)
    with transaction.atomic():
        render, _ = ThumbnailRender.objects.select_for_update().get_or_create(
            stored_file_id=stored_file.pk
        )
        if render.state == ThumbnailRender.State.FAILED:
            return False
        if render.state == ThumbnailRender.State.DONE:  # its rows went: render anew
            render.attempts = 0
        if render.attempts >= max_attempts:
            render.state = ThumbnailRender.State.FAILED
            render.detail = f"{render.attempts} renders never came back (their worker stopped)"
            render.save()
            return False
        render.state = ThumbnailRender.State.RENDERING
        render.attempts += 1
        render.started = timezone.now()
        render.save()
    return True


def _render_attempt_end(
    stored_file: Any, state: str, *, detail: str = "", peak_rss: int | None = None,
    given_back: bool = False,
) -> None:
    changes: dict[str, Any] = {"state": state, "detail": detail[:500], "updated": timezone.now()}
    if peak_rss is not None:
        changes["peak_rss"] = peak_rss
    if given_back:  # a storage error, not the file's doing: the attempt does not count
        changes["attempts"] = Greatest(F("attempts") - 1, 0)
    ThumbnailRender.objects.filter(stored_file_id=stored_file.pk).update(**changes)


def thumbnails_build(*, stored_file_id: int) -> list[Thumbnail]:
    """Render and keep the thumbnails of one StoredFile, then mark its documents (idempotent).

    The render runs in a bounded child process (``apps.dms.thumbnails``). A file whose render is
    refused, fails or is stopped is marked "no thumbnail" (``ThumbnailStatus.ERROR``) at once and
    never rendered again; an attempt is recorded before each render, so a task redelivered after
    its worker died (acks_late) gives up after ``THUMBNAIL_MAX_ATTEMPTS`` instead of looping.
    Storage errors (``OSError``) give the attempt back and are the task's to retry.

    Thumbnails kept under a key shared by every tenant's copy of the same content (made before
    thumbnails were per tenant) are rebuilt under this StoredFile's own key."""
    stored_file = upload_selectors.stored_file_by_id(stored_file_id)
    if stored_file is None:
        return []
    existing = list(Thumbnail.objects.filter(stored_file=stored_file).order_by("index"))
    if existing and all(_thumbnail_is_own(t, stored_file) for t in existing):
        _thumbnails_mark(stored_file, ThumbnailStatus.DONE)
        return existing
    content_type = stored_file_content_type(stored_file)
    if not thumbnail_supported(content_type):
        _thumbnails_mark(stored_file, ThumbnailStatus.NONE)
        return []
    if not _render_attempt_begin(stored_file):
        if not existing:
            _thumbnails_mark(stored_file, ThumbnailStatus.ERROR)
        return existing
    try:
        handle = stored_files.stored_file_open(stored_file)
        try:
            outcome = thumbnails_render_outcome(handle, content_type)
        finally:
            handle.close()
    except OSError:
        _render_attempt_end(stored_file, ThumbnailRender.State.PENDING, given_back=True)
        raise
    if outcome.refused:
        logger.warning("no thumbnail for stored file %s: %s", stored_file_id, outcome.refused)
        _render_attempt_end(stored_file, ThumbnailRender.State.FAILED, detail=outcome.refused,
                            peak_rss=outcome.peak_rss)
        for thumbnail in existing:  # a shared, older thumbnail of content now refused
            thumbnail.delete()
        _thumbnails_mark(stored_file, ThumbnailStatus.ERROR)
        return []
    try:
        made = _thumbnails_keep(stored_file, outcome.thumbnails)
    except OSError:
        _render_attempt_end(stored_file, ThumbnailRender.State.PENDING, given_back=True)
        raise
    _render_attempt_end(stored_file, ThumbnailRender.State.DONE, peak_rss=outcome.peak_rss)
    _thumbnails_mark(stored_file, ThumbnailStatus.DONE)
    return made


def _thumbnails_keep(stored_file: Any, rendered: list[Any]) -> list[Thumbnail]:
    """Save rendered thumbnails under the StoredFile's own keys and point its rows at them."""
    made = []
    storage = stored_files.stored_file_storage(stored_file)  # beside the bytes, not the worker's default
    for item in rendered:
        key = thumbnail_key(stored_file, item.index)
        if storage.exists(key):  # left by an earlier run of this same StoredFile
            storage.delete(key)
        saved_key = storage.save(key, ContentFile(item.data))
        fields = {"content_type": item.content_type, "size": len(item.data),
                  "width": item.width, "height": item.height, "storage_key": saved_key}
        try:
            with transaction.atomic():
                thumbnail = (
                    Thumbnail.objects.select_for_update()
                    .filter(stored_file=stored_file, index=item.index).first()
                )
                if thumbnail is not None and thumbnail.storage_key != saved_key:
                    # Under a shared, older key: a new row (a new ETag); the old bytes go once
                    # no row points at them.
                    thumbnail.delete()
                    thumbnail = None
                if thumbnail is None:
                    thumbnail = Thumbnail.objects.create(
                        stored_file=stored_file, index=item.index, **fields
                    )
        except IntegrityError:  # a concurrent run made the same thumbnail: keep theirs
            thumbnail = Thumbnail.objects.get(stored_file=stored_file, index=item.index)
        made.append(thumbnail)
    return made


def _thumbnails_mark(stored_file: Any, status: str) -> None:
    DMSFile.objects.filter(stored_file=stored_file).exclude(thumbnails_status=status).update(
        thumbnails_status=status
    )


def thumbnails_rebuild_shared() -> int:
    """Enqueue a rebuild for every StoredFile whose thumbnails still use a key shared across
    tenants (run after ``migrate``); each keeps reading its old object until it is rebuilt."""
    shared = Thumbnail.objects.filter(storage_key__regex=SHARED_THUMBNAIL_KEY).select_related(
        "stored_file"
    )
    stale = {t.stored_file_id for t in shared if not _thumbnail_is_own(t, t.stored_file)}
    from apps.dms.tasks import thumbnails_make

    for stored_file_id in sorted(stale):
        thumbnails_make.delay(stored_file_id)
    return len(stale)


def thumbnail_storage(thumbnail: Thumbnail) -> Any:
    """Where a thumbnail's bytes are: the storage of its StoredFile (the default if it is gone)."""
    stored_file = upload_selectors.stored_file_by_id(thumbnail.stored_file_id)
    return stored_files.stored_file_storage(stored_file) if stored_file is not None else default_storage


def thumbnail_open(thumbnail: Thumbnail) -> Any:
    """A reader over a thumbnail's bytes; 404 (a problem body, never a 500) when they are gone."""
    try:
        return thumbnail_storage(thumbnail).open(thumbnail.storage_key, "rb")
    except FileNotFoundError as error:
        logger.warning("thumbnail %s of stored file %s has no bytes at %s", thumbnail.index,
                       thumbnail.stored_file_id, thumbnail.storage_key)
        raise NotFound("No such thumbnail.") from error


def thumbnail_bytes_delete(*, storage_key: str, storage: Any = None) -> None:
    """Remove a deleted thumbnail's bytes once the deletion is committed, unless a row still
    points at them (only a key shared before thumbnails were per tenant can be)."""
    target = storage if storage is not None else default_storage
    shared = re.match(SHARED_THUMBNAIL_KEY, storage_key) is not None

    def delete() -> None:
        if not (shared and Thumbnail.objects.filter(storage_key=storage_key).exists()):
            target.delete(storage_key)

    transaction.on_commit(delete)
