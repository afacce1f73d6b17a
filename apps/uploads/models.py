"""The upload engine's tables: sessions and their chunks, Nuxeo batches, content-addressed files.

Bytes never live in these rows: chunks are written into the session's storage (in place at their
offset on local storage, multipart parts or staged objects on S3) and a finished upload becomes a
:class:`StoredFile`, stored once per SHA-256 per storage and reference-counted.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.core.models import AuditedModel, TenantModel


class StorageBackend(models.TextChoices):
    LOCAL = "local", "Local file system"
    S3 = "s3", "S3"


class StoredFile(AuditedModel):
    """Bytes stored once per content (SHA-256) per tenant per storage; rows that use them hold a
    reference. Never shared across tenants: no tenant's upload can be linked to bytes another
    tenant's requests wrote."""

    # Null only on rows made before files were kept per tenant.
    client = models.ForeignKey(
        "accounts.Client", db_column="AD_Client_ID", on_delete=models.PROTECT, related_name="+",
        null=True, blank=True,
    )
    sha256 = models.CharField(db_column="SHA256", max_length=64)
    size = models.BigIntegerField(db_column="FileSize")
    content_type = models.CharField(db_column="ContentType", max_length=255, blank=True)
    storage_alias = models.CharField(db_column="StorageAlias", max_length=60, default="default")
    storage_backend = models.CharField(
        db_column="StorageBackend", max_length=10, choices=StorageBackend.choices
    )
    # Local root directory or S3 bucket: where the bytes are, whatever the reader's settings.
    storage_location = models.CharField(db_column="StorageLocation", max_length=500)
    storage_key = models.CharField(db_column="StorageKey", max_length=500)
    ref_count = models.PositiveIntegerField(db_column="RefCount", default=0)

    class Meta:
        db_table = "AD_StoredFile"
        constraints = (
            models.UniqueConstraint(
                fields=["storage_backend", "storage_location", "client", "sha256"],
                name="ad_storedfile_tenant_content_uniq",
            ),
        )

    def __str__(self) -> str:
        return f"{self.sha256[:12]}… ({self.size} bytes)"


class Batch(TenantModel):
    """A Nuxeo upload batch: numbered file slots, each slot an upload session."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, db_column="AD_User_ID", on_delete=models.CASCADE, related_name="+"
    )
    expires_at = models.DateTimeField(db_column="ExpiresAt")

    class Meta:
        db_table = "AD_UploadBatch"

    def __str__(self) -> str:
        return f"batch {self.uid}"

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()


class UploadSession(TenantModel):
    class State(models.TextChoices):
        INITIATED = "INITIATED"
        UPLOADING = "UPLOADING"
        PROCESSING = "PROCESSING"
        COMPLETED = "COMPLETED"
        FAILED = "FAILED"
        CANCELLED = "CANCELLED"
        EXPIRED = "EXPIRED"

    class Mode(models.TextChoices):
        # Local: chunks written at their offset into one file; finalize only hashes and renames.
        IN_PLACE = "inplace"
        # S3: chunks sent on as multipart-upload parts; finalize completes the upload.
        PARTS = "parts"
        # Chunks kept as separate objects/files, composed at finalize (offset or size unknown).
        STAGED = "staged"
        # S3 only: the client sends its parts straight to S3 with presigned URLs and completes
        # the multipart upload through the service; finalize reads the object once to hash it.
        DIRECT = "direct"

    class Shape(models.TextChoices):
        """How a session's bytes are written, decided by the dialect that created it, once:
        the two shapes never mix on one session (a request of the other shape gets 409)."""

        # Numbered chunks, each at its index's place (iDempiere, Nuxeo, Twake, one-shot bodies).
        CHUNKS = "chunks"
        # Offset appends at the end of what was received (tus, Axelor).
        APPENDS = "appends"

    APPEND_DIALECTS = frozenset({"tus", "axelor"})

    OPEN_STATES = (State.INITIATED, State.UPLOADING)
    PENDING_STATES = (State.INITIATED, State.UPLOADING, State.PROCESSING)

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, db_column="AD_User_ID", on_delete=models.CASCADE, related_name="+"
    )
    file_name = models.CharField(db_column="FileName", max_length=255)
    content_type = models.CharField(db_column="ContentType", max_length=255, blank=True)
    size = models.BigIntegerField(db_column="FileSize", null=True, blank=True)
    chunk_size = models.BigIntegerField(db_column="ChunkSize", null=True, blank=True)
    chunk_count = models.IntegerField(db_column="ChunkCount", null=True, blank=True)
    sha256 = models.CharField(db_column="SHA256", max_length=64, blank=True)
    location = models.CharField(db_column="UploadLocation", max_length=40, blank=True)
    dialect = models.CharField(db_column="Dialect", max_length=20, default="idempiere")
    state = models.CharField(
        db_column="State", max_length=12, choices=State.choices, default=State.INITIATED
    )
    failure_reason = models.CharField(db_column="FailureReason", max_length=500, blank=True)
    expires_at = models.DateTimeField(db_column="ExpiresAt")
    completed_at = models.DateTimeField(db_column="CompletedAt", null=True, blank=True)
    received_bytes = models.BigIntegerField(db_column="ReceivedBytes", default=0)

    mode = models.CharField(db_column="StorageMode", max_length=10, choices=Mode.choices)
    storage_alias = models.CharField(db_column="StorageAlias", max_length=60, default="default")
    storage_backend = models.CharField(
        db_column="StorageBackend", max_length=10, choices=StorageBackend.choices
    )
    storage_location = models.CharField(db_column="StorageLocation", max_length=500)
    # Server-made key of the assembled file (local: the in-place file; S3: the multipart target).
    storage_key = models.CharField(db_column="StorageKey", max_length=500)
    s3_upload_id = models.CharField(db_column="S3UploadId", max_length=500, blank=True)
    # Whole-file hash computed by finalize, kept so a retried finalize need not hash again.
    assembled_sha256 = models.CharField(db_column="AssembledSHA256", max_length=64, blank=True)
    stored_file = models.ForeignKey(
        StoredFile,
        db_column="AD_StoredFile_ID",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="sessions",
    )
    batch = models.ForeignKey(
        Batch,
        db_column="AD_UploadBatch_ID",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="sessions",
    )
    batch_index = models.CharField(db_column="BatchIndex", max_length=40, blank=True)
    # Free-form protocol metadata a dialect keeps with the session (e.g. tus Upload-Metadata).
    meta = models.JSONField(db_column="Meta", default=dict, blank=True)
    # What consumers made of the finished upload, recorded by them through
    # ``services.session_record_result`` (e.g. {"imageId": 123} when dms made an image of it).
    result_refs = models.JSONField(db_column="ResultRefs", default=dict, blank=True)

    class Meta:
        db_table = "AD_UploadSession"
        indexes = (
            models.Index(fields=["state", "expires_at"], name="ad_uploadsession_state_exp"),
            models.Index(fields=["batch", "batch_index"], name="ad_uploadsession_batch_idx"),
        )

    def __str__(self) -> str:
        return f"upload {self.uid} ({self.state})"

    @property
    def is_expired(self) -> bool:
        return self.state == self.State.EXPIRED or self.expires_at <= timezone.now()

    @property
    def write_shape(self) -> str:
        return self.Shape.APPENDS if self.dialect in self.APPEND_DIALECTS else self.Shape.CHUNKS

    @property
    def is_open(self) -> bool:
        return self.state in self.OPEN_STATES

    @property
    def planned_chunk_count(self) -> int:
        """How many chunks the client was told to send (1 when it could not be told)."""
        if self.chunk_count:
            return int(self.chunk_count)
        if self.size and self.chunk_size:
            return max(-(-self.size // self.chunk_size), 1)
        return 1

    def expected_chunk_length(self, index: int) -> int | None:
        """The exact length of chunk ``index`` when the size, chunk size and count say it."""
        if self.chunk_size is None or self.size is None or self.chunk_count is None:
            return None
        if index < self.chunk_count - 1:
            return self.chunk_size
        return self.size - self.chunk_size * (self.chunk_count - 1)

    def all_in(self) -> bool:
        """Every byte of the upload is received (as this row says; one query for counted chunks)."""
        if self.expected_chunk_length(0) is not None:
            # Every received chunk holds exactly its expected length (checked on receipt), and a
            # chunk counts once: the bytes add up to the size exactly when every chunk is in.
            return self.received_bytes >= self.size
        if self.chunk_count is not None:
            return self.chunks.filter(received=True).count() >= self.chunk_count
        return self.size is not None and self.received_bytes >= self.size

    @property
    def finished_file(self) -> StoredFile | None:
        """The stored file of a COMPLETED upload, else None."""
        if self.state != self.State.COMPLETED or self.stored_file_id is None:
            return None
        return self.stored_file


class UploadChunk(models.Model):
    """One received chunk. ``received=False`` is a claim while its body streams in."""

    id = models.BigAutoField(primary_key=True, db_column="AD_UploadChunk_ID")
    session = models.ForeignKey(
        UploadSession, db_column="AD_UploadSession_ID", on_delete=models.CASCADE,
        related_name="chunks",
    )
    index = models.IntegerField(db_column="ChunkIndex")  # 0-based
    offset = models.BigIntegerField(db_column="ChunkOffset", null=True, blank=True)
    size = models.BigIntegerField(db_column="ChunkSize", default=0)
    sha256 = models.CharField(db_column="SHA256", max_length=64, blank=True)
    storage_key = models.CharField(db_column="StorageKey", max_length=500, blank=True)
    part_number = models.IntegerField(db_column="PartNumber", null=True, blank=True)
    etag = models.CharField(db_column="ETag", max_length=200, blank=True)
    received = models.BooleanField(db_column="IsReceived", default=False)
    created = models.DateTimeField(db_column="Created", default=timezone.now)
    # Set by a newer request for this chunk (lock release, see ``apps.uploads.locks``): the
    # request receiving the body stops at its next read and gives the chunk up.
    stop_requested = models.BooleanField(db_column="IsStopRequested", default=False)

    class Meta:
        db_table = "AD_UploadChunk"
        ordering = ("session_id", "index")
        constraints = (
            models.UniqueConstraint(fields=["session", "index"], name="ad_uploadchunk_index_uniq"),
        )

    def __str__(self) -> str:
        return f"chunk {self.index} of {self.session_id}"
