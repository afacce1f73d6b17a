"""Twake files (seed 001): single and chunked uploads, metadata, download, thumbnails, delete.

Routes live under ``/internal/services/files/v1/companies/{company_id}/files``; the company is the
caller's client (id or uuid), any other company answers 404.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.models import Client
from apps.core.context import RequestContext, get_context
from apps.core.errors import NotFound, NotReady, UnsupportedMediaType
from apps.core.wire import parse_int
from apps.dms import selectors, services
from apps.dms.content import file_name_sanitize
from apps.dms.dialects.common import query_int, raw_body, truthy
from apps.dms.downloads import file_response
from apps.dms.models import DMSFile, Thumbnail, ThumbnailStatus

TAGS = ["twake"]
THUMBNAIL_SYNC_SECONDS = 10.0
PREFIX = "/internal/services/files/v1"

ThumbnailOut = inline_serializer("TwakeThumbnail", {
    "index": serializers.IntegerField(), "id": serializers.CharField(),
    "type": serializers.CharField(), "size": serializers.IntegerField(),
    "width": serializers.IntegerField(), "height": serializers.IntegerField(),
    "url": serializers.CharField(),
})
ResourceOut = inline_serializer("TwakeFileResource", {"resource": inline_serializer("TwakeFile", {
    "id": serializers.CharField(), "company_id": serializers.CharField(),
    "user_id": serializers.CharField(), "created_at": serializers.IntegerField(),
    "updated_at": serializers.IntegerField(),
    "metadata": inline_serializer("TwakeFileMetadata", {
        "name": serializers.CharField(), "mime": serializers.CharField(),
        "thumbnails_status": serializers.CharField()}),
    "thumbnails": serializers.ListField(child=ThumbnailOut),
    "upload_data": inline_serializer("TwakeUploadData", {
        "size": serializers.IntegerField(), "chunks": serializers.IntegerField()}),
})})
UPLOAD_PARAMS = [
    OpenApiParameter("filename", str), OpenApiParameter("type", str),
    OpenApiParameter("total_chunks", int), OpenApiParameter("total_size", int),
    OpenApiParameter("chunk_number", int), OpenApiParameter("thumbnail_sync", int),
]


def company_check(ctx: RequestContext, company_id: str) -> Client:
    """The caller's client when ``company_id`` names it (id or uuid); 404 for any other company."""
    client = Client.objects.filter(pk=ctx.client_id).first()
    if client is not None:
        text = str(company_id).strip()
        if text == str(client.pk):
            return client
        try:
            if uuid.UUID(text) == client.uid:
                return client
        except ValueError:
            pass
    raise NotFound("No such company.")


def _ms(moment: Any) -> int:
    return int(moment.timestamp() * 1000)


def _status(dms_file: DMSFile) -> str:
    if dms_file.stored_file_id is None:
        return ThumbnailStatus.WAITING
    return dms_file.thumbnails_status


def resource_json(dms_file: DMSFile, client: Client, company_ref: str) -> dict[str, Any]:
    thumbnails = selectors.thumbnails_of(dms_file.stored_file_id)
    base = f"{PREFIX}/companies/{company_ref}/files/{dms_file.uid}"
    session = dms_file.upload_session if dms_file.upload_session_id else None
    chunks = session.planned_chunk_count if session is not None else 1
    return {"resource": {
        "id": str(dms_file.uid), "company_id": str(client.uid),
        "user_id": str(dms_file.owner.uid) if dms_file.owner_id else "",
        "created_at": _ms(dms_file.created), "updated_at": _ms(dms_file.updated),
        "metadata": {"name": dms_file.name, "mime": dms_file.content_type
                     or ((session.content_type or "application/octet-stream") if session is not None else ""),
                     "thumbnails_status": _status(dms_file)},
        "thumbnails": [{
            "index": t.index, "id": f"{dms_file.uid}-{t.index}", "type": t.content_type,
            "size": t.size, "width": t.width, "height": t.height,
            "url": f"{base}/thumbnails/{t.index}",
        } for t in thumbnails],
        "upload_data": {"size": dms_file.size or 0, "chunks": chunks},
    }}


def _wait_for_thumbnails(dms_file: DMSFile, timeout: float = THUMBNAIL_SYNC_SECONDS) -> DMSFile:
    deadline = time.monotonic() + timeout
    while True:
        dms_file = services.dms_file_resolve(dms_file)
        if dms_file.stored_file_id and dms_file.thumbnails_status != ThumbnailStatus.WAITING:
            return dms_file
        if time.monotonic() >= deadline:
            return dms_file
        time.sleep(0.2)
        dms_file.refresh_from_db()


def _twake_file(ctx: RequestContext, file_id: str) -> DMSFile:
    dms_file = selectors.dms_file_get(ctx, file_id)
    if dms_file.is_directory or dms_file.is_attachment:
        raise NotFound("No such file.")
    return services.dms_file_resolve(dms_file)


def _answer(request: Request, dms_file: DMSFile, client: Client, company_id: str) -> Response:
    if truthy(request.query_params.get("thumbnail_sync")):
        dms_file = _wait_for_thumbnails(dms_file)
    else:
        dms_file = services.dms_file_resolve(dms_file)
    return Response(resource_json(dms_file, client, company_id))


def _is_multipart(request: Request) -> bool:
    return (request.content_type or "").startswith("multipart/form-data")


def _has_body(request: Request) -> bool:
    return request.META.get("CONTENT_LENGTH") not in (None, "", "0")


def _multipart_file(request: Request) -> Any:
    if not _is_multipart(request):
        return None
    return request.FILES.get("file")


class TwakeFilesView(APIView):
    """``POST .../companies/{company_id}/files``: single multipart upload, or chunked init."""

    parser_classes = (MultiPartParser,)

    @extend_schema(
        tags=TAGS, parameters=UPLOAD_PARAMS,
        request={"multipart/form-data": inline_serializer("TwakeUploadIn", {
            "file": serializers.FileField(required=False)})},
        responses={200: ResourceOut}, operation_id="twake_file_create",
    )
    def post(self, request: Request, company_id: str) -> Response:
        ctx = get_context(request)
        client = company_check(ctx, company_id)
        upload = _multipart_file(request)
        params = request.query_params
        if upload is None and _has_body(request) and not _is_multipart(request):
            # Twake has no JSON body: the chunked init is all in the query string. A body that
            # would be ignored (a JSON {"filename": ...}) is refused rather than half-obeyed.
            raise UnsupportedMediaType(
                "Send the file as multipart/form-data, or initialize a chunked upload with query "
                "parameters (filename, type, total_size, total_chunks) and no body."
            )
        if upload is not None:
            dms_file = services.file_pending_create(
                ctx=ctx, name=params.get("filename") or upload.name,
                content_type=upload.content_type or "", size=upload.size, chunk_count=1,
                dialect="twake",
            )
            upload.seek(0)
            dms_file = services.pending_file_chunk_accept(
                ctx=ctx, dms_file=dms_file, index=0, stream=upload, length=upload.size, offset=0,
            )
            return _answer(request, dms_file, client, company_id)
        name = file_name_sanitize(params.get("filename"))
        total_size = query_int(request, "total_size")
        total_chunks = query_int(request, "total_chunks", default=1, minimum=1)
        # Twake clients (resumable.js) let the last chunk absorb the remainder: chunk sizes are
        # not derivable from the totals, so chunks are kept by number and composed at finalize.
        dms_file = services.file_pending_create(
            ctx=ctx, name=name, content_type=params.get("type", ""), size=total_size,
            chunk_count=total_chunks, dialect="twake",
        )
        return Response(resource_json(dms_file, client, company_id))


class TwakeFileView(APIView):
    """``GET/POST/DELETE .../files/{file_id}``: metadata, a chunk (``chunk_number``), delete."""

    parser_classes = (MultiPartParser,)

    @extend_schema(tags=TAGS, parameters=[OpenApiParameter("thumbnail_sync", int)],
                   responses={200: ResourceOut}, operation_id="twake_file_get")
    def get(self, request: Request, company_id: str, file_id: str) -> Response:
        ctx = get_context(request)
        client = company_check(ctx, company_id)
        return _answer(request, _twake_file(ctx, file_id), client, company_id)

    @extend_schema(
        tags=TAGS, parameters=UPLOAD_PARAMS,
        request={"multipart/form-data": inline_serializer("TwakeChunkIn", {
            "file": serializers.FileField()}),
            "application/octet-stream": OpenApiTypes.BINARY},
        responses={200: ResourceOut}, operation_id="twake_file_chunk",
    )
    def post(self, request: Request, company_id: str, file_id: str) -> Response:
        ctx = get_context(request)
        client = company_check(ctx, company_id)
        dms_file = _twake_file(ctx, file_id)
        number = query_int(request, "chunk_number", default=1, minimum=1)
        upload = _multipart_file(request)
        if upload is not None:
            stream, length = upload, upload.size
            upload.seek(0)
        else:
            stream, length = raw_body(request)
        dms_file = services.pending_file_chunk_accept(
            ctx=ctx, dms_file=dms_file, index=number - 1, stream=stream, length=length
        )
        return _answer(request, dms_file, client, company_id)

    @extend_schema(tags=TAGS, responses={200: inline_serializer("TwakeDeleted", {
        "status": serializers.CharField()})}, operation_id="twake_file_delete")
    def delete(self, request: Request, company_id: str, file_id: str) -> Response:
        ctx = get_context(request)
        company_check(ctx, company_id)
        dms_file = _twake_file(ctx, file_id)
        # A pending file's upload is cancelled with it, by its owner only (409 for anyone else: the upload goes on).
        services.dms_file_delete(ctx=ctx, dms_file=dms_file)
        return Response({"status": "success"})


class TwakeFileAliasView(TwakeFileView):
    """``GET /internal/services/files/v1/{company_id}/files/{file_id}`` (the seed's route)."""

    http_method_names = ("get",)

    @extend_schema(tags=TAGS, parameters=[OpenApiParameter("thumbnail_sync", int)],
                   responses={200: ResourceOut}, operation_id="twake_file_get_alias")
    def get(self, request: Request, company_id: str, file_id: str) -> Response:
        return super().get(request, company_id, file_id)


class TwakeDownloadView(APIView):
    @extend_schema(tags=TAGS, responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
                   operation_id="twake_file_download")
    def get(self, request: Request, company_id: str, file_id: str) -> Any:
        ctx = get_context(request)
        company_check(ctx, company_id)
        dms_file = _twake_file(ctx, file_id)
        if dms_file.stored_file_id is None:
            raise NotReady("The file is not fully uploaded yet.")
        return file_response(request, stored_file=dms_file.stored_file, file_name=dms_file.name,
                             content_type=dms_file.content_type)


class _ThumbnailBlob:
    """A thumbnail as ``file_response`` serves it: its own ETag (a rebuilt thumbnail is a new row,
    so a new ETag), its bytes through ``services.thumbnail_open`` (404 when they are gone)."""

    def __init__(self, thumbnail: Thumbnail, sha256: str) -> None:
        self.sha256 = f"{sha256}-thumbnail-{thumbnail.index}-{thumbnail.pk}"
        self.size = thumbnail.size
        self.content_type = thumbnail.content_type
        self.thumbnail = thumbnail


def _open_thumbnail(blob: _ThumbnailBlob) -> Any:
    return services.thumbnail_open(blob.thumbnail)


class TwakeThumbnailView(APIView):
    @extend_schema(tags=TAGS, responses={(200, "image/png"): OpenApiTypes.BINARY},
                   operation_id="twake_file_thumbnail")
    def get(self, request: Request, company_id: str, file_id: str, index: str) -> Any:
        ctx = get_context(request)
        company_check(ctx, company_id)
        dms_file = _twake_file(ctx, file_id)
        thumbnail = selectors.thumbnail_of(dms_file, parse_int(index, "The thumbnail index"))
        blob = _ThumbnailBlob(thumbnail, dms_file.stored_file.sha256)
        return file_response(request, stored_file=blob, file_name=f"{dms_file.name}.png",
                             content_type=thumbnail.content_type, inline=True,
                             opener=_open_thumbnail)
