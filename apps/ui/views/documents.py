"""The documents page: the client's DMS tree (breadcrumbs, a paged list with thumbnails, name
search, sorting), folder and file actions, and the place where browser uploads land."""

from __future__ import annotations

from itertools import pairwise
from pathlib import PurePosixPath

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts import services as account_services
from apps.core.context import RequestContext
from apps.core.errors import BadRequest, NotFound
from apps.dms import selectors as dms_selectors
from apps.dms import services as dms_services
from apps.dms.content import file_name_sanitize
from apps.dms.downloads import file_response
from apps.dms.models import DMSFile, ThumbnailStatus
from apps.ui import uploads
from apps.ui.navigation import page
from apps.ui.session import ui_page
from apps.ui.views.params import form_id, page_number

PAGE_SIZE = 50
SORTS = {
    "name": ("-is_directory", "name", "id"),
    "-name": ("-is_directory", "-name", "-id"),
    "size": ("-is_directory", "size", "name", "id"),
    "-size": ("-is_directory", "-size", "name", "id"),
    "date": ("-is_directory", "updated", "id"),
    "-date": ("-is_directory", "-updated", "-id"),
}
MOVE_TARGETS_MAX = 500


def _folder(ctx: RequestContext, folder_id: int | None) -> DMSFile | None:
    if folder_id is None:
        return None
    folder = dms_selectors.dms_file_get(ctx, folder_id)
    if not folder.is_directory or folder.is_attachment:
        raise NotFound("No such folder.")
    return folder


def _tree_node(ctx: RequestContext, file_id: int) -> DMSFile:
    node = dms_selectors.dms_file_get(ctx, file_id)
    if node.is_attachment:
        raise NotFound("No such file.")
    return node


def _breadcrumbs(folder: DMSFile | None) -> list[DMSFile]:
    trail = []
    while folder is not None:
        trail.append(folder)
        folder = folder.parent
    return list(reversed(trail))


TREE_FOLDERS_MAX = 100


def _tree(ctx: RequestContext, breadcrumbs: list[DMSFile]) -> list[dict]:
    """The folder tree opened along the current path: the folders of each level down to here."""
    path_ids = [crumb.pk for crumb in breadcrumbs]
    levels: list[list[dict]] = []
    for parent in [None, *breadcrumbs]:
        folders = dms_selectors.folder_children(ctx, parent).filter(is_directory=True)
        levels.append([
            {"folder": folder, "open": folder.pk in path_ids, "current": bool(path_ids) and folder.pk == path_ids[-1],
             "children": []}
            for folder in folders.only("id", "name")[:TREE_FOLDERS_MAX]
        ])
    for upper, lower in pairwise(levels):
        for node in upper:
            if node["open"]:
                node["children"] = lower
    return levels[0]


def _folder_url(folder: DMSFile | None) -> str:
    if folder is None:
        return reverse("ui:documents")
    return reverse("ui:folder", args=[folder.pk])


def _row_context(ctx: RequestContext, node: DMSFile) -> dict:
    return {"node": node, "can_write": ctx.can_write_org(node.org_id)}


@require_GET
@ui_page
def documents_view(request: HttpRequest, ctx: RequestContext, folder_id: int | None = None) -> HttpResponse:
    folder = _folder(ctx, folder_id)
    breadcrumbs = _breadcrumbs(folder)
    query = (request.GET.get("q") or "").strip()[:100]
    sort = request.GET.get("sort") or "name"
    if sort not in SORTS:
        sort = "name"
    rows = dms_selectors.folder_children(ctx, folder, query or None).order_by(*SORTS[sort])
    paged = Paginator(rows, PAGE_SIZE).get_page(page_number(request))
    return page(request, ctx, "ui/documents.html", {
        "folder": folder,
        "breadcrumbs": breadcrumbs,
        "tree": _tree(ctx, breadcrumbs),
        "page": paged,
        "rows": [_row_context(ctx, node) for node in paged.object_list],
        "query": query,
        "sort": sort,
        "can_write": ctx.can_write_org(folder.org_id if folder else ctx.org_id),
        "chunk_size": uploads.UPLOAD_CHUNK_SIZE,
        "direct_s3": uploads.direct_uploads_offered(),
    }, section="documents")


@require_POST
@ui_page
def folder_create_view(request: HttpRequest, ctx: RequestContext, folder_id: int | None = None) -> HttpResponse:
    parent = _folder(ctx, folder_id)
    name = (request.POST.get("name") or "").strip()
    if not name:
        raise BadRequest("Give the new folder a name.")
    created = dms_services.folder_create(ctx=ctx, name=name, parent=parent)
    messages.success(request, f"Folder '{created.name}' created.")
    return redirect(_folder_url(parent))


@require_http_methods(["GET", "POST"])
@ui_page
def rename_view(request: HttpRequest, ctx: RequestContext, file_id: int) -> HttpResponse:
    node = _tree_node(ctx, file_id)
    if request.method == "POST":
        old = node.name
        renamed = dms_services.dms_file_rename(ctx=ctx, dms_file=node, name=request.POST.get("name") or "")
        messages.success(request, f"'{old}' renamed to '{renamed.name}'.")
        return redirect(_folder_url(renamed.parent))
    return page(request, ctx, "ui/document_rename.html", {
        "node": node, "breadcrumbs": _breadcrumbs(node.parent), "back": _folder_url(node.parent),
    }, section="documents")


def _move_targets(ctx: RequestContext, node: DMSFile) -> list[tuple[int, str]]:
    """Folders a node may go to, by path: not itself nor anything below it."""
    folders = list(
        dms_selectors.dms_files_qs(ctx).filter(is_directory=True, table_name="")
        .only("id", "name", "parent_id")[:MOVE_TARGETS_MAX]
    )
    by_id = {f.pk: f for f in folders}

    def path_of(folder: DMSFile) -> tuple[str, bool]:
        names, inside, current, seen = [], False, folder, set()
        while current is not None and current.pk not in seen:
            seen.add(current.pk)
            inside = inside or current.pk == node.pk
            names.append(current.name)
            current = by_id.get(current.parent_id)
        return "/" + "/".join(reversed(names)), inside

    targets = []
    for folder in folders:
        path, inside = path_of(folder)
        if not inside and folder.pk != node.parent_id:
            targets.append((folder.pk, path))
    return sorted(targets, key=lambda item: item[1].lower())


@require_http_methods(["GET", "POST"])
@ui_page
def move_view(request: HttpRequest, ctx: RequestContext, file_id: int) -> HttpResponse:
    node = _tree_node(ctx, file_id)
    if request.method == "POST":
        root = request.POST.get("target") == "root"
        target = None if root else _folder(ctx, form_id(request, "target", "the target folder"))
        moved = dms_services.dms_file_move(ctx=ctx, dms_file=node, parent=target)
        where = target.name if target else "the top level"
        messages.success(request, f"'{moved.name}' moved to {where}.")
        return redirect(_folder_url(target))
    return page(request, ctx, "ui/document_move.html", {
        "node": node, "targets": _move_targets(ctx, node), "at_root": node.parent_id is None,
        "breadcrumbs": _breadcrumbs(node.parent), "back": _folder_url(node.parent),
    }, section="documents")


@require_http_methods(["GET", "POST"])
@ui_page
def delete_view(request: HttpRequest, ctx: RequestContext, file_id: int) -> HttpResponse:
    node = _tree_node(ctx, file_id)
    if request.method == "POST":
        parent = node.parent
        count = dms_services.dms_file_delete(ctx=ctx, dms_file=node)
        extra = f" and {count - 1} item(s) in it" if count > 1 else ""
        messages.success(request, f"'{node.name}'{extra} deleted.")
        return redirect(_folder_url(parent))
    inside = node.children.count() if node.is_directory else 0
    return page(request, ctx, "ui/document_delete.html", {
        "node": node, "inside": inside, "breadcrumbs": _breadcrumbs(node.parent),
        "back": _folder_url(node.parent),
    }, section="documents")


@require_GET
@ui_page
def download_view(request: HttpRequest, ctx: RequestContext, file_id: int) -> HttpResponse:
    node = dms_services.dms_file_resolve(_tree_node(ctx, file_id))
    if node.is_directory:
        raise BadRequest("A folder cannot be downloaded.")
    if node.stored_file_id is None:
        raise NotFound("This file is still being uploaded.")
    # Always as an attachment: a stored HTML or SVG file never runs as a page of this origin.
    return file_response(
        request, stored_file=node.stored_file, file_name=node.name, content_type=node.content_type,
    )


class _ThumbnailBlob:
    """A thumbnail as ``file_response`` serves a stored file (its own ETag)."""

    def __init__(self, thumbnail, sha256: str) -> None:
        # A rebuilt thumbnail is a new row: its id in the tag, so a cached old one is not kept.
        self.sha256 = f"{sha256}-thumbnail-{thumbnail.index}-{thumbnail.pk}"
        self.size = thumbnail.size
        self.thumbnail = thumbnail


@require_GET
@ui_page
def thumbnail_view(request: HttpRequest, ctx: RequestContext, file_id: int) -> HttpResponse:
    node = dms_selectors.dms_file_get(ctx, file_id)
    thumbnails = dms_selectors.thumbnails_of(node.stored_file_id)
    if not thumbnails:
        raise NotFound("This file has no thumbnail (yet).")
    blob = _ThumbnailBlob(thumbnails[0], node.stored_file.sha256)
    response = file_response(
        request, stored_file=blob, file_name=f"{node.name}.png", content_type=thumbnails[0].content_type,
        inline=True, opener=lambda b: dms_services.thumbnail_open(b.thumbnail),
    )
    response["Cache-Control"] = "private, max-age=3600"
    return response


@require_GET
@ui_page
def file_status_view(request: HttpRequest, ctx: RequestContext, file_id: int) -> HttpResponse:
    """For the page's script: whether a file's thumbnail is ready (it then shows it)."""
    node = dms_services.dms_file_resolve(dms_selectors.dms_file_get(ctx, file_id))
    ready = node.thumbnails_status == ThumbnailStatus.DONE
    return JsonResponse({
        "thumbnails": node.thumbnails_status,
        "thumbnail": reverse("ui:thumbnail", args=[node.pk]) if ready else None,
    })


@require_POST
@ui_page
def upload_token_view(request: HttpRequest, ctx: RequestContext) -> HttpResponse:
    """A short-lived upload token of this page's login session, for the tus uploader: the upload
    endpoints accept it and every other endpoint refuses it (401), so the page's script never
    holds a token that could read orders or change settings."""
    token, expires = account_services.session_upload_token(
        session_id=ctx.session_id, lifetime=uploads.UPLOAD_TOKEN_LIFETIME
    )
    return JsonResponse({"token": token, "expires": expires.isoformat()})


def _free_name(ctx: RequestContext, folder: DMSFile | None, name: str) -> str:
    """``name``, or ``name (2)``, ``name (3)`` ... when the folder already has it."""
    taken = set(
        dms_selectors.dms_files_qs(ctx).filter(parent=folder, table_name="")
        .values_list("name", flat=True)
    )
    if name not in taken:
        return name
    path = PurePosixPath(name)
    stem, suffix = (path.stem, path.suffix) if path.stem else (name, "")
    number = 2
    while f"{stem} ({number}){suffix}" in taken:
        number += 1
    return f"{stem} ({number}){suffix}"


@require_POST
@ui_page
def place_upload_view(request: HttpRequest, ctx: RequestContext, folder_id: int | None = None) -> HttpResponse:
    """A finished tus upload becomes a file of the folder; answers the new row for the list."""
    folder = _folder(ctx, folder_id)
    session = uploads.finished_upload(
        ctx, request.POST.get("upload") or "", request.POST.get("sha256") or ""
    )
    name = _free_name(ctx, folder, file_name_sanitize(session.file_name))
    node = dms_services.document_from_upload(ctx=ctx, session=session, name=name, parent=folder)
    uploads.upload_done(session)
    row = render_to_string("ui/_document_row.html", _row_context(ctx, node), request=request)
    return JsonResponse({"id": node.pk, "name": node.name, "row": row}, status=201)
