"""Admin: browse each client's document tree and a record's attachments, with thumbnails and
staff-only download links."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path, reverse
from django.utils.html import format_html

from apps.core.errors import BadRequest, NotFound
from apps.core.wire import parse_int
from apps.dms.downloads import file_response
from apps.dms.models import Archive, DMSFile, Image, Thumbnail


class _ThumbnailBlob:
    def __init__(self, thumbnail: Thumbnail) -> None:
        # A rebuilt thumbnail is a new row: its id in the tag, so a cached old one is not kept.
        self.sha256 = f"{thumbnail.stored_file.sha256}-thumbnail-{thumbnail.index}-{thumbnail.pk}"
        self.size = thumbnail.size
        self.storage_key = thumbnail.storage_key
        self.thumbnail = thumbnail


def _open_thumbnail(blob: _ThumbnailBlob) -> Any:
    from apps.dms.services import thumbnail_open

    try:
        return thumbnail_open(blob.thumbnail)
    except NotFound as error:  # its bytes are gone: this page is not DRF's, so Django's 404
        raise Http404 from error


@admin.register(DMSFile)
class DMSFileAdmin(admin.ModelAdmin):
    list_display = (
        "preview", "name", "is_directory", "client", "parent", "attached_to", "content_type",
        "size", "version", "thumbnails_status", "download", "updated",
    )
    list_filter = ("client", "is_directory", "table_name", "thumbnails_status")
    search_fields = ("name", "title", "table_name", "=record_id")
    list_select_related = ("client", "parent", "stored_file")
    raw_id_fields = ("parent", "stored_file", "upload_session", "owner")
    readonly_fields = ("stored_file", "upload_session", "size", "content_type", "preview_large")

    def get_urls(self) -> list:
        own = [
            path("<int:pk>/download/", self.admin_site.admin_view(self.download_view),
                 name="dms_dmsfile_download"),
            path("<int:pk>/thumbnail/", self.admin_site.admin_view(self.thumbnail_view),
                 name="dms_dmsfile_thumbnail"),
        ]
        return own + super().get_urls()

    def download_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not request.user.is_staff:
            raise Http404
        dms_file = DMSFile.objects.select_related("stored_file").filter(pk=pk).first()
        if dms_file is None or dms_file.stored_file_id is None:
            raise Http404
        return file_response(request, stored_file=dms_file.stored_file, file_name=dms_file.name,
                             content_type=dms_file.content_type)

    def thumbnail_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        dms_file = DMSFile.objects.filter(pk=pk).first()
        thumbnail = (
            Thumbnail.objects.select_related("stored_file")
            .filter(stored_file_id=dms_file.stored_file_id).order_by("index").first()
            if dms_file is not None and dms_file.stored_file_id else None
        )
        if thumbnail is None:
            raise Http404
        return file_response(request, stored_file=_ThumbnailBlob(thumbnail),
                             file_name=f"{dms_file.name}.png", content_type=thumbnail.content_type,
                             inline=True, opener=_open_thumbnail)

    @admin.display(description="")
    def preview(self, obj: DMSFile) -> str:
        if obj.is_directory:
            url = reverse("admin:dms_dmsfile_changelist") + f"?parent__id__exact={obj.pk}"
            return format_html('<a href="{}" title="Open folder">📁</a>', url)
        if obj.thumbnails_status != "done":
            return ""
        url = reverse("admin:dms_dmsfile_thumbnail", args=[obj.pk])
        return format_html('<img src="{}" style="max-height:48px;max-width:64px" alt="">', url)

    @admin.display(description="preview")
    def preview_large(self, obj: DMSFile) -> str:
        if obj.pk is None or obj.thumbnails_status != "done":
            return "—"
        url = reverse("admin:dms_dmsfile_thumbnail", args=[obj.pk])
        return format_html('<img src="{}" style="max-width:256px" alt="">', url)

    @admin.display(description="attached to")
    def attached_to(self, obj: DMSFile) -> str:
        if not obj.is_attachment:
            return ""
        url = (reverse("admin:dms_dmsfile_changelist")
               + f"?table_name={obj.table_name}&record_id={obj.record_id}")
        return format_html('<a href="{}">{} #{}</a>', url, obj.table_name, obj.record_id)

    @admin.display(description="download")
    def download(self, obj: DMSFile) -> str:
        if obj.is_directory or obj.stored_file_id is None:
            return ""
        return format_html('<a href="{}">download</a>',
                           reverse("admin:dms_dmsfile_download", args=[obj.pk]))

    def get_queryset(self, request: HttpRequest) -> Any:
        queryset = super().get_queryset(request)
        record_id = request.GET.get("record_id")
        if record_id:
            try:
                queryset = queryset.filter(record_id=parse_int(record_id, "record_id"))
            except BadRequest:
                queryset = queryset.none()
        return queryset

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        if lookup in {"record_id", "parent__id__exact"}:
            return True
        return super().lookup_allowed(lookup, value, request)


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    list_display = ("name", "client", "content_type", "stored_file", "created")
    list_filter = ("client",)
    search_fields = ("name",)
    raw_id_fields = ("stored_file",)


@admin.register(Archive)
class ArchiveAdmin(admin.ModelAdmin):
    list_display = ("name", "client", "table_name", "record_id", "content_type", "created")
    list_filter = ("client", "table_name")
    search_fields = ("name", "=record_id")
    raw_id_fields = ("stored_file",)


@admin.register(Thumbnail)
class ThumbnailAdmin(admin.ModelAdmin):
    list_display = ("stored_file", "index", "width", "height", "size", "created")
    raw_id_fields = ("stored_file",)
