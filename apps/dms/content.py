"""File names and content types: names sanitized, types sniffed from the bytes, never trusted."""

from __future__ import annotations

import mimetypes

import filetype

from apps.core.errors import BadRequest
from apps.uploads.wire import sanitize_file_name

SNIFF_BYTES = 8192
# Types filetype cannot see in the bytes; taken from the extension only when the bytes look like text.
_TEXT_TYPES = {
    "text/plain", "text/csv", "text/html", "text/markdown", "text/xml", "application/json",
    "application/xml", "text/css", "text/calendar", "image/svg+xml",
}


def file_name_sanitize(raw: str | None, *, default: str | None = None) -> str:
    """A safe file name by the uploads engine's rule (``apps.uploads.wire.sanitize_file_name``,
    so both apps agree): NFC, last path component, no Unicode category C characters (controls,
    NUL, CR/LF, bidi overrides, zero-width and other format characters), no leading or trailing
    dots or spaces, length-capped. Nothing left: ``default``, or 400 without one."""
    name = sanitize_file_name(raw, default="")
    if not name:
        if default:
            return default
        raise BadRequest("A file name is required.", code="invalid_name")
    return name


def _looks_like_text(head: bytes) -> bool:
    if not head:
        return True
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sample is still text.
        return exc.start >= len(head) - 3
    return True


def content_type_sniff(head: bytes, file_name: str = "") -> str:
    """The content type of bytes whose first ``SNIFF_BYTES`` are ``head``."""
    kind = filetype.guess(head) if head else None
    if kind is not None:
        return kind.mime
    guessed, _ = mimetypes.guess_type(file_name or "")
    if _looks_like_text(head):
        if guessed in _TEXT_TYPES or (guessed or "").startswith("text/"):
            return guessed
        return "text/plain" if head else "application/octet-stream"
    return "application/octet-stream"
