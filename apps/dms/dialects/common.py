"""Wire helpers the document dialects share: raw request bodies and integer headers."""

from __future__ import annotations

from typing import IO, Any

from django.conf import settings

from apps.core.errors import BadRequest, PayloadTooLarge


def header_int(request: Any, name: str, *, default: int | None = None, minimum: int = 0) -> int:
    raw = request.headers.get(name)
    if raw is None or raw == "":
        if default is None:
            raise BadRequest(f"Header {name} is required.", code="header_required")
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"Header {name} must be an integer.", code="header_invalid") from None
    if value < minimum:
        raise BadRequest(f"Header {name} must be at least {minimum}.", code="header_invalid")
    return value


def query_int(request: Any, name: str, *, default: int | None = None, minimum: int = 0) -> int:
    raw = request.query_params.get(name)
    if raw in (None, "", "undefined"):
        if default is None:
            raise BadRequest(f"Query parameter {name} is required.", code="param_required")
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"Query parameter {name} must be an integer.", code="param_invalid") from None
    if value < minimum:
        raise BadRequest(f"Query parameter {name} must be at least {minimum}.", code="param_invalid")
    return value


def raw_body(request: Any) -> tuple[IO[bytes], int]:
    """The request's body as a stream (never read whole here) and its announced length."""
    raw_length = request.META.get("CONTENT_LENGTH") or ""
    try:
        length = int(raw_length)
    except ValueError:
        raise BadRequest("Content-Length is required.", code="length_required") from None
    if length < 0:
        raise BadRequest("Content-Length is invalid.", code="length_invalid")
    if length > settings.UPLOAD_MAX_CHUNK_SIZE:
        raise PayloadTooLarge(f"A chunk may have at most {settings.UPLOAD_MAX_CHUNK_SIZE} bytes.")
    return request._request, length


def truthy(value: Any) -> bool:
    return str(value or "").strip().lower() in {"1", "true", "yes", "on"}
