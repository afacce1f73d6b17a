"""The answer to a form or script of the UI whose CSRF check failed (``CSRF_FAILURE_VIEW``).

Django's own failure page styles itself with an inline ``<style>``, which the UI's
Content-Security-Policy refuses (apps.core.security_headers): under /ui/ the failure is said in the
UI's own error page (or its JSON shape for the page's scripts); elsewhere Django's page is kept.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.csrf import csrf_failure as django_csrf_failure

from apps.ui.session import error_response

UI_PREFIX = "/ui/"


def csrf_failure_view(request: HttpRequest, reason: str = "") -> HttpResponse:
    if not request.path_info.startswith(UI_PREFIX):
        return django_csrf_failure(request, reason=reason)
    return error_response(
        request, 403, "Form expired",
        "This form could not be checked (it may have expired, or cookies are blocked): "
        "reload the page and try again.",
    )
