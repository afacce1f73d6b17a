"""Writes to registered tables: hooks, audit columns, tenancy and role write access.

The API, the batch endpoint and other apps (workflow) all write through these three functions.
Values are keyed by column name (``db_column``), the same names as PO-JSON.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError, Q

from apps.accounts.models import Organization
from apps.core.errors import ApplicationError, BadRequest, Conflict, Forbidden, NotFound
from apps.core.wire import parse_id_or_key
from apps.records import access
from apps.records.codec import (
    DELETE_KEY,
    ETAG_KEY,
    detail_text,
    split_input,
    storable_text,
    to_python,
)
from apps.records.defaults import apply_defaults
from apps.records.dictionary import (
    ColumnMeta,
    TableMeta,
    identifier_columns,
    table_meta,
)
from apps.records.registry import (
    RecordHooks,
    doc_action_handler,
    table_spec,
    table_spec_for_model,
)
from apps.records.selectors import lookup_q, scope_rows
from apps.records.versions import check_if_match, next_version

MAX_IDENTIFIER_PARTS = 12


def _typed(model: Any, attname: str, text: str) -> tuple[bool, Any]:
    """``text`` as a value of the column ``attname`` (False when it cannot be one)."""
    field = next(f for f in model._meta.concrete_fields if f.attname == attname)
    try:
        value = field.to_python(text)
        if value is not None and getattr(field, "max_length", None) and len(str(value)) > field.max_length:
            return False, None
        field.get_prep_value(value)
    except (ValidationError, ValueError, TypeError, ArithmeticError):
        return False, None
    return value is not None, value


def _splits(parts: list[str], count: int):
    """Every way to cut ``parts`` into ``count`` non-empty runs joined back with ``_``."""
    if count == 1:
        yield ["_".join(parts)]
        return
    for cut in range(1, len(parts) - count + 2):
        for rest in _splits(parts[cut:], count - 1):
            yield ["_".join(parts[:cut]), *rest]


def _identifier_q(model: Any, attnames: list[str], text: str) -> Q:
    """Rows whose identifier is ``text``: one identifier column equal to it, or all of them equal to
    its ``_``-joined parts (the identifier as PO-JSON shows it). Never matches when nothing fits."""
    q = Q(pk__in=[])
    for attname in attnames:
        ok, value = _typed(model, attname, text)
        if ok:
            q |= Q(**{attname: value})
    parts = text.split("_")
    if len(attnames) > 1 and len(attnames) <= len(parts) <= MAX_IDENTIFIER_PARTS:
        for pieces in _splits(parts, len(attnames)):
            typed = [_typed(model, attname, piece) for attname, piece in zip(attnames, pieces, strict=True)]
            if all(ok for ok, _ in typed):
                q |= Q(**{attname: value for attname, (_, value) in zip(attnames, typed, strict=True)})
    return q


def _resolve_fk(ctx, col: ColumnMeta, value: Any) -> Any:
    """An id, a UUID, ``{id}``, ``{uid}`` or ``{identifier, tableName}`` → the target's primary key."""
    if value is None or value == "":
        return None
    model = col.target_model
    qs = model._base_manager.all()
    names = {f.name for f in model._meta.concrete_fields}
    if "client" in names:
        qs = qs.filter(client_id__in=[ctx.client_id, 0])
    if model is Organization:
        qs = qs.filter(client_id__in=[ctx.client_id, 0])
    spec = table_spec_for_model(model)
    if spec is not None:
        qs = scope_rows(ctx, table_meta(spec.table_name), qs)
    how = None
    if isinstance(value, dict):
        if value.get("id") is not None:
            value = value["id"]
        elif value.get("uid"):
            how = ("uid", value["uid"])
        elif value.get("identifier") is not None:
            table = value.get("tableName") or value.get("model-name")
            if table and str(table).lower() != col.target_table.lower():
                raise BadRequest(f"Column '{col.name}' refers to table '{col.target_table}', not '{table}'.")
            how = ("identifier", value["identifier"])
        else:
            raise BadRequest(f"Column '{col.name}': expected an id, a uid or an identifier.")
    if how is None:
        if isinstance(value, bool):
            raise BadRequest(f"Column '{col.name}': expected an id.")
        key = parse_id_or_key(value, f"Column '{col.name}'")
        how = ("pk", key) if isinstance(key, int) else ("uid", key)
    kind, key = how
    if not storable_text(str(key)):
        raise BadRequest(f"Column '{col.name}': NUL characters and lone surrogates are not allowed.")
    if kind == "pk":
        found = list(qs.filter(pk=key).values_list("pk", flat=True)[:2])
    elif kind == "uid":
        if "uid" not in names:
            raise BadRequest(f"Column '{col.name}': '{key}' is not an id.")
        try:
            found = list(qs.filter(uid=uuid.UUID(str(key))).values_list("pk", flat=True)[:2])
        except ValueError:
            raise BadRequest(f"Column '{col.name}': '{key}' is neither an id nor a UUID.") from None
    else:
        attnames = identifier_columns(model)
        if not attnames:
            raise BadRequest(f"Column '{col.name}': table '{col.target_table}' has no identifier.")
        found = list(qs.filter(_identifier_q(model, attnames, str(key))).values_list("pk", flat=True)[:2])
        if len(found) > 1:
            raise BadRequest(f"Column '{col.name}': identifier '{key}' is ambiguous.")
    if not found:
        raise BadRequest(f"Column '{col.name}': no record '{key}' in table '{col.target_table}'.")
    return found[0]


def _check_org(ctx, org_id: int | None) -> None:
    if org_id is None:
        return
    if org_id in ctx.read_only_org_ids:
        raise Forbidden(f"Your role has read-only access to organization {org_id}.")
    if org_id == 0:
        return
    orgs = ctx.visible_org_ids()
    if orgs is not None and org_id not in orgs:
        raise Forbidden(f"Your role may not write rows of organization {org_id}.")
    if not Organization.objects.filter(pk=org_id, client_id=ctx.client_id).exists():
        raise BadRequest(f"Column 'AD_Org_ID': no organization {org_id} in your client.")


def _apply(ctx, meta: TableMeta, obj: Any, columns: dict[ColumnMeta, Any]) -> None:
    fields = {f.attname: f for f in meta.model._meta.concrete_fields}
    for col, raw in columns.items():
        value = _resolve_fk(ctx, col, raw) if col.is_fk else to_python(col, raw)
        field = fields.get(col.attname)
        if value is None and field is not None and not field.null and field.blank and field.empty_strings_allowed:
            # null clears an optional text column; full_clean() skips blank values, so a None
            # would otherwise reach the NOT NULL constraint (IntegrityError).
            value = ""
        setattr(obj, col.attname, value)


def _clean(meta: TableMeta, obj: Any) -> None:
    try:
        obj.full_clean()
    except ValidationError as exc:
        by_field = {f.name: (f.db_column or f.column) for f in meta.model._meta.concrete_fields}
        detail = {
            by_field.get(name, name): " ".join(str(m) for m in messages)
            for name, messages in exc.message_dict.items()
        }
        raise BadRequest(detail, code="invalid_record") from exc


def _writable_table(ctx, meta: TableMeta) -> None:
    access.check_write(ctx, meta.table_name)
    if not meta.has_client:
        raise Forbidden(f"Table '{meta.table_name}' is read-only.")


def _save(obj: Any) -> None:
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError as exc:
        raise Conflict(f"The record conflicts with an existing one: {exc.__class__.__name__}.") from exc


def _locks_parents(hooks: RecordHooks) -> bool:
    return type(hooks).lock_parents is not RecordHooks.lock_parents


def _for_write(
    ctx, meta: TableMeta, obj_or_id: Any, hooks: RecordHooks | None = None, parent: ParentRef | None = None
) -> Any:
    """The row to change, locked (its parents first, see ``RecordHooks.lock_parents``); other
    client's (or invisible) rows → 404, System rows → 403, rows of a read-only org → 403.
    With ``parent``, only a detail row of that parent is found (another parent's → 404)."""
    pk = obj_or_id.pk if isinstance(obj_or_id, meta.model) else obj_or_id
    if isinstance(pk, (dict, list, bool, float)) or pk is None:
        raise BadRequest(f"'{meta.table_name}': expected a record id or uid.")
    scoped = scope_rows(ctx, meta, meta.model._default_manager.all())
    if parent is not None:
        scoped = scoped.filter(**{parent.fk_attname: parent.pk})
    row_q = lookup_q(meta, pk)
    if hooks is not None and _locks_parents(hooks):
        unlocked = scoped.filter(row_q).first()
        if unlocked is None:
            raise NotFound(f"No record '{pk}' in table '{meta.table_name}'.")
        hooks.lock_parents(ctx, unlocked)
        row_q = Q(pk=unlocked.pk)
    found = scoped.select_for_update().filter(row_q).first()
    if found is None:
        raise NotFound(f"No record '{pk}' in table '{meta.table_name}'.")
    if meta.has_client and found.client_id != ctx.client_id:
        raise Forbidden(f"Record {found.pk} belongs to the System client and is read-only.")
    if meta.has_org and found.org_id in ctx.read_only_org_ids:
        raise Forbidden(f"Your role has read-only access to organization {found.org_id}.")
    return found


@dataclass(frozen=True)
class ParentRef:
    """The master row a detail row is written under (child arrays of a POST or PUT)."""

    fk_attname: str  # e.g. "order_id"
    fk_column: str  # e.g. "C_Order_ID"
    pk: Any


@dataclass
class WrittenDetail:
    """A detail row a POST or PUT added or changed, with the detail rows written under it."""

    table_name: str
    obj: Any
    details: WrittenDetails = field(default_factory=dict)


# Detail rows a write added or changed, by detail table name, in the order of the body's arrays
# (deleted rows are not in it). The API answers them under the same keys, as iDempiere does.
WrittenDetails = dict[str, list[WrittenDetail]]


def _note(written: WrittenDetails | None, table_name: str, obj: Any, details: WrittenDetails) -> None:
    if written is not None:
        written.setdefault(table_name, []).append(WrittenDetail(table_name, obj, details))


@contextmanager
def _detail_errors(table_name: str, index: int):
    """A refused detail row fails the whole write, its answer naming the row: ``C_OrderLine[1]: ...``."""
    try:
        yield
    except ApplicationError as exc:
        exc.detail = f"{table_name}[{index}]: {detail_text(exc.detail)}"
        raise


def _check_detail_item(child_table: str, item: dict[str, Any]) -> tuple[bool, Any]:
    """``(delete it, its id or uid)`` of one item of a detail array."""
    deleting = item.get(DELETE_KEY, False)
    if not isinstance(deleting, bool):
        raise BadRequest(f"'{DELETE_KEY}' must be true or false.")
    ident = item.get("id")
    if ident is None:
        ident = item.get("uid")
    if deleting and ident is None:
        raise BadRequest(f"'{DELETE_KEY}' needs the id of the {child_table} row to delete.")
    return deleting, ident


def _detail_edits(
    ctx, meta: TableMeta, parent: Any, children: dict[str, list[dict[str, Any]]], written: WrittenDetails | None
) -> None:
    """Child arrays of a PUT: rows without id are added, rows with id changed, rows with
    ``"(delete)": true`` deleted; each only among the parent's own detail rows."""
    if children and getattr(parent, "processed", False):
        raise Conflict(f"Record {parent.pk} of '{meta.table_name}' is processed: its detail rows cannot change.")
    for child_table, items in children.items():
        child = meta.children[child_table.lower()]
        ref = ParentRef(fk_attname=child.fk_attname, fk_column=child.fk_column, pk=parent.pk)
        for index, item in enumerate(items):
            with _detail_errors(child.table_name, index):
                deleting, ident = _check_detail_item(child.table_name, item)
                if_match = item.get(ETAG_KEY)
                if deleting:
                    record_delete(ctx, child.table_name, ident, if_match=if_match, _parent=ref)
                    continue
                nested: WrittenDetails = {}
                if ident is not None:
                    row = record_update(
                        ctx, child.table_name, ident, item, if_match=if_match, written=nested, _parent=ref
                    )
                else:
                    row = record_create(ctx, child.table_name, item, written=nested, _parent=ref)
                _note(written, child.table_name, row, nested)


@transaction.atomic
def record_create(
    ctx,
    table_name: str,
    values: dict[str, Any],
    *,
    written: WrittenDetails | None = None,
    _parent: ParentRef | None = None,
):
    """Insert a row of ``table_name`` (with any detail arrays) for the caller's client; returns it.

    ``written``, when given, is filled with the detail rows the body's arrays created."""
    spec = table_spec(table_name)
    meta = table_meta(spec.table_name)
    _writable_table(ctx, meta)
    columns, children = split_input(meta, values, creating=True)
    obj = meta.model()
    obj.client_id = ctx.client_id
    _apply(ctx, meta, obj, columns)
    given = {col.name for col in columns}
    if _parent is not None:
        setattr(obj, _parent.fk_attname, _parent.pk)
        given.add(_parent.fk_column)
    apply_defaults(ctx, meta, obj, given)
    if meta.has_org:
        _check_org(ctx, obj.org_id)
    obj.created_by_id = ctx.user_id
    obj.updated_by_id = ctx.user_id
    spec.hooks.before_save(ctx, obj, creating=True)
    _clean(meta, obj)
    _save(obj)
    spec.hooks.after_save(ctx, obj, created=True)
    for child_table, items in children.items():
        child = meta.children[child_table.lower()]
        ref = ParentRef(fk_attname=child.fk_attname, fk_column=child.fk_column, pk=obj.pk)
        for index, item in enumerate(items):
            with _detail_errors(child.table_name, index):
                nested: WrittenDetails = {}
                row = record_create(ctx, child.table_name, item, written=nested, _parent=ref)
                _note(written, child.table_name, row, nested)
    if children:
        obj.refresh_from_db()
    return obj


@transaction.atomic
def record_update(
    ctx,
    table_name: str,
    obj_or_id,
    values: dict[str, Any],
    *,
    if_match: str | None = None,
    written: WrittenDetails | None = None,
    _parent: ParentRef | None = None,
):
    """Change the given columns, then the detail arrays (add / change / ``"(delete)": true``);
    a ``doc-action`` key then runs that document action. All or nothing.

    ``if_match`` (the ``If-Match`` header, or the body's ``@odata.etag``): the row's ETag as the
    caller read it; checked under the row lock, 412 when the row changed since. ``written``, when
    given, is filled with the detail rows the body's arrays added or changed."""
    spec = table_spec(table_name)
    meta = table_meta(spec.table_name)
    _writable_table(ctx, meta)
    if not isinstance(values, dict):
        raise BadRequest("The body must be a JSON object.")
    action = values.get("doc-action")
    handler = None
    if action is not None:
        handler = doc_action_handler(meta.table_name, str(action))
        if handler is None:
            raise BadRequest(f"Unknown document action '{action}' for table '{meta.table_name}'.")
    if if_match is None:
        if_match = values.get(ETAG_KEY)
    obj = _for_write(ctx, meta, obj_or_id, spec.hooks, _parent)
    check_if_match(if_match, obj, meta.table_name)
    columns, children = split_input(meta, values, creating=False)
    _apply(ctx, meta, obj, columns)
    if _parent is not None and getattr(obj, _parent.fk_attname) != _parent.pk:
        raise BadRequest(f"A {meta.table_name} row cannot move to another {_parent.fk_column}.")
    if meta.has_org and any(c.name == "AD_Org_ID" for c in columns):
        _check_org(ctx, obj.org_id)
    obj.updated_by_id = ctx.user_id
    spec.hooks.before_save(ctx, obj, creating=False)
    _clean(meta, obj)
    next_version(obj)
    _save(obj)
    spec.hooks.after_save(ctx, obj, created=False)
    if children:
        _detail_edits(ctx, meta, obj, children, written)
        obj.refresh_from_db()
    if handler is not None:
        obj = handler(ctx, obj) or obj
    return obj


@transaction.atomic
def record_delete(
    ctx, table_name: str, obj_or_id, *, if_match: str | None = None, _parent: ParentRef | None = None
) -> None:
    """Delete a row; with ``if_match``, only if it is still the version the caller read (else 412)."""
    spec = table_spec(table_name)
    meta = table_meta(spec.table_name)
    _writable_table(ctx, meta)
    obj = _for_write(ctx, meta, obj_or_id, spec.hooks, _parent)
    check_if_match(if_match, obj, meta.table_name)
    spec.hooks.before_delete(ctx, obj)
    try:
        with transaction.atomic():
            obj.delete()
    except (ProtectedError, IntegrityError):
        raise Conflict(f"Record {obj.pk} of '{meta.table_name}' is still referenced.") from None
    spec.hooks.after_delete(ctx, obj)
