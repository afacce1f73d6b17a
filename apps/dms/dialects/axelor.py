"""Axelor DMS (seed 003): chunked upload to MetaFiles, file tree, downloads, record attachments.

A MetaFile here is the upload session: ``POST /ws/files/upload`` answers its id, and ``PUT
/ws/dms/attachments/{model}/{id}`` turns MetaFiles into attachments.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.context import get_context
from apps.core.errors import BadRequest, NotFound
from apps.core.openapi import problems
from apps.core.wire import header_int
from apps.dms import selectors, services
from apps.dms.access import record_resolve
from apps.dms.content import file_name_sanitize
from apps.dms.dialects.common import field_bool, field_ref, field_str, json_object, raw_body
from apps.dms.downloads import file_response
from apps.dms.models import DMSFile
from apps.uploads import chunks as upload_chunks
from apps.uploads import selectors as upload_selectors
from apps.uploads import services as upload_services

TAGS = ["axelor"]

class DMSFileOut(serializers.Serializer):
    id = serializers.IntegerField()
    version = serializers.IntegerField()
    fileName = serializers.CharField()
    isDirectory = serializers.BooleanField()


DMSFileListOut = inline_serializer("AxelorDMSFileList", {
    "total": serializers.IntegerField(), "data": DMSFileOut(many=True),
})
MetaFileOut = inline_serializer("AxelorMetaFile", {
    "id": serializers.CharField(), "fileName": serializers.CharField(),
    "filePath": serializers.CharField(), "fileType": serializers.CharField(),
    "fileSize": serializers.IntegerField(), "sizeText": serializers.CharField(),
    "version": serializers.IntegerField(), "fileId": serializers.CharField(required=False),
})


def _file_json(dms_file: DMSFile) -> dict[str, Any]:
    """DESIGN §8: every DMS file Axelor lists is ``{id, version, fileName, isDirectory}``."""
    return {"id": dms_file.pk, "version": dms_file.version, "fileName": dms_file.name,
            "isDirectory": dms_file.is_directory}


def _size_text(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size} {unit}" if unit == "B" else f"{size:.2f} {unit}".replace(".00 ", " ")
        size /= 1024
    return f"{size} B"  # pragma: no cover


def _meta_file_json(session: Any) -> dict[str, Any]:
    size = session.size or 0
    name = session.file_name
    return {
        "id": str(session.uid), "fileName": name, "filePath": name,
        "fileType": (session.content_type or "application/octet-stream"), "fileSize": size,
        "sizeText": _size_text(size), "version": 0,
    }


class AxelorUploadView(APIView):
    """``POST /ws/files/upload``: one chunk at ``X-File-Offset`` of a file of ``X-File-Size``."""

    @extend_schema(
        tags=TAGS, request={"application/octet-stream": OpenApiTypes.BINARY},
        parameters=[
            OpenApiParameter("X-File-Name", str, OpenApiParameter.HEADER, required=True),
            OpenApiParameter("X-File-Offset", int, OpenApiParameter.HEADER),
            OpenApiParameter("X-File-Size", int, OpenApiParameter.HEADER, required=True),
            OpenApiParameter("X-File-Type", str, OpenApiParameter.HEADER),
            OpenApiParameter("X-File-Id", str, OpenApiParameter.HEADER),
        ],
        responses={200: MetaFileOut}, operation_id="axelor_upload",
    )
    def post(self, request: Request) -> Response:
        ctx = get_context(request)
        offset = header_int(request, "X-File-Offset", default=0)
        size = header_int(request, "X-File-Size", required=True)
        stream, length = raw_body(request)
        if offset + length > size:
            raise BadRequest("X-File-Offset + Content-Length exceeds X-File-Size.",
                             code="chunk_too_long")
        file_id = request.headers.get("X-File-Id", "").strip()
        if offset == 0 and not file_id:
            name = file_name_sanitize(request.headers.get("X-File-Name"))
            # Axelor chunks may have any size: the engine appends each at its offset.
            session = upload_services.session_create(
                ctx=ctx, file_name=name,
                content_type=request.headers.get("X-File-Type", "") or "application/octet-stream",
                size=size, chunk_size=None, chunk_count=None, dialect="axelor",
            )
        else:
            if not file_id:
                raise BadRequest("X-File-Id is required after the first chunk.", code="file_id")
            session = upload_selectors.session_for_owner(ctx, file_id)
            if session.size != size:
                raise BadRequest("X-File-Size differs from the first chunk's.", code="size_changed")
            # Axelor appends: a chunk must start where the received bytes end.
            received = session.received_bytes
            if offset != received:
                raise BadRequest(f"Invalid offset {offset}: {received} bytes received so far.",
                                 code="invalid_offset")
        result = upload_chunks.chunk_accept(
            session=session, stream=stream, length=length, index=None, offset=offset
        )
        if offset + length < size:
            return Response({"fileId": str(session.uid)})
        return Response(_meta_file_json(result.session))


def _single(request: Request, name: str) -> str | None:
    """A query parameter given at most once: ``?parent=1&parent=`` is not a guess of which."""
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise BadRequest(f"'{name}' is given {len(values)} times; give it once.")
    return values[0] if values else None


_AXELOR_REF = {"oneOf": [{"type": "integer", "minimum": 0}, {"type": "string"}]}
AXELOR_FOLDER_IN = {
    "type": "object",
    "description": "A new folder (also accepted wrapped as Axelor's envelope {\"data\": {...}}).",
    "properties": {
        "fileName": {"type": "string", "minLength": 1},
        "isDirectory": {"type": "boolean", "enum": [True, None], "nullable": True,
                        "description": "Files are not created here: false is refused."},
        "parent": {
            "oneOf": [
                {"type": "object", "properties": {"id": {**_AXELOR_REF, "nullable": True}}},
                {"type": "integer", "minimum": 0},
                {"type": "string"},
            ],
            "nullable": True,
            "description": "The parent folder ({id}, or its id): none (or no id) for the root.",
        },
    },
    "required": ["fileName"],
}


class DMSFilesView(APIView):
    """``GET /ws/dms/files?parent=&pattern=`` and ``POST /ws/dms/files`` (new folder)."""

    @extend_schema(
        tags=TAGS,
        parameters=[
            OpenApiParameter("parent", str, description="The folder's id or uuid (none: the root)"),
            OpenApiParameter("pattern", str, description="Only names containing this text"),
        ],
        responses={200: DMSFileListOut, **problems(404)}, operation_id="axelor_files_list",
    )
    def get(self, request: Request) -> Response:
        ctx = get_context(request)
        parent_ref, pattern = _single(request, "parent"), _single(request, "pattern")
        parent = selectors.dms_file_get(ctx, parent_ref) if parent_ref else None
        files = list(selectors.folder_children(ctx, parent, pattern))
        return Response({"total": len(files), "data": [_file_json(f) for f in files]})

    @extend_schema(
        tags=TAGS,
        request={"application/json": AXELOR_FOLDER_IN},
        responses={200: inline_serializer("AxelorFolderOut", {
            "status": serializers.IntegerField(), "data": DMSFileOut(many=True),
        }), **problems(404, 409)},
        operation_id="axelor_folder_create",
    )
    def post(self, request: Request) -> Response:
        ctx = get_context(request)
        body = json_object(request.data)
        if "data" in body:  # Axelor's request envelope: {"data": {...}}
            body = json_object(body["data"], "data")
        name = field_str(body, "fileName") or ""
        if field_bool(body, "isDirectory") is False:
            raise BadRequest("Only folders are created here; upload files with /ws/files/upload.")
        parent_ref = body.get("parent")
        if isinstance(parent_ref, dict):
            parent_ref = field_ref(parent_ref, "id", "parent.")
        else:
            parent_ref = field_ref(body, "parent")
        parent = selectors.dms_file_get(ctx, parent_ref) if parent_ref else None
        folder = services.folder_create(ctx=ctx, name=name, parent=parent)
        return Response({"status": 0, "data": [_file_json(folder)]})


class DMSFileView(APIView):
    """``DELETE /ws/dms/files/{id}`` (alias ``DELETE /ws/rest/com.axelor.dms.db.DMSFile/{id}``)."""

    @extend_schema(
        tags=TAGS, responses={200: inline_serializer("AxelorDeleted", {
            "status": serializers.IntegerField(), "data": DMSFileOut(many=True),
        })}, operation_id="axelor_file_delete",
    )
    def delete(self, request: Request, file_id: str) -> Response:
        ctx = get_context(request)
        dms_file = selectors.dms_file_get(ctx, file_id)
        gone = _file_json(dms_file)
        services.dms_file_delete(ctx=ctx, dms_file=dms_file)
        return Response({"status": 0, "data": [gone]})


class DMSDownloadView(APIView):
    """``GET /ws/dms/download/{id}``."""

    @extend_schema(tags=TAGS, responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
                   operation_id="axelor_download")
    def get(self, request: Request, file_id: str) -> Any:
        ctx = get_context(request)
        dms_file = services.dms_file_resolve(selectors.dms_file_get(ctx, file_id))
        if dms_file.is_directory or dms_file.stored_file_id is None:
            raise NotFound("This entry has no content to download.")
        if dms_file.is_attachment:
            record_resolve(ctx, dms_file.table_name, dms_file.record_id, write=False)
        return file_response(request, stored_file=dms_file.stored_file, file_name=dms_file.name,
                             content_type=dms_file.content_type)


def _table_of(model: str) -> str:
    """``com.axelor.sale.db.Order``-style model names end in the table name; plain names are kept."""
    return model.rsplit(".", 1)[-1]


class DMSAttachmentsView(APIView):
    """``GET/PUT /ws/dms/attachments/{model}/{id}``."""

    @extend_schema(tags=TAGS, responses={200: DMSFileListOut}, operation_id="axelor_attachments")
    def get(self, request: Request, model: str, record_id: str) -> Response:
        ctx = get_context(request)
        record = record_resolve(ctx, _table_of(model), record_id, write=False)
        files = list(selectors.attachments_of(ctx, record))
        return Response({"total": len(files),
                         "data": [_file_json(f) for f in files]})

    @extend_schema(
        tags=TAGS,
        request=inline_serializer("AxelorAttachIn", {"records": serializers.ListField(
            child=inline_serializer("AxelorMetaFileRef", {"id": serializers.CharField()}))}),
        responses={200: inline_serializer("AxelorAttachOut", {
            "data": DMSFileOut(many=True)})},
        operation_id="axelor_attach",
    )
    def put(self, request: Request, model: str, record_id: str) -> Response:
        ctx = get_context(request)
        body = json_object(request.data)
        refs = body.get("records")
        if not isinstance(refs, list) or not refs:
            raise BadRequest("records must list the MetaFiles to attach.", code="records_required")
        meta_ids = []
        for index, ref in enumerate(refs):
            where = f"records[{index}]"
            meta_id = field_ref(ref, "id", f"{where}.") if isinstance(ref, dict) \
                else field_ref({"id": ref}, "id", f"{where}.")
            if meta_id in (None, ""):
                raise BadRequest(f"{where} needs an id.", code="record_id")
            meta_ids.append(str(meta_id))
        record = record_resolve(ctx, _table_of(model), record_id, write=True)
        sessions = [upload_selectors.session_for_owner(ctx, meta_id) for meta_id in meta_ids]
        placed = []
        for session in sessions:
            stored_file = services.upload_stored_file(session)
            placed.append(services.attachment_add(
                ctx=ctx, record=record, stored_file=stored_file,
                name=session.file_name, overwrite=True,
            ))
        return Response({"data": [_file_json(f) for f in placed]})


class DMSFileRestView(DMSFileView):
    """``DELETE /ws/rest/com.axelor.dms.db.DMSFile/{id}``: Axelor's generic REST delete."""

    @extend_schema(
        tags=TAGS, responses={200: inline_serializer("AxelorRestDeleted", {
            "status": serializers.IntegerField(), "data": DMSFileOut(many=True),
        })}, operation_id="axelor_rest_file_delete",
    )
    def delete(self, request: Request, file_id: str) -> Response:
        return super().delete(request, file_id)
