"""Reads of registered tables, scoped by the request context, with $expand loaded in bulk.

A page costs a fixed number of queries: COUNT, the page, one per child expansion, one per
foreign-key expansion and one per distinct foreign-key target table (identifiers) — whatever
``$top`` is and however many rows the expansions bring.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import uuid
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import connection
from django.db.models import Prefetch, Q, QuerySet, prefetch_related_objects

from apps.accounts.selectors import sysconfig_bool, sysconfig_int
from apps.core.errors import BadRequest, Forbidden, NotFound
from apps.core.wire import MAX_DIGITS, parse_id_or_key
from apps.records import access, sqljson
from apps.records.codec import fk_value, list_value, out_name, scalar
from apps.records.dictionary import (
    ChildMeta,
    ColumnMeta,
    TableMeta,
    dictionary_generation,
    identifier_columns,
    table_meta,
)
from apps.records.query import (
    MAX_EXPAND_DEPTH,
    compile_filter,
    parse_expand,
    parse_int,
    parse_orderby,
    parse_select,
)

DEFAULT_MAX_RECORDS = 100
# A page larger than this is "unlimited" in practice; it keeps LIMIT/OFFSET inside a 64-bit integer
# whatever REST_MAX_RECORDS_SIZE says.
MAX_PAGE_SIZE = 10**12


# --- scoping ----------------------------------------------------------------------------------------
def scope_rows(ctx, meta: TableMeta, qs: QuerySet) -> QuerySet:
    """Rows of the caller's client (plus System rows) in the orgs the role sees."""
    if meta.has_client:
        qs = qs.filter(client_id__in=[ctx.client_id, 0] if ctx.client_id else [0])
    if meta.has_org:
        orgs = ctx.visible_org_ids()
        if orgs is not None:
            qs = qs.filter(org_id__in=sorted(orgs))
    return qs


def read_queryset(ctx, table_name: str) -> QuerySet:
    meta = table_meta(table_name)
    access.check_read(ctx, meta.table_name)
    return scope_rows(ctx, meta, meta.model._default_manager.all())


def lookup_q(meta: TableMeta, ident: Any) -> Q:
    """An id or a UUID (the ``<Table>_UU`` column) → Q; an id in other than ASCII digits → 400;
    anything else (an id too large for any row, too) → 404."""
    raw = str(ident).strip()
    if raw.isascii() and raw.isdigit() and len(raw) > MAX_DIGITS:
        raise NotFound(f"No record '{ident}' in table '{meta.table_name}'.")
    text = parse_id_or_key(raw, "The record id")
    if isinstance(text, int):
        return Q(pk=text)
    uid_col = meta.by_lower.get("uid")
    if uid_col is not None:
        try:
            return Q(**{uid_col.attname: uuid.UUID(text)})
        except ValueError:
            pass
    raise NotFound(f"No record '{ident}' in table '{meta.table_name}'.")


# --- plans ------------------------------------------------------------------------------------------
@dataclass
class Plan:
    meta: TableMeta
    select: list[ColumnMeta] | None = None
    children: list[tuple[ChildMeta, Plan]] = field(default_factory=list)
    fk_expands: dict[str, Plan] = field(default_factory=dict)  # column name → plan of target
    q: Q = field(default_factory=Q)
    order: list[str] = field(default_factory=list)
    top: int | None = None  # the $top asked for (None or 0: no explicit top)
    skip: int = 0
    size: int | None = None  # rows per page (per parent for a detail expansion); None: unlimited

    def columns(self) -> list[ColumnMeta]:
        if self.select is None:
            return self.meta.public_columns()
        # An expanded foreign key is shown even when $select does not name it.
        extra = [self.meta.columns[n] for n in self.fk_expands if self.meta.columns[n] not in self.select]
        return self.select + extra


def page_size(top: int | None, limit: int) -> int | None:
    """Rows per page (None: unlimited) — one rule for the top level and for every nested $expand.

    As iDempiere's ModelHelper, which serves both: a missing or zero ``$top`` is "no explicit top",
    so REST_MAX_RECORDS_SIZE applies; a positive limit caps any ``$top``; a limit of 0 means no cap,
    and then ``$top`` wins when there is one.
    """
    explicit = top or None
    if limit <= 0:
        return explicit
    return limit if explicit is None else min(explicit, limit)


def _option_name(option: str, path: str) -> str:
    """``$top`` at the top level, ``$top (in $expand=C_OrderLine)`` in a nested expansion."""
    return f"{option} (in $expand={path})" if path else option


def build_plan(
    ctx,
    meta: TableMeta,
    *,
    select: str | None = None,
    expand: str | None = None,
    filter_text: str | None = None,
    orderby: str | None = None,
    top: str | None = None,
    skip: str | None = None,
    limit: int | None = None,
    depth: int = 0,
    path: str = "",
) -> Plan:
    """The plan of a read. ``limit`` is REST_MAX_RECORDS_SIZE (read once, then passed down)."""
    if limit is None:
        limit = max_records(ctx)
    plan = Plan(meta=meta)
    plan.select = parse_select(meta, select)
    plan.q = compile_filter(meta, filter_text)
    plan.order = parse_orderby(meta, orderby)
    plan.top = parse_int(top, _option_name("$top", path))
    plan.skip = parse_int(skip, _option_name("$skip", path), 0) or 0
    plan.size = page_size(plan.top, limit)
    seen: set[str] = set()
    for item in parse_expand(expand):
        if depth + 1 > MAX_EXPAND_DEPTH:
            raise BadRequest(f"$expand is nested deeper than {MAX_EXPAND_DEPTH} levels.")
        # Both would load into the same attribute and answer under the same key.
        if item.name.lower() in seen:
            raise BadRequest(f"$expand names '{item.name}' more than once.")
        seen.add(item.name.lower())
        opts = item.options
        item_path = f"{path}/{item.name}" if path else item.name
        child = meta.children.get(item.name.lower())
        if child is not None:
            access.check_read(ctx, child.table_name)
            child_plan = build_plan(
                ctx,
                table_meta(child.table_name),
                select=opts.get("$select"),
                expand=opts.get("$expand"),
                filter_text=opts.get("$filter"),
                orderby=opts.get("$orderby"),
                top=opts.get("$top"),
                skip=opts.get("$skip"),
                limit=limit,
                depth=depth + 1,
                path=item_path,
            )
            plan.children.append((child, child_plan))
            continue
        col = meta.column(item.name)
        if col is not None and col.is_fk and not col.secret:
            from apps.records.registry import table_spec_for_model

            target = table_spec_for_model(col.target_model)
            if target is None:
                raise BadRequest(f"Column '{col.name}' cannot be expanded: its table is not exposed.")
            access.check_read(ctx, target.table_name)
            # One master row: as in iDempiere, $top and $skip may only be 0 ("not given").
            paging = [
                parse_int(opts.get(name), _option_name(name, item_path), 0) for name in ("$top", "$skip")
            ]
            if any(paging) or any(opts.get(k, "").strip() for k in ("$filter", "$orderby")):
                raise BadRequest(f"Only $select and $expand apply to the foreign key '{col.name}'.")
            plan.fk_expands[col.name] = build_plan(
                ctx,
                table_meta(target.table_name),
                select=opts.get("$select"),
                expand=opts.get("$expand"),
                limit=limit,
                depth=depth + 1,
                path=item_path,
            )
            continue
        raise BadRequest(f"Cannot expand '{item.name}' on table '{meta.table_name}'.")
    return plan


# --- loading ----------------------------------------------------------------------------------------
class IdentifierResolver:
    """Collects foreign keys to show and resolves their identifiers with one query per table."""

    def __init__(self) -> None:
        self.pending: dict[Any, set] = defaultdict(set)
        self.known: dict[tuple[Any, Any], str] = {}

    def want(self, model: Any, pk: Any) -> None:
        if pk is not None:
            self.pending[model].add(pk)

    def resolve(self) -> None:
        for model, pks in self.pending.items():
            pks = {pk for pk in pks if (model, pk) not in self.known}
            if not pks:
                continue
            attnames = identifier_columns(model)
            rows = model._base_manager.filter(pk__in=pks).order_by().values_list("pk", *attnames)
            for row in rows:
                parts = [str(scalar(p)) for p in row[1:] if p not in (None, "")]
                self.known[(model, row[0])] = "_".join(parts) if parts else str(row[0])
        self.pending.clear()

    def get(self, model: Any, pk: Any) -> str | None:
        return self.known.get((model, pk))


def _exp_attr(name: str) -> str:
    return f"_exp_{name.lower()}"


def load(ctx, objs: list[Any], plan: Plan, resolver: IdentifierResolver) -> None:
    """Bulk-load the plan's expansions for ``objs`` and note the FK identifiers they show."""
    if not objs:
        return
    for child, child_plan in plan.children:
        qs = scope_rows(ctx, child_plan.meta, child.model._default_manager.all()).filter(child_plan.q)
        qs = qs.order_by(*(child_plan.order or ["pk"]))
        # Sliced per parent (Django prefetches a sliced queryset with a window function).
        if child_plan.size is not None or child_plan.skip:
            end = None if child_plan.size is None else child_plan.skip + child_plan.size
            qs = qs[child_plan.skip : end]
        prefetch_related_objects(
            objs, Prefetch(child.accessor, queryset=qs, to_attr=_exp_attr(child.table_name))
        )
        kids = [kid for obj in objs for kid in getattr(obj, _exp_attr(child.table_name))]
        load(ctx, kids, child_plan, resolver)
    for col_name, target_plan in plan.fk_expands.items():
        col = plan.meta.columns[col_name]
        ids = {getattr(obj, col.attname) for obj in objs} - {None}
        qs = scope_rows(ctx, target_plan.meta, col.target_model._default_manager.all())
        found = {t.pk: t for t in qs.filter(pk__in=ids).order_by()} if ids else {}
        for obj in objs:
            setattr(obj, _exp_attr(col_name), found.get(getattr(obj, col.attname)))
        load(ctx, list(found.values()), target_plan, resolver)
    for col in plan.columns():
        if col.is_fk and col.name not in plan.fk_expands:
            for obj in objs:
                resolver.want(col.target_model, getattr(obj, col.attname))


def render(obj: Any, plan: Plan, resolver: IdentifierResolver, lower: bool) -> dict[str, Any]:
    meta = plan.meta
    uid_col = meta.by_lower.get("uid")
    body: dict[str, Any] = {"id": obj.pk}
    if uid_col is not None:
        body["uid"] = str(getattr(obj, uid_col.attname))
    body["model-name"] = meta.table_name.lower()
    for col in plan.columns():
        key = out_name(col.name, lower)
        raw = getattr(obj, col.attname)
        if col.is_fk:
            if col.name in plan.fk_expands:
                target = getattr(obj, _exp_attr(col.name), None)
                body[key] = (
                    render(target, plan.fk_expands[col.name], resolver, lower)
                    if target is not None
                    else fk_value(col, raw, None)
                )
            else:
                body[key] = fk_value(col, raw, resolver.get(col.target_model, raw))
        elif col.is_list:
            body[key] = list_value(col, raw)
        else:
            body[key] = scalar(raw)
    for child, child_plan in plan.children:
        body[child.table_name] = [
            render(kid, child_plan, resolver, lower) for kid in getattr(obj, _exp_attr(child.table_name))
        ]
    return body


class RawRecords(list):
    """Records already rendered as JSON texts (by PostgreSQL: ``apps.records.sqljson``)."""


def page_records(
    ctx, page: QuerySet, plan: Plan, lower: bool
) -> tuple[list[dict[str, Any]] | RawRecords, list[Any]]:
    """(a page's records, their keys): JSON texts built by PostgreSQL when it can, else rendered
    here."""
    if sqljson.supports(plan):
        rows = list(sqljson.page_query(ctx, page, plan, lower))
        return RawRecords(text for _, text in rows), [key for key, _ in rows]
    objs = list(page)
    return render_many(ctx, objs, plan), [obj.pk for obj in objs]


def render_many(ctx, objs: list[Any], plan: Plan) -> list[dict[str, Any]]:
    resolver = IdentifierResolver()
    load(ctx, objs, plan, resolver)
    resolver.resolve()
    lower = sysconfig_bool("REST_COLUMNNAME_TOLOWERCASE", False, client_id=ctx.client_id)
    return [render(obj, plan, resolver, lower) for obj in objs]


# --- public selectors -------------------------------------------------------------------------------
def valrule_filter(ctx, valrule: str, context_text: str | None) -> str:
    """The stored filter of AD_Val_Rule ``valrule`` with its ``@Name@`` variables filled in."""
    import re

    from apps.records.models import ValRule

    text = str(valrule).strip()
    if "\x00" in text or len(text) > 120:
        raise BadRequest("Bad $valrule.")
    rule = None
    key = parse_id_or_key(text, "$valrule")
    if isinstance(key, int):
        rule = ValRule.objects.filter(pk=key, is_active=True).first()
    else:
        try:
            rule = ValRule.objects.filter(uid=uuid.UUID(text), is_active=True).first()
        except ValueError:
            rule = ValRule.objects.filter(name=text, is_active=True).first()
    if rule is None:
        raise BadRequest(f"Unknown validation rule '{valrule}' in $valrule.")
    variables: dict[str, Any] = dict(ctx.as_variables())
    if context_text:
        if len(context_text) > 2000:
            raise BadRequest("$context is too long.")
        for pair in context_text.split(","):
            name, sep, value = pair.partition(":")
            if not sep or not name.strip():
                raise BadRequest(f"Bad $context item '{pair}': expected Name:value.")
            variables[name.strip()] = value.strip()

    def literal(match: re.Match) -> str:
        name = match.group(1)
        if name not in variables:
            raise BadRequest(f"Validation rule '{rule.name}' needs context variable '{name}'.")
        value = variables[name]
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int) or (isinstance(value, str) and re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", value)):
            return str(value)
        return "'" + str(value).replace("'", "''") + "'"

    return re.sub(r"@([#$]?[A-Za-z_][A-Za-z0-9_]*)@", literal, rule.code)


def max_records(ctx) -> int:
    """REST_MAX_RECORDS_SIZE; 0 (or less) means no cap."""
    limit = sysconfig_int("REST_MAX_RECORDS_SIZE", DEFAULT_MAX_RECORDS, client_id=ctx.client_id)
    return min(limit, MAX_PAGE_SIZE)


COUNT_MODES = ("exact", "planned", "estimated", "none")
SKIPTOKEN_SALT = "ledgerdoc.records.skiptoken"
# Options a $skiptoken is bound to: the same query, on the same table, for the same tenant (the
# page size may change from page to page).
_TOKEN_BOUND = ("$filter", "$select", "$orderby", "$expand", "$valrule", "$context")


@dataclass
class ListPage:
    body: dict[str, Any]
    count: str  # the count mode applied (Preference-Applied)
    next_token: str | None = None  # a $skiptoken for the next page (keyset order only)


def _row_count_of(count_sql: tuple[str, tuple], mode: str) -> tuple[int | None, str]:
    """(the row count, the mode applied) for ``Prefer: count=...``, as PostgREST has it:
    ``count_sql`` is the statement of the matching rows' keys."""
    if mode == "none":
        return None, "none"
    sql, params = count_sql
    with connection.cursor() as cursor:
        if mode in ("planned", "estimated") and connection.vendor == "postgresql":
            # The planner's estimate: EXPLAIN reads no rows.
            cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
            raw = cursor.fetchone()[0]
            planned = int((json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]["Plan Rows"])
            if mode == "planned" or planned > int(settings.REST_COUNT_EXACT_LIMIT):
                return planned, mode
            applied = mode
        else:
            applied = "exact"  # no planner estimate elsewhere: the exact count
        cursor.execute(f"SELECT COUNT(*) FROM ({sql}) _matching", params)
        return int(cursor.fetchone()[0]), applied


def _keyset_direction(plan: Plan) -> str | None:
    """"asc"/"desc" when the page order is the key alone (a keyset can continue it), else None."""
    if not plan.order:
        return "asc"
    if len(plan.order) == 1 and plan.order[0].lstrip("-") in ("pk", plan.meta.pk.attname):
        return "desc" if plan.order[0].startswith("-") else "asc"
    return None


def _token_scope(ctx, meta: TableMeta, params: dict[str, str]) -> str:
    bound = "\x00".join(str(params.get(k) or "") for k in _TOKEN_BOUND)
    return hashlib.sha256(f"{ctx.client_id}\x00{meta.table_name}\x00{bound}".encode()).hexdigest()[:32]


def _read_skiptoken(ctx, meta: TableMeta, params: dict[str, str], direction: str | None) -> tuple[Any, int]:
    """(the last key of the previous page, the rows before this page) from a valid $skiptoken."""
    if direction is None:
        raise BadRequest("$skiptoken needs the page order to be the key alone (no $orderby, or id).")
    if parse_int(params.get("$skip"), "$skip", 0):
        raise BadRequest("$skiptoken and $skip cannot be combined.")
    try:
        data = signing.loads(str(params["$skiptoken"]), salt=SKIPTOKEN_SALT,
                             max_age=int(settings.REST_SKIPTOKEN_SECONDS))
    except signing.BadSignature:
        raise BadRequest("The $skiptoken is not valid (altered, or expired).") from None
    if not isinstance(data, dict) or data.get("s") != _token_scope(ctx, meta, params):
        raise BadRequest("The $skiptoken belongs to another query; repeat the same options.")
    return data["k"], int(data["n"])


@dataclass
class _ListQuery:
    """What a list request compiles to: its plan and queryset, and the statements of its count and
    (rendered by PostgreSQL) of its page."""

    plan: Plan | None
    qs: QuerySet | None
    count_sql: tuple[str, tuple]
    page_sql: tuple[str, tuple] | None  # None: rendered in Python
    tables: tuple[str, ...]  # tables read (their access is checked on every request)
    size: int | None
    skip: int
    direction: str | None


# Compiled statements of list requests, per process: the same options for the same tenant, org
# scope and dictionary compile to the same SQL (building and compiling a page's nested query costs
# more than running it). Only what PostgreSQL renders, without $valrule (it reads a row) and without
# $skiptoken (its key changes every page), is kept.
_COMPILED: OrderedDict[tuple, _ListQuery] = OrderedDict()
_COMPILED_MAX = 512
_COMPILED_LOCK = threading.Lock()


def _plan_tables(plan: Plan) -> list[str]:
    tables = [plan.meta.table_name]
    for _, child_plan in plan.children:
        tables += _plan_tables(child_plan)
    for target_plan in plan.fk_expands.values():
        tables += _plan_tables(target_plan)
    return tables


def _compile_list(ctx, meta: TableMeta, params: dict[str, str], lower: bool) -> _ListQuery:
    qs = read_queryset(ctx, meta.table_name)
    plan = build_plan(
        ctx,
        meta,
        select=params.get("$select"),
        expand=params.get("$expand"),
        filter_text=params.get("$filter"),
        orderby=params.get("$orderby"),
        top=params.get("$top"),
        skip=params.get("$skip"),
        limit=max_records(ctx),
    )
    if params.get("$valrule"):
        rule_text = valrule_filter(ctx, params["$valrule"], params.get("$context"))
        plan.q &= compile_filter(meta, rule_text, source="$valrule")
    qs = qs.filter(plan.q).order_by(*(plan.order or ["pk"]))
    count_sql = qs.order_by().values("pk").query.sql_with_params()
    page_sql = None
    direction = _keyset_direction(plan)
    if sqljson.supports(plan):
        if params.get("$skiptoken"):
            # Compiled once with a stand-in key, replaced by each token's key (_keyset_params).
            keyed = _keyset(qs, direction, _KEY_STAND_IN)
            page = keyed[: plan.size] if plan.size is not None else keyed
        else:
            page = qs[plan.skip : plan.skip + plan.size] if plan.size is not None else qs[plan.skip :]
        page_sql = sqljson.page_query(ctx, page, plan, lower).query.sql_with_params()
        if params.get("$skiptoken") and page_sql[1].count(_KEY_STAND_IN) != 1:
            page_sql = None  # the stand-in is not unambiguous: rendered without the kept SQL
    return _ListQuery(
        plan=plan, qs=qs, count_sql=count_sql, page_sql=page_sql,
        tables=tuple(dict.fromkeys(_plan_tables(plan))), size=plan.size, skip=plan.skip,
        direction=direction,
    )


_KEY_STAND_IN = -(2**63) + 7_919  # no row has it: the place of a $skiptoken's key in kept SQL


def _keyset(qs: QuerySet, direction: str | None, last_key: Any) -> QuerySet:
    if direction is None:
        raise BadRequest("$skiptoken needs the page order to be the key alone (no $orderby, or id).")
    return qs.filter(pk__gt=last_key) if direction == "asc" else qs.filter(pk__lt=last_key)


def _list_query(ctx, meta: TableMeta, params: dict[str, str], lower: bool) -> _ListQuery:
    key = None
    if not params.get("$valrule"):
        orgs = ctx.visible_org_ids()
        # Every $skiptoken of the same query shares one statement (its key is a parameter).
        options = {k: ("*" if k == "$skiptoken" else v) for k, v in params.items()}
        key = (
            meta.table_name, tuple(sorted(options.items())), ctx.client_id,
            None if orgs is None else tuple(sorted(orgs)), max_records(ctx), lower,
            dictionary_generation(),
        )
        with _COMPILED_LOCK:
            found = _COMPILED.get(key)
            if found is not None:
                _COMPILED.move_to_end(key)
        if found is not None:
            for table in found.tables:
                access.check_read(ctx, table)
            return found
    compiled = _compile_list(ctx, meta, params, lower)
    if key is not None and compiled.page_sql is not None:
        kept = _ListQuery(plan=None, qs=None, count_sql=compiled.count_sql,
                          page_sql=compiled.page_sql, tables=compiled.tables, size=compiled.size,
                          skip=compiled.skip, direction=compiled.direction)
        with _COMPILED_LOCK:
            _COMPILED[key] = kept
            while len(_COMPILED) > _COMPILED_MAX:
                _COMPILED.popitem(last=False)
    return compiled


def record_list(ctx, table_name: str, params: dict[str, str], *, count: str = "exact") -> ListPage:
    """A page of records. ``count``: ``Prefer: count=exact|planned|estimated|none``. With
    ``$skiptoken`` the page continues the previous one from its last key (a keyset: as cheap
    deep down as on page one); a page in key order offers the token of the next page."""
    meta = table_meta(table_name)
    access.check_read(ctx, meta.table_name)
    lower = sysconfig_bool("REST_COLUMNNAME_TOLOWERCASE", False, client_id=ctx.client_id)
    query = _list_query(ctx, meta, params, lower)
    size, direction, before = query.size, query.direction, query.skip
    last_key = None
    if params.get("$skiptoken"):
        last_key, before = _read_skiptoken(ctx, meta, params, direction)
    row_count, applied = _row_count_of(query.count_sql, count)
    if query.page_sql is not None:
        sql, sql_params = query.page_sql
        if last_key is not None:
            sql_params = tuple(last_key if p == _KEY_STAND_IN else p for p in sql_params)
        with connection.cursor() as cursor:
            cursor.execute(sql, sql_params)
            rows = cursor.fetchall()
        records: list[dict[str, Any]] | RawRecords = RawRecords(text for _, text in rows)
        keys = [key for key, _ in rows]
    else:
        qs, plan = query.qs, query.plan
        if last_key is not None:
            keyed = _keyset(qs, direction, last_key)
            page = keyed[:size] if size is not None else keyed
        else:
            page = qs[plan.skip : plan.skip + size] if size is not None else qs[plan.skip :]
        records, keys = page_records(ctx, page, plan, lower)
    if size is not None:
        records_size = size
    else:
        records_size = max((row_count or 0) - before, 0) if row_count is not None else len(records)
    body: dict[str, Any] = {}
    if row_count is not None:
        body["page-count"] = (
            math.ceil(row_count / records_size) if records_size else (1 if row_count else 0)
        )
    body["records-size"] = records_size
    body["skip-records"] = before
    if row_count is not None:
        body["row-count"] = row_count
    body["array-count"] = len(records)
    body["records"] = records
    next_token = None
    if direction is not None and size is not None and keys and len(keys) == size:
        next_token = signing.dumps(
            {"s": _token_scope(ctx, meta, params), "k": keys[-1], "n": before + len(keys)},
            salt=SKIPTOKEN_SALT, compress=True,
        )
    return ListPage(body=body, count=applied, next_token=next_token)


def record_get(ctx, table_name: str, ident: Any) -> Any:
    meta = table_meta(table_name)
    qs = read_queryset(ctx, meta.table_name)
    obj = qs.filter(lookup_q(meta, ident)).first()
    if obj is None:
        raise NotFound(f"No record '{ident}' in table '{meta.table_name}'.")
    return obj


def record_etag(ctx, table_name: str, ident: Any) -> str | None:
    """The ETag of a row the caller may read (apps.records.versions); 404 like a read."""
    from apps.records.versions import row_etag

    meta = table_meta(table_name)
    qs = read_queryset(ctx, meta.table_name)
    names = {f.attname for f in meta.model._meta.concrete_fields}
    fields = [name for name in ("row_version", "updated") if name in names]
    if not fields:
        return None
    row = qs.filter(lookup_q(meta, ident)).values(*fields).first()
    if row is None:
        raise NotFound(f"No record '{ident}' in table '{meta.table_name}'.")
    return row_etag(row)


def record_detail(ctx, table_name: str, ident: Any, params: dict[str, str]) -> dict[str, Any]:
    meta = table_meta(table_name)
    obj = record_get(ctx, table_name, ident)
    plan = build_plan(ctx, meta, select=params.get("$select"), expand=params.get("$expand"))
    return render_many(ctx, [obj], plan)[0]


def record_column(ctx, table_name: str, ident: Any, column: str) -> dict[str, Any]:
    meta = table_meta(table_name)
    col = meta.column(column)
    if col is None or col.secret:
        raise NotFound(f"No column '{column}' in table '{meta.table_name}'.")
    obj = record_get(ctx, table_name, ident)
    if col.is_key:
        plan = Plan(meta=meta, select=[])
        body = render_many(ctx, [obj], plan)[0]
        value = body["id"] if col.name.lower().endswith("_id") else body.get("uid")
        return {col.name: value}
    plan = Plan(meta=meta, select=[col])
    body = render_many(ctx, [obj], plan)[0]
    key = next(k for k in body if k not in {"id", "uid", "model-name"})
    return {key: body[key]}


def render_record(ctx, table_name: str, obj: Any) -> dict[str, Any]:
    return render_many(ctx, [obj], Plan(meta=table_meta(table_name)))[0]


def render_written(ctx, table_name: str, obj: Any, written: dict[str, list[Any]]) -> dict[str, Any]:
    """The answer to a POST or PUT: the record, then the detail rows the body's arrays added or
    changed (``apps.records.services.WrittenDetails``), each as stored now, under its table's name
    (as iDempiere answers them: a client learns the new rows' ids from it)."""
    body = render_record(ctx, table_name, obj)
    _add_written(ctx, body, written)
    return body


def _add_written(ctx, body: dict[str, Any], written: dict[str, list[Any]]) -> None:
    for child_table, rows in written.items():
        meta = table_meta(child_table)
        stored = meta.model._base_manager.in_bulk([row.obj.pk for row in rows])
        kept = [(row, stored[row.obj.pk]) for row in rows if row.obj.pk in stored]
        items = render_many(ctx, [fresh for _, fresh in kept], Plan(meta=meta))
        for (row, _), item in zip(kept, items, strict=True):
            _add_written(ctx, item, row.details)
        body[meta.table_name] = items


def models_list(ctx, filter_text: str | None) -> list[dict[str, Any]]:
    """Exposed tables (AD_Table rows) the role may read, filtered by ``filter_text``."""
    from apps.records.models import Table

    meta = table_meta("AD_Table")
    readable = access.table_access(ctx)
    qs = Table.objects.filter(is_active=True).filter(compile_filter(meta, filter_text)).order_by("table_name")
    return [
        {
            "id": table.id,
            "uid": str(table.uid),
            "model-name": table.table_name.lower(),
            "name": table.name,
            "description": table.description,
        }
        for table in qs
        if readable is None or table.table_name.lower() in readable
    ]


def _check_reference_table(ctx, ref: Any) -> None:
    """A table reference (ValidationType T) shows rows of a table: 403 unless the role may read it.

    Its table is the ReferenceTableName of the columns that use it; one the role may not read, or a
    table reference no column names a table for, is refused as ``GET /models/{table}`` would refuse
    it. List references (DocStatus, ...) are values of the dictionary and stay readable."""
    from apps.records.models import Column

    if ref.validation_type != "T" or access.table_access(ctx) is None:
        return
    tables = sorted(
        {
            name
            for name in Column.objects.filter(reference=ref).values_list("reference_table", flat=True)
            if name
        }
    )
    if not tables:
        raise Forbidden(f"Your role may not read the table of reference '{ref.name}'.")
    for name in tables:
        access.check_read(ctx, name)


def reference_values(ctx, ident: str) -> dict[str, Any]:
    from apps.records.models import Reference

    text = str(ident).strip()
    if "\x00" in text:
        raise NotFound(f"No reference '{ident}'.")
    qs = Reference.objects.filter(is_active=True)
    key = parse_id_or_key(text, "The reference id")
    if isinstance(key, int):
        ref = qs.filter(pk=key).first()
    else:
        try:
            ref = qs.filter(uid=uuid.UUID(text)).first()
        except ValueError:
            ref = qs.filter(name=text).first()
    if ref is None:
        raise NotFound(f"No reference '{ident}'.")
    _check_reference_table(ctx, ref)
    values = ref.values.filter(is_active=True).order_by("seq_no", "value")
    return {"name": ref.name, "reflist": [{"value": v.value, "name": v.name} for v in values]}


def forms_list(ctx, filter_text: str | None) -> list[dict[str, Any]]:
    """Active forms (AD_Form), filtered by ``filter_text``, at most REST_MAX_RECORDS_SIZE of them.

    Forms are the rows of the AD_Form table: a role that may not read it gets 403, as from
    ``GET /models/AD_Form``."""
    from apps.records.models import Form

    meta = table_meta("AD_Form")
    access.check_read(ctx, meta.table_name)
    qs = Form.objects.filter(is_active=True).filter(compile_filter(meta, filter_text)).order_by("name")
    limit = max_records(ctx)
    return [
        {
            "id": form.id,
            "uid": str(form.uid),
            "name": form.name,
            "description": form.description,
            "help": form.help,
            "classname": form.classname,
            "model-name": "ad_form",
        }
        for form in (qs[:limit] if limit > 0 else qs)
    ]
