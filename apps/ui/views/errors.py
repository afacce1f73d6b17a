"""Error pages of the UI: words, never a traceback."""

from django.http import HttpRequest, HttpResponse

from apps.ui.session import error_response


def not_found_view(request: HttpRequest) -> HttpResponse:
    return error_response(request, 404, "Not found", "There is no such page.")
