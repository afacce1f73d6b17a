"""Wire helpers every upload dialect shares (iDempiere, Nuxeo, tus)."""

from __future__ import annotations

from typing import Any

from apps.core.errors import BadRequest


def request_body_stream(request: Any) -> tuple[Any, int | None]:
    """The raw request body as a stream and its announced length (None: chunked transfer).

    The body is never read here: the engine reads it in bounded pieces.
    """
    django_request = getattr(request, "_request", request)
    raw = django_request.META.get("CONTENT_LENGTH")
    if raw not in (None, ""):
        try:
            length = int(raw)
        except ValueError:
            raise BadRequest("Invalid Content-Length.") from None
        if length < 0:
            raise BadRequest("Invalid Content-Length.")
        return django_request, length
    if "chunked" in django_request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
        return django_request.META["wsgi.input"], None
    return django_request, 0
