"""Direct-to-S3 uploads: the client sends the bytes straight to S3, the service only signs.

An upload session of mode ``DIRECT`` (``dialect`` ``s3direct``) owns one S3 multipart upload under a
key the server makes (``blobs/direct/{client}/{uid}``, :func:`stores.session_key`). The client
declares the file's size and SHA-256 when it creates the upload (the size reserved against its
quota there, as every upload of known length), asks for one presigned URL per part (bound to the
key, the upload and the part number, good for ``S3_DIRECT_URL_EXPIRY_SECONDS`` ≤ 900 s: S3 checks
them, not the service, so they cannot be revoked — signing, listing and completing are
authenticated calls, refused once the caller's session is gone), PUTs the parts to S3 itself, and
completes: the service completes the multipart upload, checks the object's size, and the upload
is finalized like any other (the worker reads the object once to hash it; a hash other than the
declared one fails the upload and deletes the object, see ``finalize._fail_unverified``). What
finalize makes of it is a stored file like any other upload's (per-tenant dedup, completion hooks).

Abandoned uploads expire like any other session: purge closes them, which aborts their multipart
upload (``stores._Store.cleanup``); a multipart upload no session knows is aborted by purge's sweep.
"""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from django.db import transaction

from apps.core.errors import BadRequest, Conflict, NotFound, Unprocessable
from apps.core.wire import parse_int
from apps.uploads import selectors, services, wire
from apps.uploads import storage as st
from apps.uploads.models import UploadSession

State = UploadSession.State
DIALECT = "s3direct"
MAX_PARTS = 10_000
MAX_URL_EXPIRY = 900  # S3 checks the URLs, nobody can revoke them: keep them short


class DirectUnavailable(Conflict):
    """Direct uploads need S3 storage (the tus endpoint serves local storage)."""

    code = "direct_uploads_need_s3"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, extra={"code": self.code})


def _coded(error: type, detail: str, code: str) -> Exception:
    """A problem whose body names its ``code`` (clients branch on it, not on the words)."""
    return error(detail, code=code, extra={"code": code})


def direct_available() -> bool:
    return bool(getattr(settings, "S3_DIRECT_UPLOADS", True)) and st.current_place().is_s3


def direct_url_expiry() -> int:
    return max(1, min(int(getattr(settings, "S3_DIRECT_URL_EXPIRY_SECONDS", 600)), MAX_URL_EXPIRY))


def _objects(session: UploadSession) -> Any:
    return st.objects_for(services.session_storage(session), session.storage_backend)


def direct_create(
    *, ctx: Any, file_name: str, content_type: str = "", size: Any, sha256: Any,
    meta: dict[str, Any] | None = None,
) -> UploadSession:
    """A new direct upload of the caller with its multipart upload opened on S3.

    The size and the SHA-256 are required: the size is reserved against the client's quota (413)
    and checked against the object at completion, the SHA-256 against what the worker reads."""
    if not direct_available():
        raise DirectUnavailable(
            "Direct uploads need S3 storage; this service keeps files locally: use /api/v1/tus/."
        )
    if size in (None, ""):
        raise _coded(BadRequest, "The file's size is required (metadata.size).", "size_required")
    digest = wire.normalize_sha256(sha256, "metadata.sha256")
    if not digest:
        raise _coded(
            BadRequest, "The file's SHA-256 is required (metadata.sha256).", "sha256_required"
        )
    return services.session_create(
        ctx=ctx, file_name=file_name or "upload", content_type=content_type or "", size=size,
        sha256=digest, dialect=DIALECT, meta=meta, mode=UploadSession.Mode.DIRECT,
    )


def direct_session(ctx: Any, upload_id: Any, key: Any = None) -> UploadSession:
    """The caller's direct upload named by the client (404 for anyone else's, or a key that is
    not the upload's: the key is the server's, the client only repeats it)."""
    session = selectors.session_for_owner(ctx, upload_id)
    if session.mode != UploadSession.Mode.DIRECT:
        raise NotFound("No such upload.")
    if key not in (None, "") and str(key) != session.storage_key:
        raise NotFound("No such upload.")
    return session


def _raise_unless_open(session: UploadSession) -> None:
    services.session_raise_if_closed(session)
    if session.state not in UploadSession.OPEN_STATES:
        raise Conflict("The upload is already complete.")


def part_limit(session: UploadSession) -> int:
    """Parts a client may ask for: each but the last has at least S3's 5 MiB."""
    return max(1, min(MAX_PARTS, math.ceil((session.size or 0) / st.S3_MIN_PART_SIZE)))


def direct_sign_part(*, session: UploadSession, part_number: Any) -> dict[str, Any]:
    """``{url, expires}``: a PUT of part ``part_number`` of this upload's key, nothing else."""
    _raise_unless_open(session)
    number = parse_int(part_number, "partNumber")
    limit = part_limit(session)
    if not 1 <= number <= limit:
        raise BadRequest(f"partNumber must be between 1 and {limit} for this file's size.")
    expires = direct_url_expiry()
    url = _objects(session).presign_part(session.storage_key, session.s3_upload_id, number, expires)
    return {"url": url, "expires": expires}


def direct_list_parts(*, session: UploadSession) -> list[dict[str, Any]]:
    """The parts S3 already holds (a client resuming after a reload sends only the others)."""
    _raise_unless_open(session)
    parts = _objects(session).list_parts(session.storage_key, session.s3_upload_id)
    if parts is None:
        raise NotFound("S3 no longer has this upload's parts.")
    return parts


def _parse_parts(raw: Any) -> list[tuple[int, str]]:
    if not isinstance(raw, list) or not raw or len(raw) > MAX_PARTS:
        raise BadRequest(f"parts must be a list of 1 to {MAX_PARTS} {{PartNumber, ETag}} objects.")
    parts: list[tuple[int, str]] = []
    for item in raw:
        if not isinstance(item, dict):
            raise BadRequest("Each part must be an object with PartNumber and ETag.")
        number = parse_int(item.get("PartNumber"), "PartNumber", minimum=1, maximum=MAX_PARTS)
        etag = item.get("ETag")
        if not isinstance(etag, str) or not etag or len(etag) > 200 or not etag.isprintable():
            raise BadRequest("Each part needs its ETag as S3 answered it.")
        if parts and number <= parts[-1][0]:
            raise BadRequest("parts must be in ascending PartNumber order, each once.")
        parts.append((number, etag))
    return parts


def direct_complete(*, session: UploadSession, parts: Any) -> UploadSession:
    """Complete the multipart upload on S3, check the object's size, and hand the upload to
    finalize (the worker hashes it). A retried complete of a completed upload answers the same."""
    parsed = _parse_parts(parts)
    failure = ""
    with transaction.atomic():
        locked = services.session_row_lock(session.pk)
        if locked.state in (State.PROCESSING, State.COMPLETED):
            return locked
        _raise_unless_open(locked)
        if parsed[-1][0] > part_limit(locked):
            raise BadRequest("More parts than this file's size allows.")
        objects = _objects(locked)
        objects.complete_declared(locked.storage_key, locked.s3_upload_id, parsed)
        size = objects.size_of(locked.storage_key)
        if size != locked.size:
            failure = f"Size mismatch: S3 holds {size} bytes, {locked.size} were declared."
            locked.state, locked.failure_reason = State.FAILED, failure
            locked.save(update_fields=["state", "failure_reason", "updated"])
            transaction.on_commit(lambda: services.session_bytes_cleanup(locked))
        else:
            locked.received_bytes = size
            locked.state = State.PROCESSING
            locked.save(update_fields=["received_bytes", "state", "updated"])
            services.finalize_enqueue(locked.pk)
    if failure:
        raise _coded(Unprocessable, f"The upload failed: {failure}", "size_mismatch")
    return locked


def direct_abort(*, session: UploadSession) -> None:
    """Cancel: the multipart upload aborted and its parts deleted (after commit)."""
    services.session_cancel(session=session)
