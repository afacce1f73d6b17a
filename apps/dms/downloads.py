"""DMS downloads: a thin wrapper over :mod:`apps.core.downloads` for stored files.

The streaming, ``Range``/``ETag``/``Content-Disposition`` logic lives in core; this module keeps
the DMS call shape (``file_response(request, stored_file=..., ...)``) and re-exports the helpers
the DMS dialects import.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse

from apps.core.downloads import (  # noqa: F401 - re-exported for the DMS dialects and tests
    PRESIGNED_SECONDS,
    READ_PIECE,
    content_disposition,
    etag_matches,
    parse_range,
    stream_pieces,
)


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
    from apps.core import downloads

    content_type = content_type or getattr(stored_file, "content_type", "") or (
        "application/octet-stream"
    )
    common: dict[str, Any] = {
        "size": stored_file.size, "sha256": stored_file.sha256, "file_name": file_name,
        "content_type": content_type, "inline": inline,
    }
    if opener is not None:
        def open_at(start: int, length: int) -> Any:
            handle = opener(stored_file)
            if start:
                handle.seek(start)
            return handle

        return downloads.file_response(request, opener=open_at, **common)

    from apps.uploads.stored_files import stored_file_storage

    return downloads.file_response(
        request, storage=stored_file_storage(stored_file), key=stored_file.storage_key, **common
    )
