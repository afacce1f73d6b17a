"""Request middleware of the whole service (API, foreign dialects, UI, admin)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable

from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework.views import APIView

from apps.core.errors import PROBLEM_CONTENT_TYPE, problem_body
from apps.core.wire import shown_name, unstorable_character

FORM_CONTENT_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
UI_PREFIX = "/ui/"


def _first_unstorable(kind: str, pairs: Iterable[tuple[str, str]]) -> str | None:
    """The refusal of the first name or value among ``pairs`` that holds unstorable text."""
    for name, value in pairs:
        found = unstorable_character(name)
        if found:
            return f"A {kind} name ('{shown_name(name)}') holds {found}"
        found = unstorable_character(value)
        if found:
            return f"The {kind} '{shown_name(name)}' holds {found}"
    return None


def _basic_credentials_refusal(request: HttpRequest) -> str | None:
    """HTTP Basic credentials are base64 in the header: decoded (as DRF decodes them, leniently),
    the user name is a user lookup's text, so a NUL in them is refused like one in the header."""
    scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(token.strip())
    except (binascii.Error, ValueError):
        return None  # not credentials at all: the authentication answers that
    if b"\x00" not in decoded:
        return None
    return "The Authorization header's Basic credentials hold a NUL character"


class UnstorableTextMiddleware:
    """Text PostgreSQL cannot store (NUL, a lone surrogate) is refused with a 400 as it comes in.

    Any such character that reaches a query is a driver error (psycopg's DataError on NUL, an
    encoding error on a surrogate): a 500 from whichever lookup met it first (a search box, an
    attachment name in a URL, a session cookie). One check here covers every endpoint rather than
    one per parameter: the decoded path, the query string's names and values, the headers (and
    the HTTP Basic credentials in one), the cookies, and the fields of a form POST to a Django
    (not DRF) view. Request bodies are otherwise left alone: uploads are binary, and JSON bodies
    are checked by ``apps.core.parsers.JSONParser``. The answer is the UI's error page under
    ``/ui/`` and a problem+json body anywhere else."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        refusal = self._refusal(request)
        if refusal:
            return self._refuse(request, refusal)
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func: Callable, view_args, view_kwargs):
        """A form POST's fields, for Django views only (the UI, the admin), which read
        ``request.POST`` anyway (so does the CSRF check). DRF views parse their own bodies: JSON
        through the checked parser; the upload dialects take ``curl --data-binary`` bodies that
        say ``x-www-form-urlencoded`` but are bytes, and must not be read here."""
        if request.method != "POST" or request.content_type not in FORM_CONTENT_TYPES:
            return None
        view_class = getattr(view_func, "cls", None)
        if isinstance(view_class, type) and issubclass(view_class, APIView):
            return None
        refusal = _first_unstorable("form field", (
            (name, value) for name, values in request.POST.lists() for value in values
        ))
        return self._refuse(request, refusal) if refusal else None

    @staticmethod
    def _refusal(request: HttpRequest) -> str | None:
        found = unstorable_character(request.path_info)
        if found:
            return f"The URL path holds {found}"
        return (
            _first_unstorable("query parameter", (
                (name, value) for name, values in request.GET.lists() for value in values
            ))
            or _first_unstorable("header", request.headers.items())
            or _basic_credentials_refusal(request)
            or _first_unstorable("cookie", request.COOKIES.items())
        )

    @staticmethod
    def _refuse(request: HttpRequest, refusal: str) -> HttpResponse:
        detail = f"{refusal}, which no text may hold."
        if request.path_info.startswith(UI_PREFIX):
            from apps.ui.session import error_response  # the UI's own words and page

            return error_response(request, 400, "Bad Request", detail)
        return JsonResponse(
            problem_body(400, "Bad Request", detail), status=400, content_type=PROBLEM_CONTENT_TYPE
        )
