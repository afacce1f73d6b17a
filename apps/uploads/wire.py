"""What upload inputs become, parsed once for every dialect: file names, content types, hashes,
integers (ASCII digits only, :func:`apps.core.wire.parse_int`), the request body stream.
"""

from __future__ import annotations

import io
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


class SocketBody:
    """A request body of announced length, read under gunicorn straight from the client socket.

    ``readinto`` fills the caller's buffer with one copy from the kernel. gunicorn's own reader
    (``wsgi.input``) copies every piece several times through its buffers: receiving was the
    largest per-byte cost of a chunk after hashing (benchmarks/uploads: its discard sink).

    gunicorn's reader is kept in step: bytes it read ahead are taken from it first (what lies past
    this body is handed back), its remaining length goes down with every read, so it drains only
    what is left and the connection's next request starts where it should; a read that fails marks
    the body failed, and gunicorn closes the connection instead of reusing it. ``read`` goes
    through gunicorn's reader. ``environ`` lets the engine find the socket (idle timeout, stop).
    """

    def __init__(self, environ: dict[str, Any], body: Any, reader: Any, sock: Any) -> None:
        self.environ = environ
        self._body, self._reader, self._sock = body, reader, sock

    @classmethod
    def of(cls, environ: dict[str, Any]) -> SocketBody | None:
        """The body of this WSGI request read from its socket, or None when it is not gunicorn's
        reader of a body of known length (chunked transfer, another server, a test client)."""
        body, sock = environ.get("wsgi.input"), environ.get("gunicorn.socket")
        reader = getattr(body, "reader", None)
        unreader = getattr(reader, "unreader", None)
        buffered = getattr(body, "buf", None)
        if (
            sock is None
            or type(body).__module__ != "gunicorn.http.body"
            or type(reader).__name__ != "LengthReader"
            or not isinstance(getattr(reader, "length", None), int)
            or getattr(unreader, "sock", None) is not sock
            or not hasattr(unreader, "take_buffered")
            or buffered is None
            or buffered.tell() != 0  # something read the body through gunicorn already
        ):
            return None
        return cls(environ, body, reader, sock)

    @property
    def remaining(self) -> int:
        return self._reader.length

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        kept = self._body.buf
        if kept.tell():  # what a read() through gunicorn's reader left over comes first
            data = kept.getvalue()
            count = min(len(view), len(data))
            view[:count] = data[:count]
            self._body.buf = io.BytesIO()
            self._body.buf.write(data[count:])
            return count
        want = min(len(view), self._reader.length)
        if want <= 0:
            return 0
        try:
            held = self._reader.unreader.take_buffered()
            if held:
                count = min(want, len(held))
                view[:count] = held[:count]
                if len(held) > count:
                    self._reader.unreader.unread(held[count:])
            else:
                count = self._sock.recv_into(view, want)
                if not count:
                    self._body.failed = True  # the client went away mid-body
        except BaseException:
            self._body.failed = True
            raise
        self._reader.length -= count
        return count

    def read(self, size: int = -1) -> bytes:
        return self._body.read(size)


def request_body_stream(request: Any) -> tuple[Any, int | None]:
    """The raw request body as a stream and its announced length (None: chunked transfer).

    The body is never read here: the engine reads it in bounded pieces (under gunicorn, a body
    of announced length straight from the socket: :class:`SocketBody`).
    """
    django_request = getattr(request, "_request", request)
    raw = django_request.META.get("CONTENT_LENGTH")
    if raw not in (None, ""):
        length = parse_int(raw, "Content-Length")
        direct = SocketBody.of(django_request.META)
        if direct is not None and direct.remaining == length:
            return direct, length
        return django_request, length
    if "chunked" in django_request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
        return django_request.META["wsgi.input"], None
    return django_request, 0
