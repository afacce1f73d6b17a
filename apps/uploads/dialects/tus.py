"""tus 1.0 (https://tus.io/protocols/resumable-upload): thin views over the upload engine.

Core, creation, creation-with-upload, creation-defer-length, termination, checksum (sha1, sha256,
md5) and expiration. ``POST /tus/`` creates an upload session, ``HEAD /tus/{id}`` answers its offset,
``PATCH /tus/{id}`` appends bytes at the current offset, ``DELETE /tus/{id}`` terminates it. A
finished tus upload is an upload session like any other (the engine finalizes it).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.urls import path
from django.utils.http import http_date
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.parsers import BaseParser
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.authentication import upload_authentication_classes
from apps.accounts.permissions import HasRequestContext
from apps.core.context import get_context
from apps.core.downloads import file_response
from apps.core.errors import (
    ApplicationError,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    UnsupportedMediaType,
)
from apps.core.wire import header_int
from apps.uploads import chunks, ingest, selectors, services, stored_files, wire
from apps.uploads.models import UploadSession
from apps.uploads.serializers import AnyRawBodyParser
from apps.uploads.wire import request_body_stream

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = (
    "creation,creation-with-upload,creation-defer-length,termination,checksum,expiration,"
    "concatenation"
)
# A final upload is made once its partials are finished; with a worker, a partial's last PATCH
# may still be finalizing when the client creates the final upload: wait that long for it.
PARTIAL_SETTLE_SECONDS = 10.0
DIGEST_SIZES = {"sha1": 20, "sha256": 32, "md5": 16}
OFFSET_STREAM = "application/offset+octet-stream"
MAX_METADATA_LENGTH = 4096
TAGS = ["uploads (tus)"]


class OffsetOctetStreamParser(BaseParser):
    """Declares tus bodies; views never parse them (the engine streams the raw request)."""

    media_type = OFFSET_STREAM

    def parse(self, stream, media_type=None, parser_context=None):  # pragma: no cover
        return None


class TusChecksumMismatch(ApplicationError):
    status, title, code = 460, "Checksum Mismatch", "checksum_mismatch"


class AllowOptions(HasRequestContext):
    """Discovery (OPTIONS) is open; every other call needs the usual authentication."""

    def has_permission(self, request, view) -> bool:
        return request.method == "OPTIONS" or super().has_permission(request, view)


# --- Wire parsing ------------------------------------------------------------------------------------


def parse_metadata(raw: str | None) -> dict[str, str]:
    """Upload-Metadata: comma-separated ``key base64(value)`` pairs (the value may be absent)."""
    if raw is None or not raw.strip():
        return {}
    if len(raw) > MAX_METADATA_LENGTH:
        raise BadRequest("Upload-Metadata is too long.")
    metadata: dict[str, str] = {}
    for pair in raw.split(","):
        parts = pair.strip().split(" ")
        key = parts[0]
        if not key or len(parts) > 2 or key in metadata:
            raise BadRequest("Upload-Metadata must be comma-separated 'key base64value' pairs.")
        value = ""
        if len(parts) == 2:
            try:
                value = base64.b64decode(parts[1], validate=True).decode("utf-8", "replace")
            except (binascii.Error, ValueError):
                raise BadRequest(f"Upload-Metadata value of {key!r} is not base64.") from None
        metadata[key] = value
    return metadata


def parse_checksum(raw: str | None) -> tuple[str, str] | None:
    """Upload-Checksum ``<algorithm> <base64 digest>`` → (algorithm, hex digest)."""
    if raw is None:
        return None
    parts = raw.strip().split(" ")
    if len(parts) != 2:
        raise BadRequest("Upload-Checksum must be '<algorithm> <base64 digest>'.")
    algo = parts[0].lower()
    if algo not in wire.CHECKSUM_ALGORITHMS:
        raise BadRequest(f"Unsupported checksum algorithm {parts[0]!r}.")
    try:
        digest = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("The Upload-Checksum digest is not base64.") from None
    if len(digest) != DIGEST_SIZES[algo]:
        raise BadRequest(f"The Upload-Checksum digest is not a {algo} digest.")
    return algo, digest.hex()


def _media_type(request: Any) -> str:
    return (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()


def _has_body(request: Any) -> bool:
    meta = request._request.META
    return meta.get("CONTENT_LENGTH") not in (None, "", "0") or (
        "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower()
    )


def _accept(session: UploadSession, request: Any, offset: int,
            checksum: tuple[str, str] | None) -> UploadSession:
    """Append the request body at ``offset``; a checksum mismatch answers 460 (nothing kept).

    tus clients often send a whole file in one PATCH: the engine takes it as consecutive chunks
    (a body with Upload-Checksum must fit one engine chunk: 413). A PATCH whose connection drops
    keeps the bytes that arrived (tus core: the client resumes from the offset HEAD answers).
    While the length is deferred the engine bounds the upload by Tus-Max-Size."""
    stream, length = request_body_stream(request)
    if session.size is not None and length is not None and offset + length > session.size:
        raise PayloadTooLarge("The body goes beyond Upload-Length.")
    try:
        result = ingest.body_accept(
            session=session, stream=stream, length=length, offset=offset, checksum=checksum,
            partial_ok=True,
        )
    except chunks.ChecksumMismatch as error:
        raise TusChecksumMismatch(error.detail) from None
    return result.session


# --- Rendering ---------------------------------------------------------------------------------------


def _upload_url(request: Any, session_uid: Any) -> str:
    base = (settings.PUBLIC_BASE_URL or request.build_absolute_uri("/")).rstrip("/")
    return f"{base}/api/v1/tus/{session_uid}"


def _upload_headers(session: UploadSession) -> dict[str, str]:
    return {
        "Upload-Offset": str(session.received_bytes),
        "Upload-Expires": http_date(session.expires_at.timestamp()),
    }


def parse_concat(raw: str | None) -> tuple[str, list[str]] | None:
    """Upload-Concat: ``partial``, or ``final;<url> <url> ...`` → ("final", [upload ids])."""
    if raw is None:
        return None
    raw = raw.strip(" \t")  # HTTP's optional white space, nothing else
    if raw == "partial":
        return "partial", []
    kind, _, urls = raw.partition(";")
    if kind.strip() != "final" or not urls.strip():
        raise BadRequest("Upload-Concat must be 'partial' or 'final;<url> <url> ...'.")
    ids = []
    for url in (u for u in urls.split(" ") if u):  # ASCII spaces only, as the header is
        path = urlsplit(url).path.rstrip("/")
        if "/tus/" not in path:
            raise BadRequest(f"Upload-Concat names {url[:100]!r}, which is not an upload URL.")
        ids.append(path.rsplit("/", 1)[-1])
    if len(ids) > int(settings.UPLOAD_MAX_CHUNKS):
        raise BadRequest("Upload-Concat names too many partial uploads.")
    return "final", ids


def _partial_for_final(request: Any, upload_id: str) -> UploadSession:
    """A partial upload named by a final one: the caller's own (404 otherwise), finished."""
    session = _tus_session(request, upload_id)
    if session.meta.get("tusConcat") != "partial":
        raise BadRequest(f"The upload {upload_id} was not created with Upload-Concat: partial.")
    selectors.session_wait_settled(session, seconds=PARTIAL_SETTLE_SECONDS)
    return session


def _tus_session(request: Any, upload_id: str) -> UploadSession:
    """The caller's tus upload; terminated ones answer 404 (others' and unknown ones too)."""
    session = selectors.session_for_owner(get_context(request), upload_id)
    if session.dialect != "tus":
        raise NotFound("No such upload.")
    return session


# --- Views -------------------------------------------------------------------------------------------

TUS_RESUMABLE = OpenApiParameter(
    "Tus-Resumable", str, OpenApiParameter.HEADER, required=True, enum=[TUS_VERSION]
)


class TusView(APIView):
    # The web UI's uploader calls these with its upload token (no other endpoint accepts one).
    authentication_classes = upload_authentication_classes()
    permission_classes = (AllowOptions,)
    parser_classes = (OffsetOctetStreamParser, AnyRawBodyParser)

    def initial(self, request, *args: Any, **kwargs: Any) -> None:
        # Discovery and downloads are plain HTTP (tusd serves GET without Tus-Resumable).
        if request.method not in ("OPTIONS", "GET") and (
            request.headers.get("Tus-Resumable") != TUS_VERSION
        ):
            raise PreconditionFailed(
                f"Tus-Resumable {TUS_VERSION} is required.", headers={"Tus-Version": TUS_VERSION}
            )
        super().initial(request, *args, **kwargs)

    def finalize_response(self, request, response, *args: Any, **kwargs: Any):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Tus-Resumable"] = TUS_VERSION
        if response.status_code == TusChecksumMismatch.status:
            response.reason_phrase = TusChecksumMismatch.title
        return response

    @extend_schema(exclude=True)
    def options(self, request, *args: Any, **kwargs: Any) -> Response:
        response = Response(status=204)
        response["Tus-Version"] = TUS_VERSION
        response["Tus-Extension"] = TUS_EXTENSIONS
        response["Tus-Max-Size"] = str(int(settings.UPLOAD_MAX_FILE_SIZE))
        response["Tus-Checksum-Algorithm"] = ",".join(wire.CHECKSUM_ALGORITHMS)
        return response


class TusCreateView(TusView):
    @extend_schema(
        tags=TAGS, operation_id="tus_create",
        request={OFFSET_STREAM: OpenApiTypes.BINARY},
        parameters=[
            TUS_RESUMABLE,
            OpenApiParameter("Upload-Length", str, OpenApiParameter.HEADER, pattern=r"^[0-9]{0,18}$",
                             description="The upload's size in bytes (ASCII digits)"),
            OpenApiParameter("Upload-Defer-Length", str, OpenApiParameter.HEADER, enum=["1"]),
            OpenApiParameter("Upload-Metadata", str, OpenApiParameter.HEADER,
                             description="Comma-separated 'key base64value' pairs "
                                         "(filename, filetype)"),
            OpenApiParameter("Upload-Checksum", str, OpenApiParameter.HEADER,
                             description="Checksum of the body sent with the creation"),
        ],
        responses={
            201: OpenApiResponse(description="Created; Location, Upload-Offset, Upload-Expires"),
            412: OpenApiResponse(description="Unsupported Tus-Resumable"),
            413: OpenApiResponse(description="Upload-Length (a final upload: the sum of its "
                                             "partials) exceeds Tus-Max-Size, or the client's "
                                             "storage quota (code quota_exceeded)"),
            415: OpenApiResponse(description="Body without application/offset+octet-stream"),
            460: OpenApiResponse(description="Checksum Mismatch"),
        },
        summary="Create a tus upload (optionally with its first bytes)",
    )
    def post(self, request) -> Response:
        ctx = get_context(request)
        concat = parse_concat(request.headers.get("Upload-Concat"))
        if concat is not None and concat[0] == "final":
            return self._create_final(request, ctx, concat[1])
        size = header_int(request, "Upload-Length")
        defer = request.headers.get("Upload-Defer-Length")
        if defer is not None and defer.strip() != "1":
            raise BadRequest("Upload-Defer-Length must be 1.")
        if (size is None) == (defer is None):
            raise BadRequest("Send either Upload-Length or Upload-Defer-Length: 1.")
        raw_metadata = request.headers.get("Upload-Metadata") or ""
        metadata = parse_metadata(raw_metadata)
        checksum = parse_checksum(request.headers.get("Upload-Checksum"))
        with_body = _has_body(request)
        if with_body and _media_type(request) != OFFSET_STREAM:
            raise UnsupportedMediaType(f"A creation body must be {OFFSET_STREAM}.")

        meta = {"tusMetadata": raw_metadata} if raw_metadata else {}
        if concat is not None:
            meta["tusConcat"] = "partial"
        session = services.session_create(
            ctx=ctx,
            file_name=metadata.get("filename") or metadata.get("name") or "upload",
            content_type=metadata.get("filetype") or metadata.get("type") or "",
            size=size,
            dialect="tus",
            meta=meta,
        )
        if with_body or size == 0:
            try:
                session = _accept(session, request, 0, checksum)
            except BaseException:
                services.session_cancel(session=session)
                raise
        response = Response(status=201, headers=_upload_headers(session))
        response["Location"] = _upload_url(request, session.uid)
        return response

    def _create_final(self, request: Any, ctx: Any, part_ids: list[str]) -> Response:
        """``Upload-Concat: final``: the partials' bytes in order, as a new (finished) upload.

        Its length is the sum of the partials, each counted as often as it is named: the engine
        refuses it (413) over ``Tus-Max-Size`` or the client's storage quota, so repeating one
        partial cannot make more bytes than those allow."""
        if request.headers.get("Upload-Length") is not None or _has_body(request):
            raise BadRequest("A final upload takes neither Upload-Length nor a body.")
        raw_metadata = request.headers.get("Upload-Metadata") or ""
        metadata = parse_metadata(raw_metadata)
        parts = [_partial_for_final(request, upload_id) for upload_id in part_ids]
        meta = {"tusConcat": "final", "tusParts": [str(p.uid) for p in parts]}
        if raw_metadata:
            meta["tusMetadata"] = raw_metadata
        session = services.session_concatenate(
            ctx=ctx, parts=parts,
            file_name=metadata.get("filename") or metadata.get("name") or "upload",
            content_type=metadata.get("filetype") or metadata.get("type") or "",
            meta=meta,
        )
        response = Response(status=201, headers=_upload_headers(session))
        response["Location"] = _upload_url(request, session.uid)
        return response


def _concat_header(request: Any, session: UploadSession) -> str | None:
    kind = session.meta.get("tusConcat")
    if kind == "partial":
        return "partial"
    if kind == "final":
        urls = " ".join(_upload_url(request, uid) for uid in session.meta.get("tusParts", []))
        return f"final;{urls}"
    return None


class TusUploadView(TusView):
    def dispatch(self, request, *args: Any, **kwargs: Any):
        # tus clients behind proxies that only pass GET/POST tunnel the method in this header.
        override = request.headers.get("X-HTTP-Method-Override", "").upper()
        if request.method == "POST" and override in ("PATCH", "DELETE", "HEAD"):
            request.method = override
        return super().dispatch(request, *args, **kwargs)

    @extend_schema(
        tags=TAGS, operation_id="tus_offset", parameters=[TUS_RESUMABLE],
        responses={200: OpenApiResponse(description="Upload-Offset, Upload-Length")},
        summary="The upload's offset",
    )
    def head(self, request, upload_id: str) -> Response:
        # A PATCH of this upload may still be draining (its client aborted it and asks at once):
        # it is asked to stop and save, so the offset answered is the true one.
        session = chunks.session_quiesce(session=_tus_session(request, upload_id))
        response = Response(status=200, headers=_upload_headers(session))
        if session.size is None:
            response["Upload-Defer-Length"] = "1"
        else:
            response["Upload-Length"] = str(session.size)
        if session.meta.get("tusMetadata"):
            response["Upload-Metadata"] = session.meta["tusMetadata"]
        concat = _concat_header(request, session)
        if concat is not None:
            response["Upload-Concat"] = concat
        response["Cache-Control"] = "no-store"
        return response

    @extend_schema(
        tags=TAGS, operation_id="tus_download",
        parameters=[
            OpenApiParameter("Range", str, OpenApiParameter.HEADER,
                             description="One byte range (bytes=first-last, first-, -suffix)"),
            OpenApiParameter("If-None-Match", str, OpenApiParameter.HEADER,
                             description="The ETag (quoted SHA-256) already held: 304"),
        ],
        responses={
            (200, "application/octet-stream"): OpenApiTypes.BINARY,
            206: OpenApiResponse(description="The requested byte range"),
            304: OpenApiResponse(description="Not modified"),
            409: OpenApiResponse(description="Not finished yet (Retry-After while processing)"),
        },
        summary="The finished upload's bytes (as tusd serves them; Tus-Resumable not needed)",
    )
    def get(self, request, upload_id: str):
        session = _tus_session(request, upload_id)
        stored = selectors.session_finished_file(session)
        return file_response(
            request, storage=stored_files.stored_file_storage(stored), key=stored.storage_key,
            size=stored.size, sha256=stored.sha256, file_name=session.file_name,
            content_type=session.content_type or stored.content_type or "application/octet-stream",
        )

    @extend_schema(
        tags=TAGS, operation_id="tus_patch",
        request={OFFSET_STREAM: OpenApiTypes.BINARY},
        parameters=[
            TUS_RESUMABLE,
            OpenApiParameter("Upload-Offset", str, OpenApiParameter.HEADER, required=True, pattern=r"^[0-9]{1,18}$",
                             description="The offset this body starts at (ASCII digits)"),
            OpenApiParameter("Upload-Length", str, OpenApiParameter.HEADER, pattern=r"^[0-9]{0,18}$",
                             description="Once known, for uploads created with deferred length (ASCII digits)"),
            OpenApiParameter("Upload-Checksum", str, OpenApiParameter.HEADER,
                             description="'<sha1|sha256|md5> <base64 digest>' of this body"),
        ],
        responses={
            204: OpenApiResponse(description="Appended; the new Upload-Offset"),
            412: OpenApiResponse(description="Unsupported Tus-Resumable"),
            409: OpenApiResponse(description="Upload-Offset is not the current offset"),
            410: OpenApiResponse(description="Expired"),
            413: OpenApiResponse(description="More bytes than Upload-Length; or, while the "
                                             "length is deferred, than the client's storage "
                                             "quota allows (code quota_exceeded; nothing kept)"),
            415: OpenApiResponse(description="Not application/offset+octet-stream"),
            460: OpenApiResponse(description="Checksum Mismatch; nothing kept"),
        },
        summary="Append bytes at the current offset",
    )
    def patch(self, request, upload_id: str) -> Response:
        session = _tus_session(request, upload_id)
        if session.meta.get("tusConcat") == "final":
            raise Forbidden("A final upload is made of its partial uploads; it takes no PATCH.")
        if _media_type(request) != OFFSET_STREAM:
            raise UnsupportedMediaType(f"PATCH bodies must be {OFFSET_STREAM}.")
        offset = header_int(request, "Upload-Offset", required=True)
        size = header_int(request, "Upload-Length")
        checksum = parse_checksum(request.headers.get("Upload-Checksum"))
        session = chunks.session_quiesce(session=session)
        if offset != session.received_bytes:
            raise Conflict(
                f"Upload-Offset {offset} is not the current offset {session.received_bytes}.",
                headers={"Upload-Offset": str(session.received_bytes)},
            )
        if size is not None and size != session.size:
            if session.size is not None:
                raise BadRequest("Upload-Length cannot change once set.")
            session = services.session_declare_size(session=session, size=size)
        if _has_body(request):
            session = _accept(session, request, offset, checksum)
        return Response(status=204, headers=_upload_headers(session))

    @extend_schema(
        tags=TAGS, operation_id="tus_terminate", parameters=[TUS_RESUMABLE],
        responses={204: OpenApiResponse(description="Terminated"), 410: OpenApiResponse(description="Expired"),
                   412: OpenApiResponse(description="Unsupported Tus-Resumable")},
        summary="Terminate the upload and delete its data",
    )
    def delete(self, request, upload_id: str) -> Response:
        services.session_cancel(session=_tus_session(request, upload_id))
        return Response(status=204)


urlpatterns = [
    path("tus", TusCreateView.as_view(schema=None), name="tus-create-noslash"),  # alias
    path("tus/", TusCreateView.as_view(), name="tus-create"),
    path("tus/<str:upload_id>", TusUploadView.as_view(), name="tus-upload"),
]
