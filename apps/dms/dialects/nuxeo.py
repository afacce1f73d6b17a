"""Nuxeo documents (seed 004): create a File from a batch upload or a folder under a path,
read a document by path, and its blob at ``@blob/file:content``."""

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
from apps.dms import engine, selectors, services
from apps.dms.dialects.common import field_ref, field_str, json_object, truthy
from apps.dms.downloads import file_response
from apps.dms.models import DMSFile
from apps.dms.services import FOLDER_TYPES

TAGS = ["nuxeo"]
BLOB_SUFFIX = "/@blob/file:content"

DocumentOut = inline_serializer("NuxeoDocument", {
    "entity-type": serializers.CharField(), "uid": serializers.CharField(),
    "path": serializers.CharField(), "type": serializers.CharField(),
    "title": serializers.CharField(),
    "properties": inline_serializer("NuxeoProperties", {
        "dc:title": serializers.CharField(),
        "file:content": inline_serializer("NuxeoBlob", {
            "name": serializers.CharField(), "mime-type": serializers.CharField(),
            "length": serializers.CharField(), "digest": serializers.CharField(),
            "digestAlgorithm": serializers.CharField(), "data": serializers.CharField(),
        }, allow_null=True),
    }),
})


def document_json(dms_file: DMSFile) -> dict[str, Any]:
    path = selectors.dms_file_path(dms_file)
    blob = None
    if not dms_file.is_directory and dms_file.stored_file_id:
        blob = {
            "name": dms_file.blob_name or dms_file.name, "mime-type": dms_file.content_type,
            "encoding": None, "length": str(dms_file.stored_file.size),
            "digest": dms_file.stored_file.sha256, "digestAlgorithm": "SHA-256",
            "data": f"/api/v1/path{path}{BLOB_SUFFIX}",
        }
    doc_type = dms_file.doc_type or ("Folder" if dms_file.is_directory else "File")
    return {
        "entity-type": "document", "repository": "default", "uid": str(dms_file.uid),
        "path": path, "type": doc_type, "state": "project", "isCheckedOut": True,
        "title": dms_file.title or dms_file.name,
        "lastModified": dms_file.updated.isoformat().replace("+00:00", "Z"),
        "facets": ["Folderish"] if dms_file.is_directory else ["Downloadable", "Versionable"],
        "properties": {"dc:title": dms_file.title or dms_file.name, "file:content": blob},
    }


class NuxeoPathView(APIView):
    """``GET/POST /api/v1/path/{path}``; ``GET /api/v1/path/{path}/@blob/file:content``."""

    @extend_schema(
        tags=TAGS,
        responses={200: DocumentOut, (200, "application/octet-stream"): OpenApiTypes.BINARY},
        operation_id="nuxeo_document_get",
    )
    def get(self, request: Request, doc_path: str) -> Any:
        ctx = get_context(request)
        wants_blob = ("/" + doc_path).endswith(BLOB_SUFFIX)
        if wants_blob:
            doc_path = ("/" + doc_path)[: -len(BLOB_SUFFIX)]
        dms_file = selectors.dms_file_by_path(ctx, doc_path)
        if not wants_blob:
            return Response(document_json(dms_file))
        if dms_file.is_directory or dms_file.stored_file_id is None:
            raise NotFound("This document has no file:content blob.")
        return file_response(request, stored_file=dms_file.stored_file,
                             file_name=dms_file.blob_name or dms_file.name,
                             content_type=dms_file.content_type)

    @extend_schema(
        tags=TAGS,
        parameters=[OpenApiParameter("X-Batch-No-Drop", str, OpenApiParameter.HEADER)],
        request=inline_serializer("NuxeoDocumentIn", {
            "entity-type": serializers.CharField(), "name": serializers.CharField(required=False),
            "type": serializers.CharField(), "properties": serializers.DictField(required=False),
        }),
        responses={201: DocumentOut}, operation_id="nuxeo_document_create",
    )
    def post(self, request: Request, doc_path: str) -> Response:
        ctx = get_context(request)
        body = json_object(request.data)
        if body.get("entity-type") != "document":
            raise BadRequest("entity-type must be 'document'.", code="entity_type")
        doc_type = field_str(body, "type") or ""
        doc_name = field_str(body, "name")
        properties = body.get("properties") or {}
        if not isinstance(properties, dict):
            raise BadRequest("properties must be an object.", code="properties")
        title = field_str(properties, "dc:title", "properties.") or ""
        content = properties.get("file:content")
        if content is not None and not isinstance(content, dict):
            raise BadRequest("file:content must be an object.", code="file_content")
        folder = selectors.dms_file_by_path(ctx, doc_path)
        if not folder.is_directory:
            raise BadRequest("Documents are created under a folder.", code="parent_not_folder")
        if doc_type in FOLDER_TYPES and not content:
            created = services.folder_create(
                ctx=ctx, name=doc_name or title, parent=folder, doc_type=doc_type,
                title=title,
            )
            return Response(document_json(created), status=201)
        if not isinstance(content, dict) or not content.get("upload-batch"):
            raise BadRequest("file:content needs upload-batch and upload-fileId.",
                             code="file_content")
        batch_ref = field_ref(content, "upload-batch", "file:content.")
        file_ref = field_ref(content, "upload-fileId", "file:content.")
        batch = engine.batch_for_owner(ctx, str(batch_ref))
        session = engine.batch_session(batch, str(file_ref if file_ref is not None else "0"))
        blob_name = engine.session_file_name(session)
        created = services.document_from_upload(
            ctx=ctx, session=session, name=doc_name or title or blob_name,
            parent=folder, title=title, doc_type=doc_type or "File", blob_name=blob_name,
        )
        if not truthy(request.headers.get("X-Batch-No-Drop")):
            engine.batch_drop(ctx, batch)
        return Response(document_json(created), status=201)

    @extend_schema(tags=TAGS, responses={204: None}, operation_id="nuxeo_document_delete")
    def delete(self, request: Request, doc_path: str) -> Response:
        ctx = get_context(request)
        dms_file = selectors.dms_file_by_path(ctx, doc_path)
        services.dms_file_delete(ctx=ctx, dms_file=dms_file)
        return Response(status=204)
