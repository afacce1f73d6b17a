"""One ingest path: a request body into an upload session, as engine chunks (DESIGN §8).

A dialect hands the whole body of a request to :func:`body_accept`; it is taken as consecutive
engine chunks, each received, hashed, claimed and recorded by :func:`chunks.chunk_accept`, so no
chunk is larger than ``UPLOAD_MAX_CHUNK_SIZE`` whatever size of body the client sends. A request
that names one chunk of its client's own layout (an iDempiere ``PUT .../chunks/{n}``, a Nuxeo
chunk, a Twake chunk) is that chunk and goes to ``chunk_accept`` itself.

Also here: the layout of a session made for one body (:func:`body_layout`) and the one-shot
uploads of bytes the service already holds a stream of (:func:`session_from_stream`,
:func:`stored_file_from_stream`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings

from apps.core.errors import PayloadTooLarge
from apps.uploads import chunks, finalize, quota, services
from apps.uploads.models import UploadSession

State = UploadSession.State


@dataclass
class BodyResult:
    session: UploadSession  # as the body's last chunk left it
    received: int  # bytes of the body taken: fewer than announced only for a partial append
    created: bool  # False: every chunk of the body was already in (an idempotent retry)
    complete: bool  # every byte of the upload is in; finalize is (or was) enqueued


def body_layout(length: int | None) -> tuple[int | None, int | None]:
    """``(chunk_size, chunk_count)`` of an indexed session made to take one body of ``length``
    bytes: one chunk when it fits an engine chunk (or its length is unknown: read to its end),
    else engine chunks (``session_create`` derives their count from the size)."""
    max_chunk = int(settings.UPLOAD_MAX_CHUNK_SIZE)
    if length is not None and length > max_chunk:
        return max_chunk, None
    return None, 1


def _pieces(session: UploadSession, length: int | None, index: int | None) -> list[int | None]:
    """The lengths of the engine chunks a body of ``length`` bytes is taken as.

    Appends split at ``UPLOAD_MAX_CHUNK_SIZE``; indexed chunks follow the session's chunk size
    (an indexed session without one takes a body as one chunk). A body of unknown length (chunked
    transfer) is one chunk, read to its end within the engine's bounds."""
    if length is None:
        return [None]
    step = int(settings.UPLOAD_MAX_CHUNK_SIZE) if index is None else session.chunk_size
    if not step or length <= step:
        return [length]
    return [min(step, length - start) for start in range(0, length, step)]


def _refuse_early(
    session: UploadSession, length: int, index: int | None, offset: int | None, *, verified: bool
) -> None:
    """What the chunks of a split body would refuse late is refused before a byte is read (413),
    so that no chunk of it is kept: a checksum declared for the whole body (it could only be
    verified once every chunk was kept), and a body that goes past the upload's size."""
    max_chunk = int(settings.UPLOAD_MAX_CHUNK_SIZE)
    if verified:
        raise PayloadTooLarge(
            f"A body with a checksum may not be larger than {max_chunk} bytes: its checksum is "
            "verified before any of it is kept. Send it in smaller requests, or without one."
        )
    if session.size is None:
        return
    if index is not None:
        start = index * (session.chunk_size or 0)
    elif offset is not None:
        start = offset
    else:
        start = session.received_bytes
    if start + length > session.size:
        raise PayloadTooLarge("The body goes beyond the upload's size.")


def body_accept(
    *,
    session: UploadSession,
    stream: Any,
    length: int | None,
    index: int | None = None,
    offset: int | None = None,
    sha256: str | None = None,
    checksum: tuple[str, str] | None = None,
    partial_ok: bool = False,
) -> BodyResult:
    """Take a request body of ``length`` bytes (None: to its end) into ``session``.

    With ``index`` (0-based) the body fills consecutive chunks of the session's layout from that
    index; without it, it is appended at ``offset`` (or where the received bytes end) in chunks of
    at most ``UPLOAD_MAX_CHUNK_SIZE``, each at the offset where the one before ended, so another
    writer's append between them is a 409, never interleaved bytes. A body that fits one engine
    chunk is exactly one :func:`chunks.chunk_accept`, with its answers.

    ``sha256``/``checksum`` are the whole body's: it is verified before anything counts, so a body
    that declares one must fit one engine chunk (413 otherwise, nothing read). A split body that
    would go past the upload's size is refused the same way, before a byte is read.

    ``partial_ok`` (appends: tus): a body that ends early keeps the whole chunks before the cut
    and what arrived of the last one (``BodyResult.received`` says how much); otherwise a short
    body is refused (400) and the chunks before it stay received (the caller decides whether the
    session lives on: tus keeps them, a one-shot upload cancels its session).
    """
    pieces = _pieces(session, length, index)
    if len(pieces) > 1:
        _refuse_early(session, length or 0, index, offset, verified=bool(sha256 or checksum))
        # Of unknown length, the whole body against the client's quota: none of it, or all.
        quota.quota_precheck(session=session, length=length)
    received, created = 0, False
    position = offset
    for number, piece in enumerate(pieces):
        result = chunks.chunk_accept(
            session=session, stream=stream, length=piece,
            index=None if index is None else index + number,
            offset=position, sha256=sha256, checksum=checksum, partial_ok=partial_ok,
        )
        received += result.chunk.size
        created = created or result.created
        if index is None:
            position = result.chunk.offset + result.chunk.size
        if piece is not None and result.chunk.size < piece:
            break  # the body ended early (partial_ok): what arrived counts, nothing more comes
    return BodyResult(result.session, received, created, result.complete)


def session_from_stream(*, ctx: Any, stream: Any, size: int, file_name: str) -> UploadSession:
    """A finished upload of ``size`` bytes read from ``stream`` (a ZIP entry, a base64 body), in
    engine chunks, finalized here if no worker has yet (so call it outside a transaction, or
    finalize would wait for the commit). On any failure the session is cancelled: nothing of it
    stays behind."""
    chunk_size, chunk_count = body_layout(size)
    session = services.session_create(
        ctx=ctx, file_name=file_name, size=size, chunk_size=chunk_size, chunk_count=chunk_count,
        dialect="json",
    )
    try:
        body_accept(session=session, stream=stream, length=size, index=0)
        session.refresh_from_db()
        if session.stored_file_id is None and session.state in {State.PROCESSING, State.UPLOADING}:
            finalize.session_finalize(session_id=session.pk)
            session.refresh_from_db()
    except BaseException:
        services.session_cancel(session=session)
        raise
    return session


def stored_file_from_stream(
    *, ctx: Any, stream: Any, length: int | None, file_name: str, content_type: str = "",
    sha256: str | None = None, location: str = "", dialect: str = "single",
) -> UploadSession:
    """A one-shot upload (multipart form part, JSON base64 body): a one-chunk session, finalized.

    Returns the session; its ``stored_file`` is set once finalize ran (at once when eager).
    ``sha256`` is the file's, verified by finalize.
    """
    session = services.session_create(
        ctx=ctx, file_name=file_name, content_type=content_type, size=length,
        chunk_count=1 if length is not None else None, sha256=sha256, location=location,
        dialect=dialect,
    )
    result = body_accept(session=session, stream=stream, length=length, index=0)
    if length is None:
        services.session_declare_size(session=result.session, size=result.session.received_bytes)
    session.refresh_from_db()
    return session
