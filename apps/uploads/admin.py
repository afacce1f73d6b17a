from django.contrib import admin

from apps.uploads.models import Batch, StoredFile, UploadChunk, UploadSession


class UploadChunkInline(admin.TabularInline):
    model = UploadChunk
    extra = 0
    can_delete = False
    readonly_fields = ("index", "offset", "size", "sha256", "part_number", "received", "created")
    fields = readonly_fields


@admin.register(UploadSession)
class UploadSessionAdmin(admin.ModelAdmin):
    list_display = ("uid", "file_name", "owner", "state", "size", "received_bytes", "expires_at")
    list_filter = ("state", "dialect", "storage_backend")
    search_fields = ("uid", "file_name")
    readonly_fields = ("uid", "stored_file", "storage_key", "s3_upload_id", "assembled_sha256")
    inlines = (UploadChunkInline,)


@admin.register(StoredFile)
class StoredFileAdmin(admin.ModelAdmin):
    list_display = ("sha256", "size", "content_type", "storage_backend", "ref_count", "created")
    search_fields = ("sha256",)
    readonly_fields = ("sha256", "size", "storage_key", "storage_location")


@admin.register(Batch)
class BatchAdmin(admin.ModelAdmin):
    list_display = ("uid", "owner", "expires_at")
