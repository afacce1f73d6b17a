"""Wire helpers the document dialects share: raw request bodies, integer query parameters, and
JSON body fields with their types checked (a wrong type is a 400, never a ``str()`` of it).
Integer headers: :func:`apps.core.wire.header_int`."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from apps.core.errors import BadRequest, PayloadTooLarge
from apps.core.wire import parse_int
from apps.uploads.wire import request_body_stream


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


def raw_body(request: Any) -> tuple[Any, int]:
    """The request's body as a stream and its announced length, at most one engine chunk.

    The body is never read here: :func:`apps.uploads.wire.request_body_stream` hands the engine
    the stream it reads fastest (under gunicorn, straight from the client's socket)."""
    raw_length = request.META.get("CONTENT_LENGTH") or ""
    if raw_length == "":
        raise BadRequest("Content-Length is required.", code="length_required")
    try:
        length = parse_int(raw_length, "Content-Length")
    except BadRequest:
        raise BadRequest("Content-Length is invalid.", code="length_invalid") from None
    if length > settings.UPLOAD_MAX_CHUNK_SIZE:
        raise PayloadTooLarge(f"A chunk may have at most {settings.UPLOAD_MAX_CHUNK_SIZE} bytes.")
    stream, _ = request_body_stream(request)
    return stream, length


def json_object(value: Any, what: str = "The body") -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadRequest(f"{what} must be a JSON object.", code="body_invalid")
    return value


def field_str(body: dict[str, Any], name: str, where: str = "") -> str | None:
    """A string field, or None when absent or null."""
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise BadRequest(f"{where}{name} must be a string.", code="field_invalid")
    return value


def field_bool(body: dict[str, Any], name: str, where: str = "") -> bool | None:
    """A boolean field (true/false, nothing else), or None when absent or null."""
    value = body.get(name)
    if value is not None and not isinstance(value, bool):
        raise BadRequest(f"{where}{name} must be true or false.", code="field_invalid")
    return value


def field_ref(body: dict[str, Any], name: str, where: str = "") -> int | str | None:
    """An id (integer) or key (string) field, or None when absent or null."""
    value = body.get(name)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | str)):
        raise BadRequest(f"{where}{name} must be an id (integer or string).", code="field_invalid")
    return value


def truthy(value: Any) -> bool:
    return str(value or "").strip().lower() in {"1", "true", "yes", "on"}
