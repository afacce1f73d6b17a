"""The web UI's sign-in state: a Django session bound to one login session (``AuthSession``).

The Django session (cookie, CSRF) only carries the id of the login session the two-step login
opened, the same record the API's JWTs name. Every page checks that record as a bearer request
does (``accounts.services.session_context_check``), so logout, revocation, expiry and the
deactivation of the user, client or role end the UI session at its next request too.
"""

from __future__ import annotations

from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from apps.accounts import services as account_services
from apps.core.context import RequestContext
from apps.core.errors import ApplicationError, NotAuthenticated

AUTH_SESSION_KEY = "ledgerdoc_auth_session"
PENDING_USER_KEY = "ledgerdoc_login_user"
PENDING_AT_KEY = "ledgerdoc_login_at"


def login_url(request: HttpRequest) -> str:
    return f"{reverse('ui:login')}?{urlencode({'next': request.get_full_path()})}"


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def error_response(request: HttpRequest, status: int, title: str, detail: str) -> HttpResponse:
    """An error in plain words: a page for the browser, ``{title, status, detail}`` for scripts."""
    if _wants_json(request):
        return JsonResponse({"title": title, "status": status, "detail": detail}, status=status)
    return render(
        request, "ui/error.html", {"status": status, "title": title, "detail": detail}, status=status
    )


def _same_site_referer(request: HttpRequest) -> str:
    referer = request.headers.get("Referer") or ""
    if referer and url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return referer
    return ""


def ui_context(request: HttpRequest) -> RequestContext:
    """The signed-in caller's context; NotAuthenticated when the UI session or its login session
    is gone (the Django session is then ended too)."""
    session_id = request.session.get(AUTH_SESSION_KEY)
    if not session_id:
        raise NotAuthenticated("Please sign in.")
    try:
        ctx = account_services.session_context_check(session_id=session_id)
    except NotAuthenticated:
        logout(request)
        raise
    if request.user.is_authenticated and request.user.pk != ctx.user_id:
        logout(request)
        raise NotAuthenticated("Please sign in.")
    account_services.session_touch(session_id=session_id)
    return ctx


def ui_page(view: Any) -> Any:
    """A page (or a script's call) of a signed-in user: ``view(request, ctx, ...)``.

    Not signed in: the login page (a script gets 401). An ``ApplicationError`` of the services
    becomes an error page with its status and words (another tenant's id: 404)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            ctx = ui_context(request)
        except NotAuthenticated as exc:
            if _wants_json(request) or request.method != "GET":
                return error_response(request, 401, "Signed out", str(exc.detail))
            if str(exc.detail) != "Please sign in.":
                messages.info(request, str(exc.detail))
            return redirect(login_url(request))
        request.ui_ctx = ctx
        try:
            return view(request, ctx, *args, **kwargs)
        except ApplicationError as exc:
            back = _same_site_referer(request)
            if request.method == "POST" and back and exc.status not in (401, 404) and not _wants_json(request):
                # A refused form (a name taken, a wrong choice): back to its page, said in words.
                messages.error(request, str(exc.detail))
                return redirect(back)
            return error_response(request, exc.status, exc.title, str(exc.detail))

    return wrapper
