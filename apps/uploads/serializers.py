"""Wire shapes of the upload dialects (input and output kept apart)."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.parsers import BaseParser

from apps.core import wire
from apps.core.errors import PayloadTooLarge


class RawBodyParser(BaseParser):
    """Declares raw chunk bodies; views never parse them (they stream ``request._request``)."""

    media_type = "application/octet-stream"

    def parse(self, stream, media_type=None, parser_context=None):  # pragma: no cover
        return None


class AnyRawBodyParser(RawBodyParser):
    media_type = "*/*"


UPLOAD_LOCATIONS = ("ARCHIVE", "ATTACHMENT", "IMAGE")


class FileSizeField(wire.IntegerField):
    """A declared file size: a number past UPLOAD_MAX_FILE_SIZE is too large (413), however many
    digits it has, not malformed."""

    def to_internal_value(self, data):
        if isinstance(data, int) and not isinstance(data, bool):
            limit = int(settings.UPLOAD_MAX_FILE_SIZE)
            if data > limit:
                raise PayloadTooLarge(f"The file is larger than the limit of {limit} bytes.")
        return super().to_internal_value(data)


class UploadCreateIn(serializers.Serializer):
    fileName = wire.CharField(max_length=1000)
    contentType = wire.CharField(max_length=255, required=False, allow_blank=True)
    fileSize = FileSizeField(min_value=0)
    chunkSize = wire.IntegerField(min_value=1, required=False, allow_null=True)
    sha256 = serializers.RegexField(
        r"^[0-9a-fA-F]{64}$", required=False, allow_blank=True, allow_null=True
    )
    uploadLocation = wire.ChoiceField(
        choices=UPLOAD_LOCATIONS, required=False, allow_blank=True, allow_null=True
    )
    expiresInSeconds = wire.IntegerField(min_value=1, required=False, allow_null=True)


@extend_schema_field({
    "type": "string",
    "format": "uri-template",
    "description": "An RFC 6570 URI template: replace {chunkOrder} (1-based) to PUT each chunk. "
    "Signed: it needs no other credentials until it expires or its login session ends.",
    "example": "http://127.0.0.1:8000/api/v1/uploads/0b5e.../chunks/{chunkOrder}?expires=...&sig=...",
})
class ChunkUrlTemplateField(serializers.CharField):
    """The presigned chunk URL: a template with a literal ``{chunkOrder}``, not a URI."""


class UploadCreatedOut(serializers.Serializer):
    uploadId = serializers.UUIDField()
    chunkSize = serializers.IntegerField()
    expiresAt = serializers.DateTimeField()
    presignedURL = ChunkUrlTemplateField()


class ChunkOut(serializers.Serializer):
    uploadId = serializers.UUIDField()
    chunkOrder = serializers.IntegerField()
    receivedSize = serializers.IntegerField()
    message = serializers.CharField()
    isLastChunk = serializers.BooleanField()


class UploadedChunkOut(serializers.Serializer):
    chunkOrder = serializers.IntegerField()
    receivedSize = serializers.IntegerField()


class UploadStatusOut(serializers.Serializer):
    uploadId = serializers.UUIDField()
    fileName = serializers.CharField()
    contentType = serializers.CharField()
    fileSize = serializers.IntegerField(allow_null=True)
    chunkSize = serializers.IntegerField(allow_null=True)
    status = serializers.ChoiceField(
        choices=["INITIATED", "UPLOADING", "PROCESSING", "COMPLETED", "FAILED", "CANCELLED",
                 "EXPIRED"]
    )
    uploadedChunks = UploadedChunkOut(many=True)
    totalReceivedSize = serializers.IntegerField()
    expiresAt = serializers.DateTimeField()
    message = serializers.CharField()
    sha256 = serializers.CharField(required=False)
    imageId = serializers.IntegerField(required=False)
    presignedURL = serializers.URLField(required=False)


class PendingUploadsOut(serializers.Serializer):
    uploads = UploadStatusOut(many=True, help_text="Unfinished, unexpired sessions, oldest first")


class MessageOut(serializers.Serializer):
    message = serializers.CharField()


class FileJsonOut(serializers.Serializer):
    fileName = serializers.CharField()
    contentType = serializers.CharField()
    data = serializers.CharField(help_text="The file's bytes, base64-encoded.")
