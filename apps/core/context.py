"""The request context: who is calling and in which client/role/org, resolved once per request.

Authentication puts a :class:`RequestContext` in ``request.auth``; views hand it to selectors and
services, which scope every query by it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from apps.core.errors import NotAuthenticated

if TYPE_CHECKING:  # pragma: no cover
    from apps.accounts.models import Role, User


@dataclass(frozen=True)
class RequestContext:
    user_id: int
    client_id: int
    role_id: int
    org_id: int
    warehouse_id: int | None
    language: str
    user: User = field(repr=False, compare=False)
    role: Role = field(repr=False, compare=False)
    session_id: str | None = None
    # Orgs whose rows the role may see: None = all of the client's orgs.
    org_ids: frozenset[int] | None = None
    # Orgs the role sees but may not write (RoleOrgAccess.IsReadOnly).
    read_only_org_ids: frozenset[int] = frozenset()

    @property
    def is_admin(self) -> bool:
        return bool(self.role.is_admin)

    def visible_org_ids(self) -> frozenset[int] | None:
        """Org ids whose rows are visible, always including org 0; None means every org."""
        if self.org_ids is None:
            return None
        return self.org_ids | {0}

    def can_write_org(self, org_id: int | None) -> bool:
        """Whether rows of ``org_id`` may be written: visible and not read-only for the role."""
        if org_id is None:
            return True
        if org_id in self.read_only_org_ids:
            return False
        orgs = self.visible_org_ids()
        return orgs is None or org_id in orgs

    def as_variables(self) -> dict[str, Any]:
        """Context variables for ``@Name@`` substitution (validation rules, defaults)."""
        return {
            "AD_Client_ID": self.client_id,
            "AD_Org_ID": self.org_id,
            "AD_Role_ID": self.role_id,
            "AD_User_ID": self.user_id,
            "#AD_Client_ID": self.client_id,
            "#AD_Org_ID": self.org_id,
            "#AD_Role_ID": self.role_id,
            "#AD_User_ID": self.user_id,
            "M_Warehouse_ID": self.warehouse_id or 0,
            "#M_Warehouse_ID": self.warehouse_id or 0,
            "AD_Language": self.language,
            "#AD_Language": self.language,
        }


def get_context(request: Any) -> RequestContext:
    """The caller's context, or 401 when the request is not authenticated with one."""
    ctx = getattr(request, "auth", None)
    if not isinstance(ctx, RequestContext):
        raise NotAuthenticated("Authentication with a client, role and organization is required.")
    return ctx
