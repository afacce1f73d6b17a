"""Writes of the accounts app: login sessions and their tokens, SysConfig values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken, UntypedToken

from apps.accounts import basic_memo, selectors
from apps.accounts.models import AuthSession, Client, Role, RoleTableAccess, SysConfig, User
from apps.accounts.tokens import LoginToken, UploadToken
from apps.core.context import RequestContext
from apps.core.errors import BadRequest, NotAuthenticated

# SysConfig keys the service reads, with their defaults (load_demo creates them).
KNOWN_SYSCONFIG: dict[str, tuple[str, str]] = {
    "IDEMPIERE_REST_EXPOSE_JWK": ("N", "Y: GET /api/v1/auth/jwk publishes the token signing public key."),
    "REST_MAX_RECORDS_SIZE": ("100", "Largest page of records; 0 = unlimited ($top decides)."),
    "REST_COLUMNNAME_TOLOWERCASE": ("N", "Y: column names without '_' start lower-case in PO-JSON."),
}


@dataclass(frozen=True)
class IssuedTokens:
    session: AuthSession
    access: str
    refresh: str


# --- Login step 1 ------------------------------------------------------------------------------


def credentials_check(*, username: str, password: str) -> User:
    # Case-insensitive user names, as iDempiere accepts them. Resolve the name first so that
    # exactly one password hash runs whether or not the user exists (no timing oracle).
    # A name that is not a stored one (selectors.user_by_username) is unknown, whatever a backend
    # would make of it.
    match = selectors.user_by_username(username)
    user = authenticate(username=match.username if match is not None else username, password=password)
    if match is None or user is None or user.pk != match.pk or not user.is_active:
        raise NotAuthenticated("Invalid user name or password.")
    return user


def login_token_issue(*, user: User) -> str:
    token = LoginToken()
    token["user_id"] = user.id
    return str(token)


# --- Login step 2: open an auth session --------------------------------------------------------


def _choose_context(user: User, params: dict[str, Any]) -> dict[str, Any]:
    client = selectors.pick(selectors.user_clients(user), params.get("clientId"), "client")
    role = selectors.pick(
        selectors.user_client_roles(user, client.id), params.get("roleId"), "role"
    )
    # Where the caller leaves a choice open, the user's defaults for the role fill it.
    defaults = selectors.user_roles_qs(user).filter(role=role).first()
    orgs = selectors.role_orgs(role)
    org = selectors.pick(
        orgs,
        params.get("organizationId") or _default_id(defaults and defaults.default_org_id, orgs),
        "organization",
    )
    warehouses = selectors.org_warehouses(client.id, org.id)
    warehouse = selectors.pick(
        warehouses,
        params.get("warehouseId")
        or _default_id(defaults and defaults.default_warehouse_id, warehouses),
        "warehouse",
        required=False,
    )
    language = params.get("language") or client.language
    if not isinstance(language, str) or len(language) > 10:
        raise BadRequest("'language' must be a language code such as en_US.")
    return {"client": client, "role": role, "org": org, "warehouse": warehouse, "language": language}


def _default_id(default_id: int | None, choices: list) -> int | None:
    return default_id if default_id and any(c.id == default_id for c in choices) else None


def _session_claims(token: AccessToken | RefreshToken | UploadToken, session: AuthSession) -> None:
    token["user_id"] = session.user_id
    token["sid"] = str(session.id)
    token["AD_Client_ID"] = session.client_id
    token["AD_Role_ID"] = session.role_id
    token["AD_Org_ID"] = session.org_id
    token["M_Warehouse_ID"] = session.warehouse_id or 0
    token["AD_Language"] = session.language


def _issue_pair(session: AuthSession) -> tuple[str, str]:
    refresh = RefreshToken()
    access = AccessToken()
    for token in (refresh, access):
        _session_claims(token, session)
    session.refresh_jti = refresh["jti"]
    return str(access), str(refresh)


@transaction.atomic
def session_open(*, user: User, params: dict[str, Any]) -> IssuedTokens:
    chosen = _choose_context(user, params)
    now = timezone.now()
    session = AuthSession(
        user=user,
        client=chosen["client"],
        role=chosen["role"],
        org=chosen["org"],
        warehouse=chosen["warehouse"],
        language=chosen["language"],
        created=now,
        last_refresh=now,
        expires=now + settings.AUTH_SESSION_MAX_AGE,
    )
    access, refresh = _issue_pair(session)
    session.save()
    return IssuedTokens(session=session, access=access, refresh=refresh)


def _revoke(session: AuthSession, reason: str) -> None:
    if session.revoked_at is None:
        session.revoked_at = timezone.now()
        session.revoked_reason = reason
        session.save(update_fields=["revoked_at", "revoked_reason"])


def session_refresh(*, raw_refresh: str) -> IssuedTokens:
    try:
        token = RefreshToken(raw_refresh)
    except TokenError as exc:
        raise NotAuthenticated("The refresh token is invalid or expired.") from exc
    # The refusal is raised outside the transaction: a revocation must be committed, not rolled
    # back together with the failed refresh.
    issued, refusal = _session_rotate(token)
    if refusal is not None:
        raise NotAuthenticated(refusal)
    return issued


@transaction.atomic
def _session_rotate(token: RefreshToken) -> tuple[IssuedTokens | None, str | None]:
    session = (
        AuthSession.objects.select_for_update()
        .select_related("user", "client", "role")
        .filter(pk=token.get("sid"))
        .first()
    )
    if session is None or session.is_revoked:
        return None, "The refresh token has been revoked."
    if token.get("jti") != session.refresh_jti:
        # A spent refresh token came back: someone holds a copy. Kill the whole chain.
        _revoke(session, "refresh token reuse")
        return None, "The refresh token was already used; its session is revoked."
    now = timezone.now()
    if session.expires <= now:
        _revoke(session, "expired")
        return None, "The session has expired; log in again."
    if not session_access_active(session):
        _revoke(session, "access withdrawn")
        return None, "The user, client or role is no longer active."
    access, refresh = _issue_pair(session)
    session.last_refresh = now
    session.save(update_fields=["refresh_jti", "last_refresh"])
    return IssuedTokens(session=session, access=access, refresh=refresh), None


def session_access_active(session: AuthSession) -> bool:
    """The session's user, client, role and the user's grant of that role are all still active.
    A session from ``selectors.session_for_token`` knows its grant already (``grant_active``)."""
    if not (session.user.is_active and session.client.is_active and session.role.is_active):
        return False
    known = getattr(session, "grant_active", None)
    if known is not None:
        return known
    return selectors.user_roles_qs(session.user).filter(role_id=session.role_id).exists()


@transaction.atomic
def session_logout(*, raw_token: str) -> None:
    try:
        token = UntypedToken(raw_token)
    except TokenError as exc:
        raise NotAuthenticated("The token is invalid or expired.") from exc
    if token.get("token_type") == UploadToken.token_type:
        # The uploader's token opens the upload endpoints only: it cannot end the page's session.
        raise NotAuthenticated("An upload token cannot log out; log out with the session's token.")
    session = AuthSession.objects.select_for_update().filter(pk=token.get("sid")).first()
    if session is None:
        raise BadRequest("This token does not belong to a login session.")
    _revoke(session, "logout")
    # Logging out also ends the user's remembered HTTP Basic checks.
    basic_memo.forget_user(session.user_id)


def session_context_check(*, session_id: str) -> RequestContext:
    """The context of a live login session, checked as every bearer request checks it (revoked,
    past its hard limit, idle past a refresh token's life, user/client/role/grant inactive):
    for clients that hold the session id rather than a token (the web UI's Django session)."""
    # The bearer requests' read: one statement, with the grant, org access and access generation.
    session = selectors.session_for_token(session_id)
    now = timezone.now()
    if session is None or session.is_revoked:
        raise NotAuthenticated("Your session has ended; sign in again.")
    if session.expires <= now or (
        session.last_refresh <= now - settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"]
    ):
        raise NotAuthenticated("Your session has expired; sign in again.")
    if not session_access_active(session):
        raise NotAuthenticated("Your user, client or role is no longer active.")
    return context_for_session(session)


def session_touch(*, session_id: str, every_seconds: int = 60) -> None:
    """Record activity on a session used without refresh tokens (the web UI), as a refresh would:
    a session idle longer than a refresh token lives is purged."""
    now = timezone.now()
    AuthSession.objects.filter(
        pk=session_id, revoked_at=None, last_refresh__lt=now - timedelta(seconds=every_seconds)
    ).update(last_refresh=now)


def session_upload_token(*, session_id: str, lifetime: timedelta) -> tuple[str, datetime]:
    """A short-lived upload token of an open login session (the web UI's uploader): the claims of
    its access tokens, but a token type only the upload endpoints accept, so it can send files and
    do nothing else. It dies with the session (sign-out, revocation) like any token of it."""
    session = AuthSession.objects.get(pk=session_id)
    token = UploadToken()
    token.set_exp(lifetime=lifetime)
    _session_claims(token, session)
    return str(token), timezone.now() + lifetime


@transaction.atomic
def session_end(*, session_id: str, reason: str = "logout") -> None:
    """End a login session by its id (the web UI's sign-out): as ``session_logout`` does."""
    session = AuthSession.objects.select_for_update().filter(pk=session_id).first()
    if session is None:
        return
    _revoke(session, reason)
    basic_memo.forget_user(session.user_id)


def sessions_purge(*, now: datetime | None = None) -> int:
    """Delete sessions no token can use any more: past their hard limit, or idle longer than a
    refresh token lives (revoked ones are kept until then, so a reused token still meets them)."""
    now = now or timezone.now()
    idle_limit = now - settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"]
    stale = AuthSession.objects.filter(Q(expires__lte=now) | Q(last_refresh__lte=idle_limit))
    deleted, _ = stale.delete()
    return deleted


# --- Request context ------------------------------------------------------------------------------


def context_for_session(session: AuthSession) -> RequestContext:
    org_ids, read_only_org_ids = selectors.role_org_access(session.role)
    return RequestContext(
        user_id=session.user_id,
        client_id=session.client_id,
        role_id=session.role_id,
        org_id=session.org_id,
        warehouse_id=session.warehouse_id,
        language=session.language,
        user=session.user,
        role=session.role,
        session_id=str(session.id),
        org_ids=org_ids,
        read_only_org_ids=read_only_org_ids,
    )


def context_default_for_user(user: User) -> RequestContext:
    """The user's default context (HTTP Basic): the default role, its default org and warehouse."""
    user_role = selectors.user_default_grant(user)
    if user_role is None:
        raise NotAuthenticated("This user has no active role.")
    role = user_role.role
    org = user_role.default_org or selectors.role_orgs(role)[0]
    warehouse = user_role.default_warehouse
    if warehouse is None:
        warehouses = selectors.org_warehouses(role.client_id, org.id)
        warehouse = warehouses[0] if warehouses else None
    client: Client = role.client
    org_ids, read_only_org_ids = selectors.role_org_access(role)
    return RequestContext(
        user_id=user.id,
        client_id=role.client_id,
        role_id=role.id,
        org_id=org.id,
        warehouse_id=warehouse.id if warehouse else None,
        language=client.language,
        user=user,
        role=role,
        org_ids=org_ids,
        read_only_org_ids=read_only_org_ids,
    )


# --- Role table access ----------------------------------------------------------------------------


@transaction.atomic
def role_table_access_set(
    *, role: Role, table_name: str, can_read: bool = True, can_write: bool = False
) -> RoleTableAccess:
    """Grant (or change) a role's access to a table; applies at the next request on every node
    (the write bumps the cached access's generation, see ``RoleTableAccess``)."""
    row, _ = RoleTableAccess.objects.update_or_create(
        role=role, table_name=table_name.lower(),
        defaults={"can_read": can_read, "can_write": can_write},
    )
    return row


@transaction.atomic
def role_table_access_revoke(*, role: Role, table_name: str) -> int:
    """Withdraw a role's access to a table; the number of rows removed (0 or 1)."""
    deleted, _ = RoleTableAccess.objects.filter(role=role, table_name=table_name.lower()).delete()
    return deleted


# --- SysConfig ------------------------------------------------------------------------------------


def sysconfig_cache_clear() -> None:
    cache.delete(selectors.SYSCONFIG_CACHE_KEY)


@transaction.atomic
def sysconfig_set(*, name: str, value: str, client: Client | None = None) -> SysConfig:
    row, _ = SysConfig.objects.update_or_create(
        client=client, name=name, defaults={"value": value, "is_active": True}
    )
    transaction.on_commit(sysconfig_cache_clear)
    sysconfig_cache_clear()
    return row
