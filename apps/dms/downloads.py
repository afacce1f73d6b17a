"""Serving stored bytes: one helper every download endpoint uses.

Streams from storage in bounded pieces, answers ``Range`` (206 / 416), ``ETag`` = the SHA-256 with
``If-None-Match`` (304), and an RFC 6266 ``Content-Disposition``. With ``DOWNLOAD_REDIRECT_TO_S3`` on
S3 storage it redirects to a short-lived presigned GET instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
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

READ_PIECE = 256 * 1024
PRESIGNED_SECONDS = 60
_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


def content_disposition(file_name: str, *, inline: bool = False) -> str:
    """``attachment; filename="ascii"; filename*=UTF-8''percent-encoded`` (RFC 6266 / 5987)."""
    ascii_name = file_name.encode("ascii", "replace").decode("ascii").replace("?", "_")
    ascii_name = re.sub(r'["\\\r\n]', "_", ascii_name) or "download"
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(file_name, safe='')}"


def _etag_matches(header: str, etag: str) -> bool:
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


def _stream(handle: IO[bytes], length: int) -> Iterator[bytes]:
    try:
        remaining = length
        while remaining > 0:
            piece = handle.read(min(READ_PIECE, remaining))
            if not piece:
                break
            remaining -= len(piece)
            yield piece
    finally:
        handle.close()


def _presigned_get(stored_file: Any, file_name: str, content_type: str, inline: bool) -> str:
    from apps.dms.engine import stored_file_presigned_url

    params: dict[str, Any] = {
        "ResponseContentDisposition": content_disposition(file_name, inline=inline),
        "ResponseContentType": content_type,
    }
    return stored_file_presigned_url(stored_file, parameters=params, expire=PRESIGNED_SECONDS)


def file_response(
    request: Any,
    *,
    stored_file: Any,
    file_name: str,
    content_type: str = "",
    inline: bool = False,
    opener: Any = None,
) -> HttpResponse:
    """The download answer for ``stored_file`` (a StoredFile, or anything with sha256/size that
    ``opener`` opens as a seekable file)."""
    from apps.dms.engine import stored_file_open_range

    sha256 = stored_file.sha256
    size = int(stored_file.size)
    content_type = content_type or getattr(stored_file, "content_type", "") or (
        "application/octet-stream"
    )
    etag = f'"{sha256}"'
    meta = request.META
    common = {"ETag": etag, "Accept-Ranges": "bytes", "Cache-Control": "private, max-age=0"}

    if_none_match = meta.get("HTTP_IF_NONE_MATCH")
    if if_none_match and _etag_matches(if_none_match, etag):
        response = HttpResponse(status=304)
        for key, value in common.items():
            response[key] = value
        return response

    on_s3 = getattr(stored_file, "storage_backend", "") == "s3"
    if settings.DOWNLOAD_REDIRECT_TO_S3 and on_s3 and opener is None:
        return HttpResponseRedirect(_presigned_get(stored_file, file_name, content_type, inline))

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
            for key, value in common.items():
                response[key] = value
            return response
        if wanted:
            start, end = wanted
            length, status = end - start + 1, 206

    if request.method == "HEAD":
        response = HttpResponse(status=status, content_type=content_type)
    else:
        if opener is None:
            handle = stored_file_open_range(stored_file, start, length)
        else:
            handle = opener(stored_file)
            if start:
                handle.seek(start)
        response = StreamingHttpResponse(
            _stream(handle, length), status=status, content_type=content_type
        )
    response["Content-Length"] = str(length)
    if status == 206:
        response["Content-Range"] = f"bytes {start}-{start + length - 1}/{size}"
    response["Content-Disposition"] = content_disposition(file_name, inline=inline)
    response["X-Content-Type-Options"] = "nosniff"
    for key, value in common.items():
        response[key] = value
    return response
