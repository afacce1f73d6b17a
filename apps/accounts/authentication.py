"""DRF authentication: bearer JWT (with live revocation checks) and HTTP Basic (default context).

A successful Basic check is remembered briefly (``basic_memo``), so a Basic client does not pay a
full password hash on every request."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone
from rest_framework import authentication
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken, UntypedToken

from apps.accounts import basic_memo, selectors, services
from apps.accounts.models import User
from apps.accounts.throttling import FailureBudget
from apps.accounts.tokens import LoginToken, UploadToken
from apps.core.errors import ApplicationError


@dataclass(frozen=True)
class LoginGrant:
    """What the first-step token proves: who logged in, and nothing about where."""

    user_id: int


def _raw_bearer(auth: JWTAuthentication, request) -> bytes | None:
    header = auth.get_header(request)
    if header is None:
        return None
    return auth.get_raw_token(header)


def _session_context(token: AccessToken):
    session = selectors.session_for_token(token.get("sid"))
    if session is None or session.is_revoked:
        raise AuthenticationFailed("The token has been revoked.")
    if session.expires <= timezone.now():
        raise AuthenticationFailed("The session has expired; log in again.")
    if not session.user.is_active:
        raise AuthenticationFailed("The user is no longer active.")
    if not services.session_access_active(session):
        raise AuthenticationFailed("The client or role is no longer active.")
    return session.user, services.context_for_session(session)


# What the browser's uploader does with its upload token (tus: create, append, offset, cancel).
# A GET would read an upload's bytes back: the upload token sends files, it never reads them.
UPLOAD_TOKEN_METHODS = frozenset({"POST", "PATCH", "HEAD", "PUT", "DELETE", "OPTIONS"})


def _upload_token_method(request) -> bool:
    """The upload token's methods; GET only on views that say their GETs read no file back
    (``upload_token_gets``: the direct-to-S3 views sign and list parts)."""
    if request.method in UPLOAD_TOKEN_METHODS:
        return True
    view = (getattr(request, "parser_context", None) or {}).get("view")
    return request.method == "GET" and bool(getattr(view, "upload_token_gets", False))


class ContextJWTAuthentication(JWTAuthentication):
    """``Authorization: Bearer <access token>``; puts a RequestContext in ``request.auth``.

    Only access tokens: the first-step login token and the web UI's upload token are refused (401),
    except that :class:`UploadTokenAuthentication` takes the upload token on the views that list
    it."""

    accepts_upload_token = False

    def authenticate(self, request):
        raw = _raw_bearer(self, request)
        if raw is None:
            return None
        try:
            token = AccessToken(raw)
        except TokenError:
            try:
                untyped = UntypedToken(raw)
            except TokenError as exc:
                raise AuthenticationFailed("The token is invalid or expired.") from exc
            if untyped.get("token_type") == UploadToken.token_type:
                if self.accepts_upload_token and _upload_token_method(request):
                    # Verified (signature, expiry) as an untyped token; it is the session's, and
                    # dies with it, as an access token does.
                    return _session_context(untyped)
                raise AuthenticationFailed(
                    "This token only opens the web UI's uploads; use an access token."
                ) from None
            if untyped.get("token_type") == LoginToken.token_type:
                raise AuthenticationFailed(
                    "This token is only valid for the auth calls: choose a client, role and "
                    "organization with PUT /api/v1/auth/tokens first."
                ) from None
            raise AuthenticationFailed("An access token is required.") from None
        return _session_context(token)


class UploadTokenAuthentication(ContextJWTAuthentication):
    """For the upload endpoints the web UI's uploader calls (tus; later the direct-to-storage ones):
    an access token, or the page's upload token (``POST /ui/upload-token``), which no other view
    accepts. Such a view takes :func:`upload_authentication_classes`."""

    accepts_upload_token = True


class LoginTokenAuthentication(JWTAuthentication):
    """For the auth calls: accepts the first-step token (and a full access token)."""

    def authenticate(self, request):
        raw = _raw_bearer(self, request)
        if raw is None:
            return None
        try:
            token = LoginToken(raw)
        except TokenError:
            try:
                access = AccessToken(raw)
            except TokenError as exc:
                raise AuthenticationFailed("The token is invalid or expired.") from exc
            user, _ = _session_context(access)
            return user, LoginGrant(user_id=user.id)
        user = User.objects.filter(pk=token.get("user_id"), is_active=True).first()
        if user is None:
            raise AuthenticationFailed("The user is no longer active.")
        return user, LoginGrant(user_id=user.id)


class ContextBasicAuthentication(authentication.BasicAuthentication):
    """HTTP Basic with the user's default client/role/org (off with ``AUTH_BASIC_ENABLED=False``)."""

    www_authenticate_realm = "api"

    def authenticate(self, request):
        if not settings.AUTH_BASIC_ENABLED:
            return None
        result = super().authenticate(request)
        if result is None:
            return None
        user, _ = result
        try:
            return user, services.context_default_for_user(user)
        except ApplicationError as exc:
            raise AuthenticationFailed(str(exc)) from exc

    def authenticate_credentials(self, userid, password, request=None):
        # The failure budget comes first: a blocked name waits even with remembered credentials.
        budget = FailureBudget(request, userid)
        if budget.blocked():
            raise Throttled(wait=budget.wait_seconds)
        user = basic_memo.recall(userid, password)
        if user is not None:
            return user, None
        if not budget.spend():
            raise Throttled(wait=budget.wait_seconds)
        user, auth = super().authenticate_credentials(userid, password, request)
        budget.refund()
        basic_memo.remember(userid, password, user)
        return user, auth

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


def upload_authentication_classes() -> tuple[type, ...]:
    """The authentication of an upload endpoint (``authentication_classes = ...`` on its view):
    the configured defaults, with the bearer one also taking the web UI's upload token."""
    from rest_framework.settings import api_settings

    return tuple(
        UploadTokenAuthentication if cls is ContextJWTAuthentication else cls
        for cls in api_settings.DEFAULT_AUTHENTICATION_CLASSES
    )
