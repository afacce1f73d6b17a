"""iDempiere REST: a record's attachments (DESIGN §5) and ``POST /api/v1/uploads/{id}/copy``."""

from __future__ import annotations

import base64
import binascii
import io
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core import wire
from apps.core.context import get_context
from apps.core.errors import BadRequest, PayloadTooLarge
from apps.core.openapi import problems
from apps.dms import selectors, services
from apps.dms.access import record_resolve
from apps.dms.downloads import READ_PIECE, content_disposition, file_response
from apps.uploads import selectors as upload_selectors
from apps.uploads import stored_files

TAGS = ["attachments"]

AttachmentListOut = inline_serializer(
    "AttachmentList",
    {"attachments": serializers.ListField(child=inline_serializer(
        "AttachmentItem", {"name": serializers.CharField(), "contentType": serializers.CharField()}
    ))},
)


class AttachmentIn(serializers.Serializer):
    name = serializers.CharField(max_length=500)
    data = serializers.CharField()
    overwrite = serializers.BooleanField(required=False, default=False)


class AttachmentZipIn(serializers.Serializer):
    data = serializers.CharField()
    overwrite = serializers.BooleanField(required=False, default=False)


def _decode_base64(text: str) -> bytes:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if len(text) > limit * 4 // 3 + 4:
        raise PayloadTooLarge("The attachment is too large for a JSON body; use /api/v1/uploads.")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("data is not valid base64.", code="invalid_base64") from None


def _list_body(files: Any) -> dict[str, Any]:
    return {"attachments": [{"name": f.name, "contentType": f.content_type} for f in files]}


class RecordAttachmentsView(APIView):
    """``/api/v1/models/{table}/{id}/attachments``."""

    @extend_schema(tags=TAGS, responses={200: AttachmentListOut}, operation_id="attachments_list")
    def get(self, request: Request, table: str, record_id: str) -> Response:
        ctx = get_context(request)
        record = record_resolve(ctx, table, record_id, write=False)
        return Response(_list_body(selectors.attachments_of(ctx, record)))

    @extend_schema(
        tags=TAGS, request=AttachmentIn, responses={201: AttachmentListOut},
        operation_id="attachments_add",
    )
    def post(self, request: Request, table: str, record_id: str) -> Response:
        ctx = get_context(request)
        body = AttachmentIn(data=request.data)
        body.is_valid(raise_exception=True)
        record = record_resolve(ctx, table, record_id, write=True)
        data = _decode_base64(body.validated_data["data"])
        services.attachment_add_bytes(
            ctx=ctx, record=record, data=data, name=body.validated_data["name"],
            overwrite=body.validated_data["overwrite"],
        )
        return Response(_list_body(selectors.attachments_of(ctx, record)), status=201)

    @extend_schema(
        tags=TAGS, responses={200: inline_serializer("AttachmentsDeleted", {
            "msg": serializers.CharField()})}, operation_id="attachments_delete_all",
    )
    def delete(self, request: Request, table: str, record_id: str) -> Response:
        ctx = get_context(request)
        record = record_resolve(ctx, table, record_id, write=True)
        services.attachment_remove(ctx=ctx, record=record)
        return Response({"msg": "Deleted"})


class RecordAttachmentView(APIView):
    """``/api/v1/models/{table}/{id}/attachments/{fileName}``."""

    @extend_schema(
        tags=TAGS,
        parameters=[OpenApiParameter("json", OpenApiTypes.STR, required=False,
                                     description="Present: answer {data} in base64.")],
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY,
                   (200, "application/json"): inline_serializer(
                       "AttachmentData", {"data": serializers.CharField()})},
        operation_id="attachment_get",
    )
    def get(self, request: Request, table: str, record_id: str, file_name: str) -> Any:
        ctx = get_context(request)
        record = record_resolve(ctx, table, record_id, write=False)
        dms_file = selectors.attachment_get(ctx, record, file_name)
        if "json" in request.query_params:
            if dms_file.stored_file.size > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
                raise PayloadTooLarge("The attachment is too large for a JSON answer; "
                                      "download its bytes instead.")
            handle = stored_files.stored_file_open(dms_file.stored_file)
            try:
                data = base64.b64encode(handle.read()).decode("ascii")
            finally:
                handle.close()
            return Response({"data": data})
        return file_response(
            request, stored_file=dms_file.stored_file, file_name=dms_file.name,
            content_type=dms_file.content_type,
        )

    @extend_schema(
        tags=TAGS, responses={200: inline_serializer("AttachmentDeleted", {
            "msg": serializers.CharField()})}, operation_id="attachment_delete",
    )
    def delete(self, request: Request, table: str, record_id: str, file_name: str) -> Response:
        ctx = get_context(request)
        record = record_resolve(ctx, table, record_id, write=True)
        services.attachment_remove(ctx=ctx, record=record, name=file_name)
        return Response({"msg": "Deleted"})


class _ZipSink(io.RawIOBase):
    """A write-only, non-seekable target for ZipFile whose bytes are drained as they come."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._parts.append(bytes(data))
        self._position += len(data)
        return len(data)

    def tell(self) -> int:
        return self._position

    def drain(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def zip_stream(files: list[Any]) -> Iterator[bytes]:
    """A ZIP of the files' bytes, produced piece by piece (never the whole archive in memory)."""
    sink = _ZipSink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for dms_file in files:
            info = zipfile.ZipInfo(dms_file.name, date_time=dms_file.updated.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            handle = stored_files.stored_file_open(dms_file.stored_file)
            try:
                with archive.open(info, "w", force_zip64=True) as entry:
                    while piece := handle.read(READ_PIECE):
                        entry.write(piece)
                        if chunk := sink.drain():
                            yield chunk
            finally:
                handle.close()
            if chunk := sink.drain():
                yield chunk
    yield sink.drain()


class RecordAttachmentsZipView(APIView):
    """``/api/v1/models/{table}/{id}/attachments/zip``: all attachments as one ZIP, or add a ZIP's."""

    @extend_schema(
        tags=TAGS, responses={(200, "application/zip"): OpenApiTypes.BINARY},
        operation_id="attachments_zip_get",
    )
    def get(self, request: Request, table: str, record_id: str) -> Any:
        ctx = get_context(request)
        record = record_resolve(ctx, table, record_id, write=False)
        files = list(selectors.attachments_of(ctx, record).exclude(stored_file=None))
        response = StreamingHttpResponse(zip_stream(files), content_type="application/zip")
        stamp = datetime.now(UTC).strftime("%Y%m%d")
        name = f"{record._meta.db_table}_{record.pk}_attachments_{stamp}.zip"
        response["Content-Disposition"] = content_disposition(name)
        return response

    @extend_schema(
        tags=TAGS, request=AttachmentZipIn, responses={201: AttachmentListOut},
        operation_id="attachments_zip_add",
        description="Attach every file of a base64 ZIP, all or none: a corrupt archive 400, an "
                    "existing or repeated name 409 (unless overwrite), past the ATTACHMENT_ZIP_* "
                    "caps (entries, bytes per entry and in all, compression ratio) 413.",
    )
    def post(self, request: Request, table: str, record_id: str) -> Response:
        ctx = get_context(request)
        body = AttachmentZipIn(data=request.data)
        body.is_valid(raise_exception=True)
        record = record_resolve(ctx, table, record_id, write=True)
        data = _decode_base64(body.validated_data["data"])
        # Capped, streamed and all-or-nothing: see services.attachments_add_zip.
        services.attachments_add_zip(
            ctx=ctx, record=record, data=data, overwrite=body.validated_data["overwrite"],
        )
        return Response(_list_body(selectors.attachments_of(ctx, record)), status=201)


class UploadCopyIn(serializers.Serializer):
    copyLocation = wire.ChoiceField(
        choices=services.COPY_LOCATIONS, required=False, allow_blank=True,
        help_text="Where the file goes; blank: where the upload was opened for (uploadLocation).",
    )
    tableName = wire.CharField(required=False, allow_blank=True, allow_null=True, max_length=60)
    recordId = wire.IdOrKeyField(required=False, allow_null=True)


UploadCopyOut = inline_serializer("UploadCopy", {
    "uploadId": serializers.CharField(), "tableName": serializers.CharField(),
    "recordId": serializers.IntegerField(), "recordUU": serializers.CharField(),
    "copyLocation": serializers.CharField(), "fileName": serializers.CharField(),
    "contentType": serializers.CharField(), "fileSize": serializers.IntegerField(),
})


class UploadCopyView(APIView):
    """``POST /api/v1/uploads/{uploadId}/copy``: place a finished upload (409 while processing)."""

    @extend_schema(tags=["uploads"], request=UploadCopyIn,
                   responses={200: UploadCopyOut, **problems(409, 410)}, operation_id="uploads_copy")
    def post(self, request: Request, upload_id: str) -> Response:
        ctx = get_context(request)
        body = UploadCopyIn(data=request.data)
        body.is_valid(raise_exception=True)
        session = upload_selectors.session_for_owner(ctx, upload_id)
        result = services.upload_copy(
            ctx=ctx, session=session, location=body.validated_data.get("copyLocation") or "",
            table_name=body.validated_data.get("tableName"),
            record_ref=body.validated_data.get("recordId"),
        )
        answer = {
            "uploadId": str(upload_id), "tableName": result.table_name,
            "recordId": result.record_id, "recordUU": result.record_uid,
            "copyLocation": result.location, "fileName": result.file_name,
            "contentType": result.content_type, "fileSize": result.file_size,
        }
        if result.location == "IMAGE":
            answer["imageId"] = result.target.pk
        return Response(answer)
