"""Nuxeo documents (seed 004, DESIGN §8 and §11 "Peer clients"), as the official clients call them.

A document is addressed by path or by uid, in the repository ``default`` (any other → 404):

- ``/api/v1/path/{path}`` and ``/api/v1/repo/{repository}/path/{path}``;
- ``/api/v1/id/{uid}`` and ``/api/v1/repo/{repository}/id/{uid}``.

On either: GET the document, POST a child (a File from a batch upload, or a folder), PUT its
properties (``dc:title``; ``file:content`` from a batch replaces the bytes), DELETE it. Adapters
follow the document: ``@children`` (Nuxeo's paged ``documents`` list) and ``@blob/{xpath}``
(``file:content``, or its alias ``blobholder:0``, the Python client's default).
Errors carry Nuxeo's ``entity-type: exception`` and ``message`` beside the problem fields.
"""

from __future__ import annotations

import math
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.context import RequestContext, get_context
from apps.core.errors import BadRequest, MethodNotAllowed, NotFound
from apps.core.wire import parse_int
from apps.dms import selectors, services
from apps.dms.dialects.common import field_ref, field_str, json_object, truthy
from apps.dms.downloads import file_response
from apps.dms.models import DMSFile
from apps.dms.services import FOLDER_TYPES
from apps.uploads import batches as upload_batches
from apps.uploads import selectors as upload_selectors

TAGS = ["nuxeo"]
REPOSITORY = "default"
# The blob xpaths a document answers: its main content, and the blob holder's first blob (the same).
BLOB_XPATHS = {"file:content", "blobholder:0"}
PAGE_SIZE_DEFAULT = 50
PAGE_SIZE_MAX = 1000
TITLE_MAX = 255
# A batch file is usable the moment its upload answered; finalize may still run on a worker.
BLOB_SETTLE_SECONDS = 10.0

BlobOut = inline_serializer("NuxeoBlob", {
    "name": serializers.CharField(), "mime-type": serializers.CharField(),
    "length": serializers.CharField(), "digest": serializers.CharField(),
    "digestAlgorithm": serializers.CharField(), "data": serializers.CharField(),
}, allow_null=True)

DocumentOut = inline_serializer("NuxeoDocument", {
    "entity-type": serializers.CharField(), "repository": serializers.CharField(),
    "uid": serializers.CharField(), "path": serializers.CharField(),
    "type": serializers.CharField(), "title": serializers.CharField(),
    "parentRef": serializers.CharField(allow_null=True), "isFolder": serializers.BooleanField(),
    "facets": serializers.ListField(child=serializers.CharField()),
    "properties": inline_serializer("NuxeoProperties", {
        "dc:title": serializers.CharField(), "file:content": BlobOut,
    }),
})

DocumentsOut = inline_serializer("NuxeoDocuments", {
    "entity-type": serializers.CharField(), "resultsCount": serializers.IntegerField(),
    "pageSize": serializers.IntegerField(), "currentPageIndex": serializers.IntegerField(),
    "numberOfPages": serializers.IntegerField(),
    "isNextPageAvailable": serializers.BooleanField(), "entries": serializers.ListField(
        child=serializers.DictField()),
})

DocumentIn = inline_serializer("NuxeoDocumentIn", {
    "entity-type": serializers.CharField(), "name": serializers.CharField(required=False),
    "type": serializers.CharField(), "properties": serializers.DictField(required=False),
})

BATCH_NO_DROP = OpenApiParameter("X-Batch-No-Drop", str, OpenApiParameter.HEADER,
                                 description="true: keep the upload batch after use")
ADAPTER_PARAMETERS = [
    OpenApiParameter("currentPageIndex", int, description="@children: 0-based page"),
    OpenApiParameter("pageSize", int, description=f"@children: 1..{PAGE_SIZE_MAX}, 0 = largest"),
    OpenApiParameter("offset", int, description="@children: entries to skip"),
]


# --- Rendering ---------------------------------------------------------------------------------------


def _iso(value: Any) -> str:
    return value.isoformat().replace("+00:00", "Z")


def document_json(
    dms_file: DMSFile, *, request: Request | None = None, path: str | None = None,
) -> dict[str, Any]:
    """The document as Nuxeo's JSON writer shapes it (the fields its clients read)."""
    path = path or selectors.dms_file_path(dms_file)
    title = dms_file.title or dms_file.name
    blob = None
    if not dms_file.is_directory and dms_file.stored_file_id:
        data = f"/api/v1/repo/{REPOSITORY}/id/{dms_file.uid}/@blob/file:content"
        blob = {
            "name": dms_file.blob_name or dms_file.name,
            "mime-type": dms_file.content_type or "application/octet-stream",
            "encoding": None, "length": str(dms_file.stored_file.size),
            "digest": dms_file.stored_file.sha256, "digestAlgorithm": "SHA-256",
            "data": request.build_absolute_uri(data) if request is not None else data,
        }
    doc_type = dms_file.doc_type or ("Folder" if dms_file.is_directory else "File")
    parent_uid = None
    if dms_file.parent_id is not None:
        parent_uid = str(dms_file.parent.uid)
    return {
        "entity-type": "document", "repository": REPOSITORY, "uid": str(dms_file.uid),
        "path": path, "type": doc_type, "state": "project", "parentRef": parent_uid,
        "isCheckedOut": True, "isVersion": False, "isProxy": False, "isTrashed": False,
        "changeToken": f"{dms_file.version}-{int(dms_file.updated.timestamp() * 1000)}",
        "title": title, "lastModified": _iso(dms_file.updated),
        "isFolder": dms_file.is_directory,
        "facets": ["Folderish"] if dms_file.is_directory else ["Downloadable", "Versionable"],
        "properties": {"dc:title": title, "file:content": blob},
    }


def _page_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw.strip() == "":
        return default
    return parse_int(raw, name, minimum=0, maximum=10**9)


def children_json(request: Request, ctx: RequestContext, folder: DMSFile) -> dict[str, Any]:
    """``@children``: Nuxeo's paginable ``documents`` list (a non-folder has no children)."""
    page_size = _page_param(request, "pageSize", PAGE_SIZE_DEFAULT)
    if page_size == 0 or page_size > PAGE_SIZE_MAX:
        page_size = PAGE_SIZE_MAX
    page_index = _page_param(request, "currentPageIndex", 0)
    offset = _page_param(request, "offset", 0) + page_index * page_size
    if folder.is_directory:
        queryset = selectors.folder_children(ctx, folder).select_related("stored_file")
        total = queryset.count()
        rows = list(queryset[offset: offset + page_size])
    else:
        total, rows = 0, []
    folder_path = selectors.dms_file_path(folder)
    entries = []
    for row in rows:
        row.parent = folder  # every row's parent is this folder: no query per row for parentRef
        entries.append(document_json(row, request=request, path=f"{folder_path}/{row.name}"))
    pages = max(math.ceil(total / page_size), 1)
    has_next = offset + len(rows) < total
    return {
        "entity-type": "documents", "isPaginable": True, "resultsCount": total,
        "pageSize": page_size, "maxPageSize": PAGE_SIZE_MAX, "resultsCountLimit": -1,
        "currentPageSize": len(rows), "currentPageIndex": page_index,
        "currentPageOffset": offset, "numberOfPages": pages,
        "isPreviousPageAvailable": offset > 0, "isNextPageAvailable": has_next,
        "isLastPageAvailable": has_next, "isSortable": True, "hasError": False,
        "errorMessage": None, "totalSize": total, "pageIndex": page_index, "pageCount": pages,
        "entries": entries,
    }


# --- Views -------------------------------------------------------------------------------------------


class NuxeoDocumentBase(APIView):
    """The document calls, whatever addresses the document; subclasses resolve it."""

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        if isinstance(response.data, dict) and "status" in response.data:
            # Nuxeo's error JSON, which its clients read (``message``), beside the problem fields.
            response.data.setdefault("entity-type", "exception")
            response.data.setdefault("message", response.data.get("detail"))
        return response

    def resolve(self, ctx: RequestContext, **kwargs: Any) -> tuple[DMSFile, str]:
        """The addressed document and the adapter that follows it ("" for none)."""
        raise NotImplementedError

    @staticmethod
    def _check_repository(repository: str | None) -> None:
        if repository is not None and repository != REPOSITORY:
            raise NotFound(f"No repository named '{repository}'.", code="repository")

    def get(self, request: Request, **kwargs: Any) -> Any:
        ctx = get_context(request)
        dms_file, adapter = self.resolve(ctx, **kwargs)
        if not adapter:
            return Response(document_json(dms_file, request=request))
        if adapter == "children":
            return Response(children_json(request, ctx, dms_file))
        name, _, xpath = adapter.partition("/")
        if name != "blob":
            raise NotFound(f"Unknown adapter '@{name}'.", code="adapter")
        if xpath not in BLOB_XPATHS:
            raise NotFound(f"This document has no blob at '{xpath}'.", code="blob_xpath")
        if dms_file.is_directory or dms_file.stored_file_id is None:
            raise NotFound(f"This document has no {xpath} blob.", code="no_blob")
        return file_response(request, stored_file=dms_file.stored_file,
                             file_name=dms_file.blob_name or dms_file.name,
                             content_type=dms_file.content_type)

    def post(self, request: Request, **kwargs: Any) -> Response:
        ctx = get_context(request)
        folder, adapter = self.resolve(ctx, **kwargs)
        self._no_adapter(adapter)
        body = self._body(request)
        doc_type = field_str(body, "type") or ""
        doc_name = field_str(body, "name")
        properties = self._properties(body)
        title = self._title(properties) or ""
        content = properties.get("file:content")
        if content is not None and not isinstance(content, dict):
            raise BadRequest("file:content must be an object.", code="file_content")
        if not folder.is_directory:
            raise BadRequest("Documents are created under a folder.", code="parent_not_folder")
        if doc_type in FOLDER_TYPES and not content:
            created = services.folder_create(
                ctx=ctx, name=doc_name or title, parent=folder, doc_type=doc_type,
                title=title,
            )
            return Response(document_json(created, request=request), status=201)
        batch, session = self._batch_session(ctx, content)
        if session is None:
            raise BadRequest("file:content needs upload-batch and upload-fileId.",
                             code="file_content")
        blob_name = session.file_name
        created = services.document_from_upload(
            ctx=ctx, session=session, name=doc_name or title or blob_name,
            parent=folder, title=title, doc_type=doc_type or "File", blob_name=blob_name,
        )
        self._drop_batch(request, ctx, batch)
        return Response(document_json(created, request=request), status=201)

    def put(self, request: Request, **kwargs: Any) -> Response:
        ctx = get_context(request)
        dms_file, adapter = self.resolve(ctx, **kwargs)
        self._no_adapter(adapter)
        body = self._body(request)
        properties = self._properties(body)
        title = self._title(properties)
        content = properties.get("file:content", ...)
        if content is None and dms_file.stored_file_id is not None:
            raise BadRequest("Removing file:content is not supported; upload a new one.",
                             code="file_content")
        # A blob echoed back as it was read (no upload-batch) leaves the content as it is.
        batch, session = self._batch_session(ctx, content)
        updated = services.document_update(
            ctx=ctx, dms_file=dms_file, title=title, session=session,
            blob_name=session.file_name if session is not None else "",
        )
        self._drop_batch(request, ctx, batch)
        return Response(document_json(updated, request=request))

    def delete(self, request: Request, **kwargs: Any) -> Response:
        ctx = get_context(request)
        dms_file, adapter = self.resolve(ctx, **kwargs)
        self._no_adapter(adapter)
        services.dms_file_delete(ctx=ctx, dms_file=dms_file)
        return Response(status=204)

    # --- wire parsing --------------------------------------------------------------------------------

    @staticmethod
    def _no_adapter(adapter: str) -> None:
        if adapter:
            raise MethodNotAllowed(f"@{adapter.split('/')[0]} is read-only.")

    @staticmethod
    def _body(request: Request) -> dict[str, Any]:
        body = json_object(request.data)
        if body.get("entity-type") != "document":
            raise BadRequest("entity-type must be 'document'.", code="entity_type")
        return body

    @staticmethod
    def _properties(body: dict[str, Any]) -> dict[str, Any]:
        properties = body.get("properties")
        if properties is None:
            return {}
        if not isinstance(properties, dict):
            raise BadRequest("properties must be an object.", code="properties")
        return properties

    @staticmethod
    def _title(properties: dict[str, Any]) -> str | None:
        if "dc:title" not in properties or properties["dc:title"] is None:
            return None
        title = properties["dc:title"]
        if not isinstance(title, (str, int, float)) or isinstance(title, bool):
            raise BadRequest("dc:title must be a string.", code="title")
        title = str(title)
        if len(title) > TITLE_MAX:
            raise BadRequest(f"dc:title is longer than {TITLE_MAX} characters.", code="title")
        return title

    @staticmethod
    def _batch_session(ctx: RequestContext, content: Any) -> tuple[Any, Any]:
        """The batch and file a ``file:content`` of ``{upload-batch, upload-fileId}`` names."""
        if not isinstance(content, dict) or not content.get("upload-batch"):
            return None, None
        batch_ref = field_ref(content, "upload-batch", "file:content.")
        file_ref = field_ref(content, "upload-fileId", "file:content.")
        batch = upload_selectors.batch_for_owner(ctx, str(batch_ref))
        session = upload_selectors.batch_slot(batch, str(file_ref if file_ref is not None else "0"))
        upload_selectors.session_wait_settled(session, seconds=BLOB_SETTLE_SECONDS)
        return batch, session

    @staticmethod
    def _drop_batch(request: Request, ctx: RequestContext, batch: Any) -> None:
        if batch is not None and not truthy(request.headers.get("X-Batch-No-Drop")):
            upload_batches.batch_drop(batch=batch)


def _split_adapter(doc_path: str) -> tuple[str, str]:
    """``a/b/@blob/file:content`` → (``/a/b``, ``blob/file:content``): the first segment that
    starts with ``@`` begins the adapter, as in Nuxeo's URLs."""
    names = doc_path.strip("/").split("/")
    for index, name in enumerate(names):
        if name.startswith("@"):
            return "/" + "/".join(names[:index]), "/".join([name[1:], *names[index + 1:]])
    return "/" + "/".join(names), ""


class NuxeoPathView(NuxeoDocumentBase):
    """``/api/v1[/repo/{repository}]/path/{path}[/@adapter]``."""

    def resolve(self, ctx: RequestContext, **kwargs: Any) -> tuple[DMSFile, str]:
        self._check_repository(kwargs.get("repository"))
        doc_path, adapter = _split_adapter(kwargs["doc_path"])
        return selectors.dms_file_by_path(ctx, doc_path), adapter

    @extend_schema(
        tags=TAGS, parameters=ADAPTER_PARAMETERS,
        responses={200: DocumentOut, (200, "application/octet-stream"): OpenApiTypes.BINARY},
        description="The document; with /@children its children (paged), with "
                    "/@blob/file:content (or /@blob/blobholder:0) its bytes.",
    )
    def get(self, request: Request, **kwargs: Any) -> Any:
        return super().get(request, **kwargs)

    @extend_schema(tags=TAGS, parameters=[BATCH_NO_DROP], request=DocumentIn,
                   responses={201: DocumentOut})
    def post(self, request: Request, **kwargs: Any) -> Response:
        return super().post(request, **kwargs)

    @extend_schema(tags=TAGS, parameters=[BATCH_NO_DROP], request=DocumentIn,
                   responses={200: DocumentOut})
    def put(self, request: Request, **kwargs: Any) -> Response:
        return super().put(request, **kwargs)

    @extend_schema(tags=TAGS, responses={204: None})
    def delete(self, request: Request, **kwargs: Any) -> Response:
        return super().delete(request, **kwargs)


class NuxeoIdView(NuxeoPathView):
    """``/api/v1[/repo/{repository}]/id/{uid}[/@adapter]``."""

    def resolve(self, ctx: RequestContext, **kwargs: Any) -> tuple[DMSFile, str]:
        self._check_repository(kwargs.get("repository"))
        return selectors.dms_file_by_uid(ctx, kwargs["uid"]), kwargs.get("adapter") or ""
