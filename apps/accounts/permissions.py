from rest_framework.permissions import BasePermission

from apps.accounts.authentication import LoginGrant
from apps.core.context import RequestContext


class HasRequestContext(BasePermission):
    """Authenticated with a full context (client, role, org): the default for every API view."""

    message = "Authentication with a client, role and organization is required."

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, RequestContext)


class HasLoginGrant(BasePermission):
    message = "A token from POST /api/v1/auth/tokens is required."

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, (LoginGrant, RequestContext))


class IsAdminRole(BasePermission):
    message = "This call needs an administrator role."

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, RequestContext) and request.auth.is_admin
