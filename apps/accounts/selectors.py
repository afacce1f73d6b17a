"""Reads about who may log in where. Every list is limited to what the user may choose."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from django.core.cache import cache
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL

from apps.accounts import table_access_cache
from apps.accounts.models import (
    AuthSession,
    Client,
    Organization,
    Role,
    RoleOrgAccess,
    SysConfig,
    User,
    UserRole,
    Warehouse,
)
from apps.core import prepared
from apps.core.errors import BadRequest, Forbidden
from apps.core.wire import parse_id_or_key

SYSCONFIG_CACHE_KEY = "sysconfig:v1"
SYSCONFIG_CACHE_SECONDS = 300


def user_roles_qs(user: User) -> QuerySet[UserRole]:
    return UserRole.objects.filter(
        user=user, is_active=True, role__is_active=True, role__client__is_active=True
    ).select_related("role", "role__client", "default_org", "default_warehouse")


def user_default_grant(user: User) -> UserRole | None:
    """The user's default grant (HTTP Basic's context): the default role, else the first. Its role
    comes with its table access generation (``role.access_generation``), read in the same
    statement: a Basic request learns of any change of the role's access at no extra round trip."""
    grant = (
        user_roles_qs(user)
        .annotate(access_generation=RawSQL(_grant_generation_sql(), ()))
        .order_by("-is_default", "role_id")
        .first()
    )
    if grant is not None:
        grant.role.access_generation = table_access_cache.generation_of(grant.access_generation)
    return grant


def _grant_generation_sql() -> str:
    from django.db import connection

    qn = connection.ops.quote_name
    meta = UserRole._meta
    role_column = f"{qn(meta.db_table)}.{qn(meta.get_field('role').column)}"
    return table_access_cache.generation_sql(connection, role_column)


def session_for_token(session_id) -> AuthSession | None:
    """A login session with its user, client and role, ``grant_active`` (whether the user's grant
    of that role is still active), the role's org access (``role_org_access`` answers from it) and
    its table access generation (``role.access_generation``, see ``table_access_cache``).

    Every authenticated request makes this read, so it is one statement built once per process
    (``_SessionRead``) and planned once per connection (``apps.core.prepared``): no query is
    compiled or planned per request, and the rows are always read fresh."""
    return _session_read.load(session_id)


class _SessionRead:
    """``AD_Session`` joined to its user, client and role, the grant as an EXISTS, the role's
    table access generation as a scalar subquery, and the role's ``AD_Role_OrgAccess`` rows
    left-joined (one row per org access; one row for an all-orgs role).
    Instances are made as a queryset makes them (``apps.core.prepared.Columns``)."""

    MODELS = (("s", AuthSession), ("u", User), ("c", Client), ("r", Role))

    def __init__(self) -> None:
        self._built: dict[str, tuple[str, list[prepared.Columns]]] = {}

    def _build(self, connection) -> tuple[str, list[prepared.Columns]]:
        qn = connection.ops.quote_name
        parts = [prepared.Columns(model, alias, connection) for alias, model in self.MODELS]
        session, grant, access = AuthSession._meta, UserRole._meta, RoleOrgAccess._meta

        def col(meta, name: str) -> str:
            return qn(meta.get_field(name).column)

        r_pk = qn(Role._meta.pk.column)
        sql = (
            f"SELECT {', '.join(part.sql for part in parts)}, "
            f"EXISTS(SELECT 1 FROM {qn(grant.db_table)} g WHERE "
            f"g.{col(grant, 'user')} = s.{col(session, 'user')} AND "
            f"g.{col(grant, 'role')} = s.{col(session, 'role')} AND g.{col(grant, 'is_active')}), "
            f"{table_access_cache.generation_sql(connection, f'r.{r_pk}')}, "
            f"a.{col(access, 'org')}, a.{col(access, 'is_read_only')} "
            f"FROM {qn(session.db_table)} s "
            f"JOIN {qn(User._meta.db_table)} u ON u.{qn(User._meta.pk.column)} = s.{col(session, 'user')} "
            f"JOIN {qn(Client._meta.db_table)} c ON c.{qn(Client._meta.pk.column)} = s.{col(session, 'client')} "
            f"JOIN {qn(Role._meta.db_table)} r ON r.{r_pk} = s.{col(session, 'role')} "
            f"LEFT JOIN {qn(access.db_table)} a ON a.{col(access, 'role')} = r.{r_pk} "
            f"AND NOT r.{col(Role._meta, 'is_all_orgs')} "
            f"WHERE s.{qn(session.pk.column)} = %s"
        )
        return sql, parts

    def load(self, session_id) -> AuthSession | None:
        from django.core.exceptions import ValidationError
        from django.db import connections, router

        alias = router.db_for_read(AuthSession)
        connection = connections[alias]
        pk = AuthSession._meta.pk
        try:
            value = pk.get_db_prep_value(pk.to_python(session_id), connection)
        except (ValidationError, TypeError, ValueError, AttributeError):
            return None
        if value is None:
            return None
        built = self._built.get(connection.vendor)
        if built is None:
            built = self._built[connection.vendor] = self._build(connection)
        sql, parts = built
        with connection.cursor() as cursor:
            prepared.execute(connection, cursor, sql, [value])
            rows = cursor.fetchall()
        if not rows:
            return None
        instances, start = [], 0
        for part in parts:
            instances.append(part.instance(alias, connection, rows[0][start:start + len(part)]))
            start += len(part)
        session, user, client, role = instances
        for name, related in (("user", user), ("client", client), ("role", role)):
            AuthSession._meta.get_field(name).set_cached_value(session, related)
        session.grant_active = bool(rows[0][start])
        role.access_generation = table_access_cache.generation_of(rows[0][start + 1])
        if not role.is_all_orgs:
            access = [(org_id, bool(read_only)) for *_, org_id, read_only in rows
                      if org_id is not None]
            role.org_access = (
                frozenset(org_id for org_id, _ in access),
                frozenset(org_id for org_id, read_only in access if read_only),
            )
        return session


_session_read = _SessionRead()


def user_clients(user: User) -> list[Client]:
    ids = user_roles_qs(user).values_list("role__client_id", flat=True)
    return list(Client.objects.filter(id__in=ids).order_by("id"))


def user_client_roles(user: User, client_id: int) -> list[Role]:
    return [ur.role for ur in user_roles_qs(user).filter(role__client_id=client_id).order_by("role_id")]


def role_org_ids(role: Role) -> frozenset[int] | None:
    """Orgs whose rows the role sees (None: every org of its client)."""
    return role_org_access(role)[0]


def role_org_access(role: Role) -> tuple[frozenset[int] | None, frozenset[int]]:
    """(orgs the role sees — None: every org of its client —, orgs it sees read-only), one query.
    A role with access to all orgs writes in all of them, as in iDempiere."""
    if role.is_all_orgs:
        return None, frozenset()
    known = getattr(role, "org_access", None)  # read with its session (``session_for_token``)
    if known is not None:
        return known
    rows = list(role.roleorgaccess_set.values_list("org_id", "is_read_only"))
    return (
        frozenset(org_id for org_id, _ in rows),
        frozenset(org_id for org_id, read_only in rows if read_only),
    )


def role_orgs(role: Role) -> list[Organization]:
    """Orgs a user may log in to with the role: its accessible orgs, else org ``*``."""
    qs = Organization.objects.filter(is_active=True, client_id=role.client_id)
    if not role.is_all_orgs:
        qs = qs.filter(roleorgaccess__role=role)
    orgs = list(qs.order_by("id"))
    if not orgs:
        orgs = list(Organization.objects.filter(id=0))
    return orgs


def org_warehouses(client_id: int, org_id: int) -> list[Warehouse]:
    qs = Warehouse.objects.filter(client_id=client_id, is_active=True)
    if org_id:
        qs = qs.filter(org_id__in=[org_id, 0])
    return list(qs.order_by("id"))


def _matches(obj, needle: str) -> bool:
    needle = needle.strip().lower()
    for attr in ("name", "value"):
        value = getattr(obj, attr, None)
        if value is not None and str(value).lower() == needle:
            return True
    return str(getattr(obj, "uid", "")).lower() == needle


def pick(choices: Iterable, wanted, label: str, *, required: bool = True):
    """Choose among allowed ``choices`` by id, uuid, name or value; auto-pick a single choice."""
    choices = list(choices)
    if wanted in (None, ""):
        if len(choices) == 1:
            return choices[0]
        if not required:
            return None
        if not choices:
            raise Forbidden(f"No {label} is available to this user.")
        raise BadRequest(f"'{label}' is required: {len(choices)} are available.")
    if not isinstance(wanted, int | str) or isinstance(wanted, bool):
        raise BadRequest(f"'{label}' must be an id or a name.")
    key = parse_id_or_key(wanted, f"'{label}'")
    if isinstance(key, int):
        found = [c for c in choices if c.id == key]
    else:
        found = [c for c in choices if _matches(c, key)]
    if len(found) != 1:
        raise Forbidden(f"The {label} {wanted!r} is not available to this user.")
    return found[0]


def user_name_key(raw: str) -> str:
    """The one normalized form of a user name, for the lookup and for the throttles: NFKC, trimmed,
    case-folded (user names are case-insensitive, as iDempiere accepts them)."""
    return unicodedata.normalize("NFKC", raw).strip().casefold()


def user_by_username(username: str) -> User | None:
    """The user whose stored name is ``username`` up to case. A name that normalization changes
    beyond case (padding, full-width or other compatibility characters) is simply unknown: it
    would otherwise be a second spelling of a name, with a throttle budget of its own."""
    key = user_name_key(username)
    if username.casefold() != key:
        return None
    for user in User.objects.filter(username__iexact=username).order_by("id"):
        if user_name_key(user.username) == key:
            return user
    return None


# --- SysConfig -----------------------------------------------------------------------------------


def _sysconfig_table() -> dict[tuple[int | None, str], str]:
    table = cache.get(SYSCONFIG_CACHE_KEY)
    if table is None:
        table = {
            (row.client_id, row.name.upper()): row.value
            for row in SysConfig.objects.filter(is_active=True)
        }
        cache.set(SYSCONFIG_CACHE_KEY, table, SYSCONFIG_CACHE_SECONDS)
    return table


def sysconfig_value(name: str, default: str = "", *, client_id: int | None = None) -> str:
    """A client's own value, else the system value, else ``default``."""
    table = _sysconfig_table()
    key = name.upper()
    if client_id is not None and (client_id, key) in table:
        return table[(client_id, key)]
    return table.get((None, key), default)


def sysconfig_bool(name: str, default: bool = False, *, client_id: int | None = None) -> bool:
    value = sysconfig_value(name, "Y" if default else "N", client_id=client_id)
    return value.strip().upper() in {"Y", "YES", "TRUE", "1"}


def sysconfig_int(name: str, default: int, *, client_id: int | None = None) -> int:
    try:
        return int(sysconfig_value(name, str(default), client_id=client_id).strip())
    except ValueError:
        return default


def active_users_of_client(client_id: int) -> QuerySet[User]:
    return User.objects.filter(is_active=True).filter(
        Q(client_id=client_id) | Q(userrole__role__client_id=client_id)
    ).distinct()
