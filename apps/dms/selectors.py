"""Reads on documents, always scoped to the caller's client (and visible organizations)."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import QuerySet

from apps.core.context import RequestContext
from apps.core.errors import NotFound
from apps.core.wire import parse_id_or_key
from apps.dms.models import DMSFile, Image, Thumbnail


def dms_files_qs(ctx: RequestContext) -> QuerySet[DMSFile]:
    queryset = DMSFile.objects.filter(client_id=ctx.client_id, is_active=True)
    orgs = ctx.visible_org_ids()
    if orgs is not None:
        queryset = queryset.filter(org_id__in=orgs)
    return queryset


def dms_file_get(ctx: RequestContext, ref: Any) -> DMSFile:
    """A file or folder of the caller's client by id or uuid; 404 otherwise."""
    key = parse_id_or_key(ref, "The file id")
    queryset = dms_files_qs(ctx).select_related("stored_file")
    if isinstance(key, int):
        found = queryset.filter(pk=key).first()
    else:
        try:
            found = queryset.filter(uid=uuid.UUID(key)).first()
        except ValueError:
            found = None
    if found is None:
        raise NotFound("No such file.")
    return found


def folder_children(
    ctx: RequestContext, parent: DMSFile | None, pattern: str | None = None
) -> QuerySet[DMSFile]:
    queryset = dms_files_qs(ctx).filter(parent=parent, table_name="")
    if pattern:
        queryset = queryset.filter(name__icontains=pattern)
    return queryset.order_by("-is_directory", "name", "id")


def dms_file_by_uid(ctx: RequestContext, uid: str) -> DMSFile:
    """A document of the caller's folder tree by its uuid (Nuxeo ``/id/{uid}``); 404 otherwise,
    for a malformed uid as for another tenant's."""
    try:
        parsed = uuid.UUID(str(uid).strip())
    except ValueError:
        raise NotFound("No such document.") from None
    found = (
        dms_files_qs(ctx).filter(uid=parsed, table_name="").select_related("stored_file").first()
    )
    if found is None:
        raise NotFound("No such document.")
    return found


def dms_file_by_path(ctx: RequestContext, path: str) -> DMSFile:
    """Walk ``/a/b/c`` from the client's root folders; 404 when a step is missing."""
    names = [part for part in path.strip("/").split("/") if part]
    if not names:
        raise NotFound("No document at the root path.")
    node: DMSFile | None = None
    for name in names:
        node = (
            dms_files_qs(ctx).filter(parent=node, name=name, table_name="")
            .select_related("stored_file").order_by("id").first()
        )
        if node is None:
            raise NotFound(f"No document at /{'/'.join(names)}.")
    return node


def dms_file_path(dms_file: DMSFile) -> str:
    names = []
    node: DMSFile | None = dms_file
    while node is not None:
        names.append(node.name)
        node = node.parent
    return "/" + "/".join(reversed(names))


def attachments_of(ctx: RequestContext, record: Any) -> QuerySet[DMSFile]:
    """The record's attachments the role sees (an attachment kept in an org the role does not
    see is hidden, as every other DMS row of that org is)."""
    return (
        dms_files_qs(ctx).filter(
            table_name=record._meta.db_table.lower(), record_id=record.pk, is_directory=False,
        )
        .select_related("stored_file")
        .order_by("name", "id")
    )


def attachment_get(ctx: RequestContext, record: Any, name: str) -> DMSFile:
    found = attachments_of(ctx, record).filter(name=name).first()
    if found is None:
        raise NotFound(f"No attachment named '{name}'.")
    return found


def thumbnails_of(stored_file_id: int | None) -> list[Thumbnail]:
    """The thumbnails of a StoredFile (one tenant's: take the id from a scoped document)."""
    if stored_file_id is None:
        return []
    return list(Thumbnail.objects.filter(stored_file_id=stored_file_id).order_by("index"))


def thumbnail_of(dms_file: DMSFile, index: int) -> Thumbnail:
    """Thumbnail ``index`` of a document the caller got through a scoped selector; 404 when it
    has none (yet, or ever)."""
    found = None
    if dms_file.stored_file_id is not None:
        found = Thumbnail.objects.filter(stored_file_id=dms_file.stored_file_id, index=index).first()
    if found is None:
        raise NotFound("No such thumbnail.")
    return found


def image_get(ctx: RequestContext, image_id: int) -> Image:
    queryset = Image.objects.filter(client_id=ctx.client_id, pk=image_id)
    orgs = ctx.visible_org_ids()
    if orgs is not None:
        queryset = queryset.filter(org_id__in=orgs)
    found = queryset.first()
    if found is None:
        raise NotFound("No such image.")
    return found
