"""Wire helpers the document dialects share: raw request bodies and integer headers."""

from __future__ import annotations

from typing import IO, Any

from django.conf import settings

from apps.core.errors import BadRequest, PayloadTooLarge
from apps.core.wire import parse_int


def header_int(request: Any, name: str, *, default: int | None = None, minimum: int = 0) -> int:
    raw = request.headers.get(name)
    if raw is None or raw == "":
        if default is None:
            raise BadRequest(f"Header {name} is required.", code="header_required")
        return default
    return _wire_int(raw, f"Header {name}", minimum, "header_invalid")


def query_int(request: Any, name: str, *, default: int | None = None, minimum: int = 0) -> int:
    raw = request.query_params.get(name)
    if raw in (None, "", "undefined"):
        if default is None:
            raise BadRequest(f"Query parameter {name} is required.", code="param_required")
        return default
    return _wire_int(raw, f"Query parameter {name}", minimum, "param_invalid")


def _wire_int(raw: str, what: str, minimum: int, code: str) -> int:
    try:
        return parse_int(raw, what, minimum=minimum)
    except BadRequest as exc:
        raise BadRequest(exc.detail, code=code) from None


def raw_body(request: Any) -> tuple[IO[bytes], int]:
    """The request's body as a stream (never read whole here) and its announced length."""
    raw_length = request.META.get("CONTENT_LENGTH") or ""
    if raw_length == "":
        raise BadRequest("Content-Length is required.", code="length_required")
    try:
        length = parse_int(raw_length, "Content-Length")
    except BadRequest:
        raise BadRequest("Content-Length is invalid.", code="length_invalid") from None
    if length > settings.UPLOAD_MAX_CHUNK_SIZE:
        raise PayloadTooLarge(f"A chunk may have at most {settings.UPLOAD_MAX_CHUNK_SIZE} bytes.")
    return request._request, length


def truthy(value: Any) -> bool:
    return str(value or "").strip().lower() in {"1", "true", "yes", "on"}
