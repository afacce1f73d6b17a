"""What upload inputs become, parsed once for every dialect: file names, content types, hashes,
integers (ASCII digits only, :func:`apps.core.wire.parse_int`), the request body stream.
"""

from __future__ import annotations

import mimetypes
import re
import unicodedata
from typing import Any

from django.conf import settings

from apps.core.downloads import MEDIA_TYPE_MAX_LENGTH, media_type_normalize
from apps.core.errors import BadRequest
from apps.core.wire import parse_int

CHECKSUM_ALGORITHMS = ("sha1", "sha256", "md5")
# Where each dialect's clients send the content type, so a refusal names the field they know.
CONTENT_TYPE_FIELDS = {
    "idempiere": "contentType",
    "tus": "Upload-Metadata filetype",
    "nuxeo": "X-File-Type",
    "axelor": "X-File-Type",
    "twake": "type",
}


def sanitize_file_name(name: str | None, default: str = "upload") -> str:
    """A display name safe anywhere: no separators, no control characters, length-capped."""
    name = unicodedata.normalize("NFC", str(name or ""))
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = name.strip().strip(".").strip()
    limit = int(getattr(settings, "FILE_NAME_MAX_LENGTH", 200))
    if len(name) > limit:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 16:
            name = stem[: limit - len(ext) - 1] + "." + ext
        else:
            name = name[:limit]
    return name or default


_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def normalize_sha256(value: str | None, what: str = "sha256") -> str:
    if not value:
        return ""
    value = str(value).strip().lower()
    if not _HEX64.match(value):
        raise BadRequest(f"{what} must be 64 hexadecimal characters.")
    return value


def normalize_content_type(value: str | None, dialect: str) -> str:
    """The declared content type as a media type (type/subtype lower-cased), "" when none.

    It is sent back later as a ``Content-Type`` header, so anything else (CR/LF, spaces, no
    subtype, non-ASCII, too long) is refused here rather than stored.
    """
    if value is None or value == "":
        return ""
    normalized = media_type_normalize(value)
    if normalized is None:
        field = CONTENT_TYPE_FIELDS.get(dialect, "The content type")
        raise BadRequest(
            f"{field} must be a media type such as text/plain: type/subtype with optional "
            f"';name=value' parameters, at most {MEDIA_TYPE_MAX_LENGTH} characters.",
            code="invalid_content_type",
        )
    return normalized


_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),
    (b"\x1f\x8b", "application/gzip"),
)


def sniff_content_type(head: bytes, file_name: str = "", declared: str = "") -> str:
    for magic, mime in _MAGIC:
        if head.startswith(magic):
            if mime == "application/zip" and declared and declared != "application/zip":
                return declared  # docx/xlsx/odt are zips: keep the more precise declared type
            return mime
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if declared and declared != "application/octet-stream":
        return declared
    guessed = mimetypes.guess_type(file_name)[0] if file_name else None
    return guessed or declared or "application/octet-stream"


def request_body_stream(request: Any) -> tuple[Any, int | None]:
    """The raw request body as a stream and its announced length (None: chunked transfer).

    The body is never read here: the engine reads it in bounded pieces.
    """
    django_request = getattr(request, "_request", request)
    raw = django_request.META.get("CONTENT_LENGTH")
    if raw not in (None, ""):
        return django_request, parse_int(raw, "Content-Length")
    if "chunked" in django_request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
        return django_request.META["wsgi.input"], None
    return django_request, 0
