"""Nuxeo batch upload (DESIGN §8, seed 004): thin views over the upload engine.

``POST /upload`` opens a batch; ``POST /upload/{batchId}/{fileIdx}`` uploads one file of it in one go
or chunk by chunk (``X-Upload-Type: chunked``; 202 while chunks are missing, 201 when complete);
``GET /upload/{batchId}`` lists its files, ``GET /upload/{batchId}/{fileIdx}`` answers the resume
information (202 incomplete, 200 complete); ``DELETE`` drops a batch or one file. Every file slot is
an upload session of the engine, so a finished file is a stored file like any other.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any
from urllib.parse import unquote

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.context import get_context
from apps.core.errors import BadRequest, Conflict, NotFound
from apps.core.wire import header_int
from apps.uploads import batches, chunks, ingest, selectors, services
from apps.uploads.models import Batch, UploadSession
from apps.uploads.serializers import AnyRawBodyParser, RawBodyParser
from apps.uploads.wire import request_body_stream

TAGS = ["uploads (Nuxeo)"]
State = UploadSession.State
FINISHED_STATES = (State.PROCESSING, State.COMPLETED)
# A file index names a slot of the batch (Nuxeo uses "0", "1", ...); keep it short and plain.
FILE_INDEX = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


# --- Wire shapes (OpenAPI) ---------------------------------------------------------------------------


class BatchOut(serializers.Serializer):
    batchId = serializers.CharField()


class FileUploadedOut(serializers.Serializer):
    batchId = serializers.CharField()
    fileIdx = serializers.CharField()
    uploadType = serializers.ChoiceField(choices=["normal", "chunked"])
    uploadedSize = serializers.IntegerField()
    uploadedChunkIds = serializers.ListField(child=serializers.IntegerField(), required=False)
    chunkCount = serializers.IntegerField(required=False)


class BatchFileOut(serializers.Serializer):
    name = serializers.CharField()
    size = serializers.IntegerField(allow_null=True)
    uploadType = serializers.ChoiceField(choices=["normal", "chunked"])
    fileIdx = serializers.CharField()
    uploadedChunkIds = serializers.ListField(child=serializers.IntegerField(), required=False)
    chunkCount = serializers.IntegerField(required=False)


# --- Wire parsing ------------------------------------------------------------------------------------


def _file_name(request: Any) -> str:
    """X-File-Name, URL-decoded (browsers' Nuxeo clients encode it); the engine sanitizes it."""
    raw = request.headers.get("X-File-Name") or ""
    with contextlib.suppress(UnicodeError):  # WSGI hands raw UTF-8 header bytes as latin-1
        raw = raw.encode("latin-1").decode("utf-8")
    return unquote(raw, errors="replace") if "%" in raw else raw


def _file_index(file_idx: str) -> str:
    if not FILE_INDEX.match(file_idx):
        raise BadRequest("Invalid file index.")
    return file_idx


# --- Rendering ---------------------------------------------------------------------------------------


def _upload_type(session: UploadSession) -> str:
    return str(session.meta.get("uploadType") or "normal")


def _uploaded_chunk_ids(session: UploadSession) -> list[int]:
    if session.state in FINISHED_STATES and session.chunk_count:
        return list(range(session.chunk_count))  # finalize deletes the chunk rows
    return [chunk.index for chunk in selectors.session_chunks(session)]


def _is_complete(session: UploadSession) -> bool:
    if session.state == State.FAILED:
        raise Conflict(f"The upload failed: {session.failure_reason}")
    return session.state in FINISHED_STATES


def _file_info(session: UploadSession) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": session.file_name,
        "size": session.size if session.size is not None else session.received_bytes,
        "uploadType": _upload_type(session),
        "fileIdx": session.batch_index,
    }
    if body["uploadType"] == "chunked":
        body["uploadedChunkIds"] = _uploaded_chunk_ids(session)
        body["chunkCount"] = session.chunk_count
    return body


def _slot(batch: Batch, file_idx: str) -> UploadSession:
    session = selectors.batch_session(batch, _file_index(file_idx))
    if session is None:
        raise NotFound("No such file in this batch.")
    return session


# --- Views -------------------------------------------------------------------------------------------


class BatchCreateView(APIView):
    @extend_schema(
        tags=TAGS, operation_id="nuxeo_batch_create", request=None, responses={201: BatchOut},
        summary="Initialize an upload batch",
    )
    def post(self, request):
        batch = batches.batch_create(ctx=get_context(request))
        return Response({"batchId": str(batch.uid)}, status=201)


class BatchDetailView(APIView):
    @extend_schema(
        tags=TAGS, operation_id="nuxeo_batch_files", responses={200: BatchFileOut(many=True)},
        summary="The files of a batch",
    )
    def get(self, request, batch_id: str):
        batch = selectors.batch_for_owner(get_context(request), batch_id)
        sessions: dict[str, UploadSession] = {}
        for session in batch.sessions.exclude(
            state__in=[State.CANCELLED, State.EXPIRED]
        ).order_by("created", "id"):
            sessions[session.batch_index] = session  # the newest upload of each slot
        ordered = sorted(sessions.items(), key=lambda kv: (not kv[0].isdigit(), kv[0].zfill(20)))
        return Response([_file_info(session) for _, session in ordered])

    @extend_schema(
        tags=TAGS, operation_id="nuxeo_batch_drop", responses={204: None},
        summary="Drop a batch and all its files",
    )
    def delete(self, request, batch_id: str):
        batch = selectors.batch_for_owner(get_context(request), batch_id)
        batches.batch_drop(batch=batch)
        return Response(status=204)


class BatchFileView(APIView):
    parser_classes = (RawBodyParser, AnyRawBodyParser)

    @extend_schema(
        tags=TAGS, operation_id="nuxeo_batch_file_upload",
        request={"application/octet-stream": OpenApiTypes.BINARY},
        parameters=[
            OpenApiParameter("X-File-Name", str, OpenApiParameter.HEADER,
                             description="File name, may be URL-encoded"),
            OpenApiParameter("X-File-Type", str, OpenApiParameter.HEADER),
            OpenApiParameter("X-File-Size", str, OpenApiParameter.HEADER, pattern=r"^[0-9]{0,18}$",
                             description="The file's size in bytes (ASCII digits)"),
            OpenApiParameter("X-Upload-Type", str, OpenApiParameter.HEADER,
                             enum=["normal", "chunked"]),
            OpenApiParameter("X-Upload-Chunk-Index", str, OpenApiParameter.HEADER,
                             description="0-based chunk index, in ASCII digits: required, and "
                                         "read, only with X-Upload-Type: chunked"),
            OpenApiParameter("X-Upload-Chunk-Count", str, OpenApiParameter.HEADER,
                             description="The number of chunks, in ASCII digits: required, and "
                                         "read, only with X-Upload-Type: chunked"),
        ],
        responses={
            201: FileUploadedOut,
            202: OpenApiResponse(FileUploadedOut, description="Chunk received; chunks missing"),
            409: OpenApiResponse(description="Other bytes already at this chunk"),
            413: OpenApiResponse(description="Too large, or over the client's storage quota "
                                             "(code quota_exceeded)"),
        },
        summary="Upload a file of a batch, in one go or one chunk",
    )
    def post(self, request, batch_id: str, file_idx: str):
        ctx = get_context(request)
        batch = selectors.batch_for_owner(ctx, batch_id)
        file_idx = _file_index(file_idx)
        stream, length = request_body_stream(request)
        upload_type = (request.headers.get("X-Upload-Type") or "normal").strip().lower()
        if upload_type not in ("normal", "chunked"):
            raise BadRequest("X-Upload-Type must be 'normal' or 'chunked'.")
        size = header_int(request, "X-File-Size")
        name = _file_name(request)
        content_type = (request.headers.get("X-File-Type") or "").strip()
        body: dict[str, Any] = {"batchId": str(batch.uid), "fileIdx": file_idx,
                                "uploadType": upload_type}

        if upload_type == "normal":
            if size is not None and length is not None and size != length:
                raise BadRequest(f"X-File-Size is {size} but the body has {length} bytes.")
            # A body larger than one engine chunk is taken as consecutive chunks of one session.
            chunk_size, chunk_count = ingest.body_layout(length)
            session = services.session_create(
                ctx=ctx, file_name=name, content_type=content_type,
                size=length if length is not None else size, chunk_size=chunk_size,
                chunk_count=chunk_count, dialect="nuxeo",
                batch=batch, batch_index=file_idx, meta={"uploadType": "normal"},
            )
            try:
                result = ingest.body_accept(session=session, stream=stream, length=length, index=0)
                if result.session.size is None:
                    services.session_declare_size(session=result.session, size=result.received)
            except BaseException:
                services.session_cancel(session=session)
                raise
            batches.batch_slot_replace(batch=batch, batch_index=file_idx, keep=session)
            body["uploadedSize"] = result.received
            return Response(body, status=201)

        index = header_int(request, "X-Upload-Chunk-Index", required=True)
        count = header_int(request, "X-Upload-Chunk-Count", required=True)
        if count < 1:
            raise BadRequest("X-Upload-Chunk-Count must be at least 1.")
        if index >= count:
            raise BadRequest(f"X-Upload-Chunk-Index {index} is not below the chunk count {count}.")
        # Chunks of a new file may arrive in parallel: the engine opens the slot's upload under
        # the batch row lock, so they all join one upload.
        session, _ = batches.batch_slot_session(
            ctx=ctx, batch=batch, batch_index=file_idx,
            reuse=lambda current: self._same_upload(current, count, size),
            file_name=name, content_type=content_type, size=size, chunk_count=count,
            dialect="nuxeo", meta={"uploadType": "chunked"},
        )
        result = chunks.chunk_accept(session=session, stream=stream, length=length, index=index)
        body.update(
            uploadedSize=result.chunk.size,
            uploadedChunkIds=_uploaded_chunk_ids(result.session),
            chunkCount=result.session.chunk_count,
        )
        return Response(body, status=201 if result.complete else 202)

    @staticmethod
    def _same_upload(session: UploadSession, count: int, size: int | None) -> bool:
        """Is this chunk part of the slot's current upload (else it starts a new one)?"""
        return (
            _upload_type(session) == "chunked"
            and session.chunk_count == count
            and (size is None or session.size == size)
            and session.state != State.FAILED
        )

    @extend_schema(
        tags=TAGS, operation_id="nuxeo_batch_file_status",
        responses={
            200: OpenApiResponse(BatchFileOut, description="The file is complete"),
            202: OpenApiResponse(BatchFileOut, description="Chunks are missing"),
        },
        summary="Resume information of one file of a batch",
    )
    def get(self, request, batch_id: str, file_idx: str):
        batch = selectors.batch_for_owner(get_context(request), batch_id)
        session = _slot(batch, file_idx)
        return Response(_file_info(session), status=200 if _is_complete(session) else 202)

    @extend_schema(
        tags=TAGS, operation_id="nuxeo_batch_file_delete", responses={204: None},
        summary="Remove one file from a batch",
    )
    def delete(self, request, batch_id: str, file_idx: str):
        batch = selectors.batch_for_owner(get_context(request), batch_id)
        services.session_cancel(session=_slot(batch, file_idx))
        return Response(status=204)


urlpatterns = [
    path("upload", BatchCreateView.as_view(), name="nuxeo-batch-create"),
    path("upload/", BatchCreateView.as_view(schema=None), name="nuxeo-batch-create-slash"),
    path("upload/<str:batch_id>", BatchDetailView.as_view(), name="nuxeo-batch"),
    path("upload/<str:batch_id>/<str:file_idx>", BatchFileView.as_view(), name="nuxeo-batch-file"),
]
