"""Sign in as iDempiere users do (user and password, then client, role, organization and
warehouse), and sign out. Both steps call the same services as ``/api/v1/auth/tokens``."""

from __future__ import annotations

import math
import time
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from apps.accounts import selectors as account_selectors
from apps.accounts import services as account_services
from apps.accounts.models import User
from apps.accounts.throttling import FailureBudget
from apps.core.errors import ApplicationError, NotAuthenticated
from apps.ui.session import AUTH_SESSION_KEY, PENDING_AT_KEY, PENDING_USER_KEY

MAX_NAME = 150


def _next_url(request: HttpRequest) -> str:
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    if wanted and url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ) and wanted.startswith("/ui/"):
        return wanted
    return reverse("ui:home")


def _pending_user(request: HttpRequest) -> User | None:
    """The user who passed step 1, for as long as a login token would live."""
    user_id = request.session.get(PENDING_USER_KEY)
    started = request.session.get(PENDING_AT_KEY, 0)
    if not user_id or time.time() - started > settings.JWT_LOGIN_TOKEN_MINUTES * 60:
        return None
    return User.objects.filter(pk=user_id, is_active=True).first()


def _in_words(seconds: int) -> str:
    """A wait as a person says it: "40 seconds", "1 minute", "5 minutes" (rounded up)."""
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    """Step 1: user name and password."""
    error = ""
    username = ""
    status = 200
    retry_after = 0
    if request.method == "POST":
        username = (request.POST.get("username") or "")[:MAX_NAME]
        password = (request.POST.get("password") or "")[:1024]
        # The failure budget the API login and HTTP Basic spend too (successes do not spend it).
        budget = FailureBudget(request, username)
        if not budget.spend():
            error = (
                "Too many failed sign-ins with this user name. "
                f"Please try again in {_in_words(budget.wait_seconds)}."
            )
            status = 429
            retry_after = budget.wait_seconds
        else:
            try:
                user = account_services.credentials_check(username=username, password=password)
            except NotAuthenticated:
                error = "The user name or password is not right."
                status = 401
            else:
                budget.refund()
                request.session.cycle_key()
                request.session[PENDING_USER_KEY] = user.pk
                request.session[PENDING_AT_KEY] = time.time()
                request.session.pop(AUTH_SESSION_KEY, None)
                return redirect(f"{reverse('ui:login-context')}?{urlencode({'next': _next_url(request)})}")
    response = render(
        request, "ui/login.html",
        {"error": error, "username": username, "next": _next_url(request)}, status=status,
    )
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response


def _choices(user: User, wanted: dict[str, Any]) -> dict[str, Any]:
    """The lists the user may choose from, each narrowed by the choice before it; a list of one
    is chosen for them (as the API picks a single choice)."""

    def chosen(items: list, key: str) -> Any:
        value = wanted.get(key) or ""
        found = next((item for item in items if str(item.id) == str(value)), None)
        return found or (items[0] if len(items) == 1 else None)

    clients = account_selectors.user_clients(user)
    client = chosen(clients, "client")
    roles = account_selectors.user_client_roles(user, client.id) if client else []
    role = chosen(roles, "role")
    if role and not wanted.get("org"):
        default = account_selectors.user_roles_qs(user).filter(role=role).first()
        if default and default.default_org_id:
            wanted = {**wanted, "org": default.default_org_id}
            if default.default_warehouse_id and not wanted.get("warehouse"):
                wanted["warehouse"] = default.default_warehouse_id
    orgs = account_selectors.role_orgs(role) if role else []
    org = chosen(orgs, "org")
    warehouses = account_selectors.org_warehouses(client.id, org.id) if (client and org) else []
    warehouse = chosen(warehouses, "warehouse")
    return {
        "clients": clients, "client": client, "roles": roles, "role": role,
        "orgs": orgs, "org": org, "warehouses": warehouses, "warehouse": warehouse,
    }


@require_http_methods(["GET", "POST"])
def login_context_view(request: HttpRequest) -> HttpResponse:
    """Step 2: client, role, organization, warehouse; then the login session and the UI session."""
    user = _pending_user(request)
    if user is None:
        messages.info(request, "Please sign in with your user name and password first.")
        return redirect("ui:login")
    source = request.POST if request.method == "POST" else request.GET
    wanted = {key: source.get(key) for key in ("client", "role", "org", "warehouse")}
    choice = _choices(user, wanted)
    error = "" if choice["clients"] else "Your user has no role in any client: ask an administrator for one."
    status = 200
    if request.method == "POST" and source.get("action") != "update":
        if not (choice["client"] and choice["role"] and choice["org"]):
            error = "Choose a client, a role and an organization."
            status = 400
        else:
            try:
                issued = account_services.session_open(user=user, params={
                    "clientId": choice["client"].id, "roleId": choice["role"].id,
                    "organizationId": choice["org"].id,
                    "warehouseId": choice["warehouse"].id if choice["warehouse"] else None,
                })
            except ApplicationError as exc:
                error = str(exc.detail)
                status = exc.status
            else:
                next_url = _next_url(request)
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                request.session[AUTH_SESSION_KEY] = str(issued.session.id)
                request.session.pop(PENDING_USER_KEY, None)
                request.session.pop(PENDING_AT_KEY, None)
                return redirect(next_url)
    return render(
        request, "ui/login_context.html",
        {**choice, "user_name": user.username, "error": error, "next": _next_url(request)},
        status=status,
    )


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    """Sign out: the login session ends (its tokens with it), then the Django session."""
    session_id = request.session.get(AUTH_SESSION_KEY)
    if session_id:
        account_services.session_end(session_id=session_id, reason="logout")
    logout(request)
    messages.info(request, "You are signed out.")
    return redirect("ui:login")


def home_view(request: HttpRequest) -> HttpResponse:
    return redirect("ui:documents")
