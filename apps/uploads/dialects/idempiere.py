"""iDempiere REST uploads (DESIGN §8, seed 000): thin views over the upload engine.

``POST /uploads`` opens a session; ``PUT /uploads/{id}/chunks/{chunkOrder}`` (1-based) streams one
chunk; ``GET``/``DELETE /uploads/{id}``; ``GET /uploads/{id}/file``; ``GET /uploads`` lists pending
sessions. Chunk PUTs and GETs also accept a presigned URL instead of a bearer token.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from django.conf import settings
from django.http import StreamingHttpResponse
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core import signing
from apps.core.context import get_context
from apps.core.downloads import file_response, open_storage_range, stream_pieces
from apps.core.errors import BadRequest, Conflict, NotFound, NotReady, PayloadTooLarge
from apps.core.wire import header_int, parse_int
from apps.uploads import chunks, selectors, services, stored_files
from apps.uploads.models import StoredFile, UploadSession
from apps.uploads.serializers import (
    AnyRawBodyParser,
    ChunkOut,
    FileJsonOut,
    MessageOut,
    PendingUploadsOut,
    RawBodyParser,
    UploadCreatedOut,
    UploadCreateIn,
    UploadStatusOut,
)
from apps.uploads.wire import request_body_stream

DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024
TAGS = ["uploads"]
State = UploadSession.State


# --- Helpers ---------------------------------------------------------------------------------------


def _base_url(request) -> str:
    return (settings.PUBLIC_BASE_URL or request.build_absolute_uri("/")).rstrip("/")


def _upload_path(session: UploadSession) -> str:
    return f"/api/v1/uploads/{session.uid}"


def _presigned(request, session: UploadSession, method: str, suffix: str, expires_in: int) -> str:
    """A URL that holds the standing of the login session behind ``request``: a bearer token's
    session, or (a URL asked for with a presigned URL) the holder that URL names; none with HTTP
    Basic, whose URLs stand with their owner only."""
    scope = _upload_path(session) + ("/chunks/" if method == "PUT" else "")
    if signing.is_presigned(request.query_params):  # verified by _session_of
        holder = request.query_params.get(signing.HOLDER_PARAM) or ""
    else:
        holder = get_context(request).session_id or ""
    query = signing.sign_query(
        method=method, scope=scope, subject=str(session.uid), expires_in=expires_in, holder=holder
    )
    return f"{_base_url(request)}{_upload_path(session)}{suffix}?{query}"


def _chunk_url(request, session: UploadSession) -> str:
    seconds = max(1, int((session.expires_at - session.created).total_seconds()))
    return _presigned(request, session, "PUT", "/chunks/{chunkOrder}", seconds)


def _session_of(request, upload_id: str, method: str) -> UploadSession:
    """The owner's session (bearer/Basic) or the one a valid presigned URL names, while the URL's
    owner is active and the login session that made it (its holder) has not ended: 403 after."""
    from django.utils import timezone

    from apps.accounts.models import AuthSession
    from apps.core.errors import Forbidden

    params = request.query_params
    if signing.is_presigned(params):
        holder = signing.verify(
            method=method, path=request.path, subject=str(upload_id), params=params
        )
        session = selectors.session_for_signature(upload_id)
        owner = session.owner
        if owner is None or not owner.is_active:
            raise Forbidden("The presigned URL's owner is no longer active.")
        if holder:
            login = AuthSession.objects.filter(pk=holder, user_id=owner.pk).first()
            if login is None or login.is_revoked or login.expires <= timezone.now():
                raise Forbidden("The login session that made this presigned URL has ended.")
        return session
    return selectors.session_for_owner(get_context(request), upload_id)


def _status_message(session: UploadSession) -> str:
    return {
        State.INITIATED: "Upload session created; waiting for chunks.",
        State.UPLOADING: "Receiving chunks.",
        State.PROCESSING: "All chunks received; the file is being assembled.",
        State.COMPLETED: "Upload completed.",
        State.FAILED: f"Upload failed: {session.failure_reason}",
        State.CANCELLED: "Upload cancelled.",
        State.EXPIRED: "Upload session expired.",
    }[session.state]


def _status_body(session: UploadSession) -> dict[str, Any]:
    chunks = [
        {"chunkOrder": c.index + 1, "receivedSize": c.size}
        for c in selectors.session_chunks(session)
    ]
    body: dict[str, Any] = {
        "uploadId": str(session.uid),
        "fileName": session.file_name,
        "contentType": session.content_type,
        "fileSize": session.size,
        "chunkSize": session.chunk_size,
        "status": session.state,
        "uploadedChunks": chunks,
        "totalReceivedSize": session.received_bytes,
        "expiresAt": session.expires_at.isoformat(),
        "message": _status_message(session),
    }
    if session.stored_file_id:
        sha256 = StoredFile.objects.filter(pk=session.stored_file_id).values_list("sha256", flat=True).first()
        if sha256 is None:
            # Released since the session was read: only a cancel (the upload placed, then done with,
            # or a DELETE) lets go of a finished upload's file, and a cancelled upload is no more.
            raise NotFound("No such upload.")
        body["sha256"] = sha256
    image_id = (session.result_refs or {}).get("imageId")
    if session.location == "IMAGE" and image_id is not None:
        body["imageId"] = image_id  # recorded by the consumer that made the image (dms)
    return body


# --- Views ------------------------------------------------------------------------------------------


class UploadsView(APIView):
    @extend_schema(
        tags=TAGS, operation_id="uploads_list", responses={200: PendingUploadsOut},
        summary="The caller's pending upload sessions: {uploads: [...]}, as iDempiere answers",
    )
    def get(self, request):
        ctx = get_context(request)
        sessions = selectors.sessions_pending_for_owner(ctx).select_related("stored_file")
        return Response({"uploads": [_status_body(s) for s in sessions]})

    @extend_schema(
        tags=TAGS, operation_id="uploads_create", request=UploadCreateIn,
        responses={201: UploadCreatedOut, 413: OpenApiResponse(
            description="fileSize over the file size limit, or over the client's storage quota "
                        "(code quota_exceeded, with quota, used, requested)")},
        summary="Open an upload session",
    )
    def post(self, request):
        ctx = get_context(request)
        data = UploadCreateIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        chunk_size = v.get("chunkSize") or min(DEFAULT_CHUNK_SIZE, settings.UPLOAD_MAX_CHUNK_SIZE)
        session = services.session_create(
            ctx=ctx,
            file_name=v["fileName"],
            content_type=v.get("contentType") or "",
            size=v["fileSize"],
            chunk_size=chunk_size,
            sha256=v.get("sha256") or None,
            location=v.get("uploadLocation") or "",
            expires_in=v.get("expiresInSeconds"),
            dialect="idempiere",
        )
        body = {
            "uploadId": str(session.uid),
            "chunkSize": session.chunk_size,
            "expiresAt": session.expires_at.isoformat(),
            "presignedURL": _chunk_url(request, session),
        }
        return Response(body, status=201)


class UploadDetailView(APIView):
    permission_classes = (AllowAny,)  # bearer/Basic or a presigned URL, checked in the view

    @extend_schema(
        tags=TAGS, operation_id="uploads_retrieve", responses={200: UploadStatusOut, 410: OpenApiResponse(description="Expired")},
        parameters=[
            OpenApiParameter(
                "expiresInSeconds", str, pattern=r"^[+-]?[0-9]{0,18}$",
                description="Also answer a presigned URL for GETs, good for this many seconds "
                            "(an integer; empty or not above 0: no URL).",
            )
        ],
        summary="Upload session status",
    )
    def get(self, request, upload_id: str):
        session = _session_of(request, upload_id, "GET")
        body = _status_body(session)
        seconds = request.query_params.get("expiresInSeconds")
        if seconds not in (None, ""):
            seconds = parse_int(seconds, "expiresInSeconds", signed=True)
            if seconds > 0:
                seconds = min(seconds, settings.UPLOAD_MAX_EXPIRY_SECONDS)
                body["presignedURL"] = _presigned(request, session, "GET", "", seconds)
        return Response(body)

    @extend_schema(
        tags=TAGS, operation_id="uploads_cancel", responses={200: MessageOut, 409: OpenApiResponse(description="Not in a state that can be cancelled"),
                   410: OpenApiResponse(description="Expired")},
        summary="Cancel an upload session and delete its data",
    )
    def delete(self, request, upload_id: str):
        session = selectors.session_for_owner(get_context(request), upload_id)
        services.session_cancel(session=session)
        return Response({"message": "Upload session cancelled."})


class UploadChunkView(APIView):
    permission_classes = (AllowAny,)  # bearer/Basic or a presigned URL, checked in the view
    parser_classes = (RawBodyParser, AnyRawBodyParser)

    @extend_schema(
        tags=TAGS, operation_id="uploads_chunk_put", request={"application/octet-stream": OpenApiTypes.BINARY},
        responses={200: ChunkOut, 409: OpenApiResponse(description="Other bytes already at this chunk"),
                   413: OpenApiResponse(description="Chunk too large"),
                   422: OpenApiResponse(description="X-Content-SHA256 mismatch"), 410: OpenApiResponse(description="Expired")},
        parameters=[
            OpenApiParameter("X-Total-Chunks", str, OpenApiParameter.HEADER, pattern=r"^[0-9]{0,18}$",
                             description="The number of chunks of the upload (ASCII digits)"),
            OpenApiParameter("X-Content-SHA256", str, OpenApiParameter.HEADER,
                             description="Lower-case hex SHA-256 of the chunk"),
        ],
        summary="Upload one chunk (1-based chunkOrder, any order, in parallel)",
    )
    def put(self, request, upload_id: str, chunk_order: int):
        session = _session_of(request, upload_id, "PUT")
        if chunk_order < 1:
            raise BadRequest("chunkOrder is 1-based.")
        total = header_int(request, "X-Total-Chunks")
        if total is not None and session.chunk_count is not None and total != session.chunk_count:
            raise BadRequest(
                f"X-Total-Chunks is {total} but this upload has {session.chunk_count} chunks."
            )
        # The body is chunk ``chunkOrder`` of the client's layout, exactly: one engine chunk.
        stream, length = request_body_stream(request)
        result = chunks.chunk_accept(
            session=session,
            stream=stream,
            length=length,
            index=chunk_order - 1,
            sha256=request.headers.get("X-Content-SHA256") or None,
        )
        message = "Chunk received." if result.created else "Chunk already received."
        return Response(
            {
                "uploadId": str(session.uid),
                "chunkOrder": chunk_order,
                "receivedSize": result.chunk.size,
                "message": message,
                "isLastChunk": result.complete,
            }
        )


ASJSON_DEFAULT_MAX_BYTES = 10 * 1024 * 1024


def _asjson_max_bytes() -> int:
    """``?asJson=true`` base64-encodes the file into one JSON body: bounded by
    ``UPLOAD_ASJSON_MAX_BYTES`` (default 10 MiB); larger files are fetched as bytes."""
    return int(getattr(settings, "UPLOAD_ASJSON_MAX_BYTES", ASJSON_DEFAULT_MAX_BYTES))


def _base64_json(session: UploadSession, handle: Any, size: int):
    """``{fileName, contentType, data}`` streamed: base64 in pieces, never the whole file."""
    head = json.dumps({"fileName": session.file_name, "contentType": session.content_type})
    yield head[:-1].encode() + b', "data": "'
    # A piece size that is a multiple of 3 puts no padding mid-stream.
    for data in stream_pieces(handle, size, 3 * 256 * 1024):
        yield base64.b64encode(data)
    yield b'"}'


def _wants_json(request) -> bool:
    return str(request.query_params.get("asJson", "")).strip().lower() in ("true", "1", "yes")


class UploadFileView(APIView):
    permission_classes = (AllowAny,)  # bearer/Basic or a presigned URL, checked in the view

    @extend_schema(
        tags=TAGS, operation_id="uploads_file",
        parameters=[
            OpenApiParameter("asJson", bool, description="Answer base64 in JSON (small files only)"),
            OpenApiParameter("Range", str, OpenApiParameter.HEADER,
                             description="One byte range (bytes=first-last, first-, -suffix)"),
            OpenApiParameter("If-None-Match", str, OpenApiParameter.HEADER,
                             description="The ETag (quoted SHA-256) already held: 304"),
        ],
        responses={
            (200, "application/octet-stream"): OpenApiTypes.BINARY,
            (200, "application/json"): FileJsonOut,
            206: OpenApiResponse(description="The requested byte range (Content-Range)"),
            304: OpenApiResponse(description="Not modified (If-None-Match)"),
            409: OpenApiResponse(description="Still processing (Retry-After) or not complete"),
            413: OpenApiResponse(description="Too large for asJson: fetch the bytes instead"),
            416: OpenApiResponse(description="Range not satisfiable (Content-Range: bytes */size)"),
        },
        summary="The uploaded file's bytes (Range, ETag/If-None-Match)",
    )
    def get(self, request, upload_id: str):
        session = _session_of(request, upload_id, "GET")
        if session.state == State.PROCESSING:
            raise NotReady("The upload is still being processed.", retry_after=2)
        if session.finished_file is None:
            raise Conflict(_status_message(session))  # says why: receiving, failed (and how)
        stored = session.finished_file
        content_type = session.content_type or stored.content_type or "application/octet-stream"
        storage = stored_files.stored_file_storage(stored)
        if _wants_json(request):
            cap = _asjson_max_bytes()
            if stored.size > cap:
                raise PayloadTooLarge(
                    f"The file has {stored.size} bytes; asJson answers files of up to {cap} "
                    "bytes. Download the bytes without asJson (Range requests are supported)."
                )
            handle = open_storage_range(storage, stored.storage_key, 0, stored.size, stored.size)
            response = StreamingHttpResponse(
                _base64_json(session, handle, stored.size), content_type="application/json"
            )
            response["ETag"] = f'"{stored.sha256}"'
            response["Cache-Control"] = "private, max-age=0"
            return response
        return file_response(
            request, storage=storage, key=stored.storage_key, size=stored.size,
            sha256=stored.sha256, file_name=session.file_name, content_type=content_type,
        )


urlpatterns = [
    path("uploads", UploadsView.as_view(), name="uploads"),
    path("uploads/<str:upload_id>", UploadDetailView.as_view(), name="upload-detail"),
    path(
        "uploads/<str:upload_id>/chunks/<int:chunk_order>",
        UploadChunkView.as_view(),
        name="upload-chunk",
    ),
    path("uploads/<str:upload_id>/file", UploadFileView.as_view(), name="upload-file"),
]
