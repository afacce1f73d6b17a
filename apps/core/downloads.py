"""Serving stored bytes: the one helper every download endpoint uses (DESIGN §8).

:func:`file_response` streams from a storage in bounded pieces (never a whole file in memory),
answers ``Range`` (206 / 416), ``ETag`` = the quoted SHA-256 with ``If-None-Match`` (304) and
``If-Range``, and sends an RFC 6266 ``Content-Disposition``. With ``DOWNLOAD_REDIRECT_TO_S3`` on S3
storage it redirects to a short-lived presigned GET instead.

Range policy: one range is served as 206; several ranges (``bytes=0-1,5-6``), a malformed header or
an inverted range are ignored and the whole file is sent (200), as RFC 9110 §14.2 allows; a range
that starts at or beyond the end (or a zero-length suffix) answers 416 with
``Content-Range: bytes */size``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import IO, Any
from urllib.parse import quote

from django.conf import settings
from django.http import (
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)

from apps.core.errors import PROBLEM_CONTENT_TYPE, problem_body
from apps.core.storage import is_s3, open_range

READ_PIECE = 256 * 1024
PRESIGNED_SECONDS = 60
_RANGE = re.compile(r"^\s*bytes\s*=\s*([0-9]*)\s*-\s*([0-9]*)\s*$", re.IGNORECASE)
_UNSAFE_IN_QUOTES = re.compile(r'["\\\x00-\x1f\x7f]')
DEFAULT_CONTENT_TYPE = "application/octet-stream"
MEDIA_TYPE_MAX_LENGTH = 255
# RFC 9110 §8.3.1 media-type: type "/" subtype *( OWS ";" OWS [ name "=" value ] ), where names,
# type and subtype are tokens and a value is a token or a quoted-string (ASCII only: no obs-text).
_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_QUOTED_STRING = r'"(?:[\t !#-\[\]-~]|\\[\t -~])*"'
_MEDIA_TYPE = re.compile(
    rf"(?P<type>{_TOKEN})/(?P<subtype>{_TOKEN})"
    rf"(?P<parameters>(?:[ \t]*;(?:[ \t]*{_TOKEN}=(?:{_TOKEN}|{_QUOTED_STRING}))?)*)"
)

# opener(start, length) -> a reader positioned at ``start`` (it may return more than ``length``).
RangeOpener = Callable[[int, int], IO[bytes]]


def media_type_normalize(value: object) -> str | None:
    """``value`` as a media type with type and subtype lower-cased (parameters as given), or None
    when it is not one: then it is no safe ``Content-Type`` either (CR/LF, spaces, non-ASCII...)."""
    if not isinstance(value, str):
        return None
    value = value.strip(" \t")
    if len(value) > MEDIA_TYPE_MAX_LENGTH:
        return None
    match = _MEDIA_TYPE.fullmatch(value)
    if match is None:
        return None
    return f"{match['type'].lower()}/{match['subtype'].lower()}{match['parameters']}"


def content_disposition(file_name: str, *, inline: bool = False) -> str:
    """``attachment; filename="ascii"; filename*=UTF-8''percent-encoded`` (RFC 6266 / 5987).

    The quoted fallback keeps printable ASCII only (quotes, backslashes and control characters
    become ``_``); the exact name travels percent-encoded, so no header can be injected.
    """
    ascii_name = file_name.encode("ascii", "replace").decode("ascii").replace("?", "_")
    ascii_name = _UNSAFE_IN_QUOTES.sub("_", ascii_name) or "download"
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(file_name, safe='')}"


def etag_matches(header: str, etag: str) -> bool:
    """Weak comparison (RFC 9110 §13.1.2), as If-None-Match uses."""
    if header.strip() == "*":
        return True
    tags = [t.strip() for t in header.split(",")]
    return any(t.removeprefix("W/") == etag for t in tags)


def parse_range(header: str, size: int) -> tuple[int, int] | bool | None:
    """``(start, end)`` inclusive for one satisfiable range; None to ignore; False when unsatisfiable.

    Several ranges, or a malformed header, are ignored (the whole file is sent), as RFC 9110 allows.
    """
    if "," in header:
        return None
    match = _RANGE.match(header)
    if not match:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # suffix: the last N bytes
        length = int(last)
        if length == 0 or size == 0:
            return False
        return max(size - length, 0), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None
    if start >= size:
        return False
    return start, min(end, size - 1)


def stream_pieces(handle: IO[bytes], length: int, piece: int = READ_PIECE) -> Iterator[bytes]:
    """At most ``length`` bytes of ``handle`` in bounded pieces; the handle is closed at the end."""
    try:
        remaining = length
        while remaining > 0:
            data = handle.read(min(piece, remaining))
            if not data:
                break
            remaining -= len(data)
            yield data
    finally:
        handle.close()


def open_storage_range(storage: Any, key: str, start: int, length: int, size: int) -> IO[bytes]:
    """A reader over ``length`` bytes of ``key`` from ``start`` (a ranged GetObject on S3, a seek
    elsewhere): :func:`apps.core.storage.open_range`; a failing S3 answers 503."""
    return open_range(storage, key, start, length, size)


def presigned_get(storage: Any, key: str, file_name: str, content_type: str, inline: bool) -> str:
    parameters = {
        "ResponseContentDisposition": content_disposition(file_name, inline=inline),
        "ResponseContentType": content_type,
    }
    return storage.url(key, parameters=parameters, expire=PRESIGNED_SECONDS)


def _with_headers(response: HttpResponse, headers: dict[str, str]) -> HttpResponse:
    for name, value in headers.items():
        response[name] = value
    return response


def file_response(
    request: Any,
    *,
    size: int,
    sha256: str,
    file_name: str,
    content_type: str = "",
    inline: bool = False,
    storage: Any = None,
    key: str = "",
    opener: RangeOpener | None = None,
    redirect: bool = True,
) -> HttpResponse:
    """The download answer for ``size`` bytes at ``key`` in ``storage`` (or what ``opener`` opens).

    ``sha256`` makes the ETag. ``redirect`` allows the presigned S3 redirect when
    ``DOWNLOAD_REDIRECT_TO_S3`` is on. ``request`` may be a Django or a DRF request.
    """
    if storage is None and opener is None:
        raise ValueError("file_response needs a storage and key, or an opener.")
    size = int(size)
    # Stored content types were not always checked: an old row's junk must not break the header.
    content_type = media_type_normalize(content_type) or DEFAULT_CONTENT_TYPE
    etag = f'"{sha256}"'
    meta = request.META
    common = {"ETag": etag, "Accept-Ranges": "bytes", "Cache-Control": "private, max-age=0"}

    if_none_match = meta.get("HTTP_IF_NONE_MATCH")
    if if_none_match and etag_matches(if_none_match, etag):
        return _with_headers(HttpResponse(status=304), common)

    if (
        redirect and opener is None and is_s3(storage)
        and getattr(settings, "DOWNLOAD_REDIRECT_TO_S3", False)
    ):
        return HttpResponseRedirect(presigned_get(storage, key, file_name, content_type, inline))

    start, length, status = 0, size, 200
    range_header = meta.get("HTTP_RANGE")
    if_range = meta.get("HTTP_IF_RANGE")
    if range_header and (not if_range or if_range.strip() == etag):
        wanted = parse_range(range_header, size)
        if wanted is False:
            response = JsonResponse(
                problem_body(416, "Range Not Satisfiable", f"The file has {size} bytes."),
                status=416, content_type=PROBLEM_CONTENT_TYPE,
            )
            response["Content-Range"] = f"bytes */{size}"
            return _with_headers(response, common)
        if wanted:
            start, end = wanted
            length, status = end - start + 1, 206

    if request.method == "HEAD":
        response = HttpResponse(status=status, content_type=content_type)
    else:
        if opener is not None:
            handle = opener(start, length)
        else:
            handle = open_storage_range(storage, key, start, length, size)
        response = StreamingHttpResponse(
            stream_pieces(handle, length), status=status, content_type=content_type
        )
    response["Content-Length"] = str(length)
    if status == 206:
        response["Content-Range"] = f"bytes {start}-{start + length - 1}/{size}"
    response["Content-Disposition"] = content_disposition(file_name, inline=inline)
    response["X-Content-Type-Options"] = "nosniff"
    return _with_headers(response, common)
