"""Documents placed over content-addressed StoredFiles: the folder tree, record attachments,
images (AD_Image), archives (AD_Archive) and thumbnails.

Bytes live once per SHA-256 in ``uploads.StoredFile``; every row here that points at one holds a
reference on it (``stored_file_retain``) and gives it back on delete (``stored_file_release``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.core.models import TenantModel


class ThumbnailStatus(models.TextChoices):
    NONE = "none", "No thumbnails for this type"
    WAITING = "waiting", "Waiting"
    DONE = "done", "Done"
    ERROR = "error", "Error"


class DMSFile(TenantModel):
    """A node of a client's document tree: a folder, a file, or an attachment of a record.

    A file made from an upload that is still being finalized points at its ``upload_session`` and
    gets its ``stored_file`` once the session is completed (see ``services.dms_file_resolve``).
    """

    name = models.CharField(db_column="FileName", max_length=255)
    parent = models.ForeignKey(
        "self", db_column="Parent_ID", on_delete=models.CASCADE, null=True, blank=True,
        related_name="children",
    )
    is_directory = models.BooleanField(db_column="IsDirectory", default=False)
    version = models.PositiveIntegerField(db_column="Version", default=0)
    doc_type = models.CharField(
        db_column="DocType", max_length=40, blank=True,
        help_text="Nuxeo document type: File, Folder, Workspace, Domain.",
    )
    title = models.CharField(db_column="Title", max_length=255, blank=True)
    blob_name = models.CharField(
        db_column="BlobName", max_length=255, blank=True,
        help_text="The uploaded file's own name when the document's name differs (Nuxeo).",
    )
    stored_file = models.ForeignKey(
        "uploads.StoredFile", db_column="StoredFile_ID", on_delete=models.PROTECT, null=True,
        blank=True, related_name="dms_files",
    )
    upload_session = models.ForeignKey(
        "uploads.UploadSession", db_column="UploadSession_ID", on_delete=models.SET_NULL,
        null=True, blank=True, related_name="+",
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, db_column="Owner_ID", on_delete=models.SET_NULL, null=True,
        blank=True, related_name="+",
    )
    table_name = models.CharField(
        db_column="RelatedModel", max_length=60, blank=True, db_index=True,
        help_text="Lower-case table name of the record this file is attached to.",
    )
    record_id = models.BigIntegerField(db_column="RelatedId", null=True, blank=True)
    content_type = models.CharField(db_column="ContentType", max_length=255, blank=True)
    size = models.BigIntegerField(db_column="FileSize", null=True, blank=True)
    thumbnails_status = models.CharField(
        db_column="ThumbnailsStatus", max_length=10, choices=ThumbnailStatus.choices,
        default=ThumbnailStatus.NONE,
    )

    class Meta:
        db_table = "DMS_File"
        verbose_name = "DMS file"
        ordering = ("-is_directory", "name", "id")
        indexes = (
            models.Index(fields=["client", "table_name", "record_id"], name="dms_file_record_idx"),
            models.Index(fields=["client", "parent", "name"], name="dms_file_parent_name_idx"),
        )

    def __str__(self) -> str:
        return self.name

    @property
    def is_attachment(self) -> bool:
        return bool(self.table_name) and self.record_id is not None


class Image(TenantModel):
    """AD_Image: an image stored for a client (e.g. a product picture)."""

    name = models.CharField(db_column="Name", max_length=255)
    description = models.CharField(db_column="Description", max_length=255, blank=True)
    stored_file = models.ForeignKey(
        "uploads.StoredFile", db_column="StoredFile_ID", on_delete=models.PROTECT,
        related_name="images",
    )
    content_type = models.CharField(db_column="ContentType", max_length=255, blank=True)

    class Meta:
        db_table = "AD_Image"
        ordering = ("id",)

    def __str__(self) -> str:
        return self.name


class Archive(TenantModel):
    """AD_Archive: a document archived against a record (table + record id)."""

    name = models.CharField(db_column="Name", max_length=255)
    description = models.CharField(db_column="Description", max_length=255, blank=True)
    table_name = models.CharField(db_column="TableName", max_length=60)
    record_id = models.BigIntegerField(db_column="Record_ID")
    record_uid = models.CharField(db_column="Record_UU", max_length=36, blank=True)
    stored_file = models.ForeignKey(
        "uploads.StoredFile", db_column="StoredFile_ID", on_delete=models.PROTECT,
        related_name="archives",
    )
    content_type = models.CharField(db_column="ContentType", max_length=255, blank=True)

    class Meta:
        db_table = "AD_Archive"
        ordering = ("id",)
        indexes = (
            models.Index(fields=["client", "table_name", "record_id"], name="ad_archive_record_idx"),
        )

    def __str__(self) -> str:
        return self.name


class Thumbnail(models.Model):
    """A preview of a StoredFile's content, shared by the documents of its tenant over the same
    StoredFile (a StoredFile belongs to one tenant).

    Its bytes are kept under a server-made key of that StoredFile alone (``storage_key``, see
    ``services.thumbnail_key``), not as a StoredFile: no other tenant's row ever points at them.
    """

    stored_file = models.ForeignKey(
        "uploads.StoredFile", on_delete=models.CASCADE, related_name="thumbnails"
    )
    index = models.PositiveSmallIntegerField(default=0)
    content_type = models.CharField(max_length=60, default="image/png")
    size = models.PositiveIntegerField(default=0)
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    storage_key = models.CharField(max_length=255)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "DMS_Thumbnail"
        ordering = ("stored_file_id", "index")
        constraints = (
            models.UniqueConstraint(fields=["stored_file", "index"], name="dms_thumbnail_uniq"),
        )

    def __str__(self) -> str:
        return f"thumbnail {self.index} of {self.stored_file_id}"


class ThumbnailRender(models.Model):
    """How rendering a StoredFile's thumbnails went, so that a file is rendered a bounded number
    of times: an attempt is recorded before its render starts (a worker that dies mid-render
    leaves it counted), and a render that fails or is stopped marks the file "no thumbnail" for
    good (``state`` FAILED, ``detail`` says why)."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        RENDERING = "rendering", "Rendering"
        DONE = "done", "Done"
        FAILED = "failed", "No thumbnail"

    stored_file = models.OneToOneField(
        "uploads.StoredFile", on_delete=models.CASCADE, related_name="thumbnail_render"
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    detail = models.CharField(max_length=500, blank=True)
    peak_rss = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Peak resident memory of the last render's process, in bytes.",
    )
    started = models.DateTimeField(null=True, blank=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "DMS_ThumbnailRender"

    def __str__(self) -> str:
        return f"thumbnail render of {self.stored_file_id}: {self.state}"
