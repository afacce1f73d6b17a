"""Integers the UI's pages read from a query string or a form, by the API's one rule
(``apps.core.wire.parse_int``: ASCII digits only). ``str.isdigit()`` says yes to ``²`` (which
``int()`` then refuses: a 500) and to ``١٢`` (which ``int()`` reads as 12: another row than the
one the page showed); both are a 400 page here, as in the API."""

from __future__ import annotations

from django.http import HttpRequest

from apps.core.errors import BadRequest
from apps.core.wire import parse_int


def page_number(request: HttpRequest) -> int:
    """The ``page`` of a paged list: 1 when absent; past the last page, the paginator shows the
    last one."""
    raw = request.GET.get("page") or ""
    if not raw.strip():
        return 1
    return parse_int(raw, "The page number", minimum=1)


def form_id(request: HttpRequest, field: str, what: str) -> int:
    """The id a form's ``field`` (a select of rows) sent; ``what`` names the choice in the
    message ("the target folder")."""
    raw = request.POST.get(field) or ""
    if not raw.strip():
        raise BadRequest(f"Choose {what}.")
    return parse_int(raw, what[:1].upper() + what[1:], minimum=1)
