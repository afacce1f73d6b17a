"""One error family and one handler: every failure answers ``{title, status, detail}``.

Domain code raises an :class:`ApplicationError` subclass; DRF's own exceptions, Django's
``Http404``/``PermissionDenied``/``ValidationError`` and anything unexpected are rendered by
:func:`problem_exception_handler` in the same shape (unexpected errors without internals).
"""

from __future__ import annotations

import errno
import logging
import math
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response

logger = logging.getLogger("ledgerdoc.errors")

PROBLEM_CONTENT_TYPE = "application/problem+json"


class ApplicationError(Exception):
    status: int = 400
    title: str = "Bad Request"
    code: str = "bad_request"

    def __init__(
        self,
        detail: Any = None,
        *,
        code: str | None = None,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.detail = detail if detail is not None else self.title
        if code:
            self.code = code
        if title:
            self.title = title
        self.headers = headers or {}
        self.extra = extra or {}
        super().__init__(str(self.detail))


class BadRequest(ApplicationError):
    status, title, code = 400, "Bad Request", "bad_request"


class NotAuthenticated(ApplicationError):
    status, title, code = 401, "Unauthorized", "not_authenticated"

    def __init__(self, detail: Any = None, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="api"'})
        super().__init__(detail, **kwargs)


class Forbidden(ApplicationError):
    status, title, code = 403, "Forbidden", "forbidden"


class NotFound(ApplicationError):
    status, title, code = 404, "Not Found", "not_found"


class MethodNotAllowed(ApplicationError):
    status, title, code = 405, "Method Not Allowed", "method_not_allowed"


class Conflict(ApplicationError):
    status, title, code = 409, "Conflict", "conflict"


class NotReady(Conflict):
    """The resource exists but is still being processed: retry later."""

    code = "not_ready"

    def __init__(self, detail: Any = None, *, retry_after: int = 2, **kwargs: Any) -> None:
        headers = {"Retry-After": str(retry_after), **kwargs.pop("headers", {})}
        super().__init__(detail, headers=headers, **kwargs)


class Gone(ApplicationError):
    status, title, code = 410, "Gone", "gone"


class PreconditionFailed(ApplicationError):
    status, title, code = 412, "Precondition Failed", "precondition_failed"


class PayloadTooLarge(ApplicationError):
    status, title, code = 413, "Payload Too Large", "too_large"


class UnsupportedMediaType(ApplicationError):
    status, title, code = 415, "Unsupported Media Type", "unsupported_media_type"


class RangeNotSatisfiable(ApplicationError):
    status, title, code = 416, "Range Not Satisfiable", "range_not_satisfiable"


class Unprocessable(ApplicationError):
    status, title, code = 422, "Unprocessable Content", "unprocessable"


class InsufficientStorage(ApplicationError):
    """The disk (or quota) holding the bytes is full: nothing of them was kept; send them again
    once space is freed."""

    status, title, code = 507, "Insufficient Storage", "insufficient_storage"


class ServiceUnavailable(ApplicationError):
    status, title, code = 503, "Service Unavailable", "unavailable"


class StorageUnavailable(ServiceUnavailable):
    """The file storage refused or failed a request (S3 down, throttling): retry later."""

    code = "storage_unavailable"

    def __init__(self, detail: Any = None, *, retry_after: int = 5, **kwargs: Any) -> None:
        headers = {"Retry-After": str(retry_after), **kwargs.pop("headers", {})}
        super().__init__(detail, headers=headers, **kwargs)


# Written bytes that found the disk or the quota full, wherever the write was.
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


def _printable(value: Any) -> Any:
    """Client text echoed in a problem (a lone surrogate from JSON) must still encode as UTF-8."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_printable(k): _printable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_printable(v) for v in value]
    return value


def problem_body(status: int, title: str, detail: Any, **extra: Any) -> dict[str, Any]:
    body = {"title": title, "status": status, "detail": _printable(detail)}
    body.update({key: _printable(value) for key, value in extra.items()})
    return body


def problem_response(
    status: int, title: str, detail: Any, headers: dict[str, str] | None = None, **extra: Any
) -> Response:
    response = Response(
        problem_body(status, title, detail, **extra),
        status=status,
        content_type=PROBLEM_CONTENT_TYPE,
    )
    for key, value in (headers or {}).items():
        response[key] = value
    return response


def _flatten_detail(detail: Any) -> Any:
    """DRF ``ErrorDetail`` trees → plain strings, one sentence when there is a single message."""
    if isinstance(detail, dict):
        return {str(k): _flatten_detail(v) for k, v in detail.items()}
    if isinstance(detail, list):
        items = [_flatten_detail(v) for v in detail]
        return items[0] if len(items) == 1 and isinstance(items[0], str) else items
    return str(detail)


_DRF_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
}


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    if isinstance(exc, ApplicationError):
        return problem_response(exc.status, exc.title, exc.detail, exc.headers, **exc.extra)
    if isinstance(exc, Http404):
        return problem_response(404, "Not Found", str(exc) or "Not found.")
    if isinstance(exc, DjangoPermissionDenied):
        return problem_response(403, "Forbidden", str(exc) or "Permission denied.")
    if isinstance(exc, RequestDataTooBig):
        return problem_response(413, "Payload Too Large", "The request body is too large.")
    if isinstance(exc, SuspiciousOperation):
        # Malformed or hostile input (too many fields, bad multipart, ...): never a 500.
        return problem_response(400, "Bad Request", "The request could not be understood.")
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        return problem_response(400, "Bad Request", _flatten_detail(detail))
    if isinstance(exc, drf_exceptions.APIException):
        status = exc.status_code
        headers: dict[str, str] = {}
        if isinstance(exc, (drf_exceptions.NotAuthenticated, drf_exceptions.AuthenticationFailed)):
            status = 401
            headers["WWW-Authenticate"] = 'Bearer realm="api"'
        wait = getattr(exc, "wait", None)
        if wait is not None:
            headers["Retry-After"] = str(max(1, math.ceil(wait)))
        title = _DRF_TITLES.get(status, "Error")
        return problem_response(status, title, _flatten_detail(exc.detail), headers)
    if isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS:
        # The storage layer says so itself; this covers writes outside it (request temp files).
        logger.warning("Storage full in %s: %s", context.get("view"), exc)
        return problem_response(
            InsufficientStorage.status, InsufficientStorage.title,
            "The server has no storage space left for this request; try again later.",
        )
    logger.exception("Unhandled error in %s", context.get("view"))
    return problem_response(500, "Internal Server Error", "An unexpected error occurred.")


def json_problem_view(status: int, title: str, detail: str):
    """Django-level handlers (URLs outside DRF) answer the same shape."""

    def view(request, exception=None):
        return JsonResponse(
            problem_body(status, title, detail), status=status, content_type=PROBLEM_CONTENT_TYPE
        )

    return view
