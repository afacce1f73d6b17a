"""Column metadata of registered tables, derived from Django ``_meta`` and cached in-process.

Nothing here queries the database: the API reads this on every request. ``reset_meta_cache`` (called
by DELETE /caches and by the registry) drops it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import models

ROW_VERSION = "row_version"
SYSTEM_COLUMNS = {"AD_Client_ID", "Created", "CreatedBy", "Updated", "UpdatedBy"}

_META_CACHE: dict[str, TableMeta] = {}
_STATS = {"hits": 0, "generation": 0}


def dictionary_generation() -> int:
    """Bumped whenever cached metadata is dropped: what was compiled from it is stale."""
    return _STATS["generation"]


@dataclass(frozen=True)
class ColumnMeta:
    name: str  # db_column, e.g. "C_BP_Group_ID"
    field: models.Field
    attname: str  # model attribute for the raw value (bp_group_id)
    data_type: str  # String, Text, Integer, Number, Amount, YesNo, Date, DateTime, UUID, List, TableDir, ID
    label: str
    mandatory: bool
    updatable: bool
    identifier: bool
    secret: bool
    is_key: bool = False
    target_model: Any = None  # FK target model
    choices: tuple[tuple[str, str], ...] = ()
    max_length: int = 0
    default: Any = None  # apps.records.defaults.ColumnDefault, applied on create

    @property
    def is_fk(self) -> bool:
        return self.target_model is not None

    @property
    def is_list(self) -> bool:
        return bool(self.choices)

    @property
    def target_table(self) -> str:
        return self.target_model._meta.db_table if self.target_model is not None else ""


@dataclass(frozen=True)
class ChildMeta:
    table_name: str  # the child table, e.g. "C_OrderLine"
    model: Any
    fk_attname: str  # e.g. "order_id" on the child
    fk_name: str  # e.g. "order"
    fk_column: str  # e.g. "C_Order_ID"
    accessor: str  # reverse accessor on the parent


@dataclass
class TableMeta:
    table_name: str
    model: Any
    columns: dict[str, ColumnMeta] = field(default_factory=dict)  # by exact name
    by_lower: dict[str, ColumnMeta] = field(default_factory=dict)
    children: dict[str, ChildMeta] = field(default_factory=dict)  # by lower child table name
    identifier: tuple[str, ...] = ()
    has_client: bool = False
    has_org: bool = False

    def column(self, name: str) -> ColumnMeta | None:
        found = self.columns.get(name)
        if found is None:
            found = self.by_lower.get(name.lower())
        return found

    @property
    def pk(self) -> ColumnMeta:
        return self.by_lower["id"]

    def public_columns(self) -> list[ColumnMeta]:
        """Columns that appear in PO-JSON (no key, no UU, no secrets)."""
        return [c for c in self.columns.values() if not c.secret and not c.is_key]


def _data_type(f: models.Field) -> str:
    if f.primary_key:
        return "ID"
    if isinstance(f, models.ForeignKey):
        return "TableDir"
    if f.choices:
        return "List"
    if isinstance(f, models.BooleanField):
        return "YesNo"
    if isinstance(f, models.DateTimeField):
        return "DateTime"
    if isinstance(f, models.DateField):
        return "Date"
    if isinstance(f, models.DecimalField):
        return "Amount"
    if isinstance(f, models.FloatField):
        return "Number"
    if isinstance(f, (models.IntegerField, models.AutoField)):
        return "Integer"
    if isinstance(f, models.UUIDField):
        return "UUID"
    if isinstance(f, models.TextField):
        return "Text"
    return "String"


def _label(f: models.Field) -> str:
    text = str(f.verbose_name or f.name)
    if text == text.lower():
        text = text.replace("_", " ").title()
    return text


def build_table_meta(model: Any, *, identifier=(), secret=(), read_only=(), defaults=None) -> TableMeta:
    table_name = model._meta.db_table
    meta = TableMeta(table_name=table_name, model=model, identifier=tuple(identifier))
    secret_l = {s.lower() for s in secret}
    read_only_l = {s.lower() for s in read_only}
    ident_l = {s.lower() for s in identifier}
    for f in model._meta.concrete_fields:
        if f.attname == ROW_VERSION:
            continue  # served as the ETag, never as a column (apps.records.versions)
        name = f.db_column or f.column
        is_key = bool(f.primary_key)
        is_uu = isinstance(f, models.UUIDField) and name == f"{table_name}_UU"
        updatable = (
            f.editable
            and not is_key
            and not is_uu
            and name not in SYSTEM_COLUMNS
            and name.lower() not in read_only_l
        )
        col = ColumnMeta(
            name=name,
            field=f,
            attname=f.attname,
            data_type=_data_type(f),
            label=_label(f),
            mandatory=not f.null and not f.blank and not f.has_default() and not is_key,
            updatable=updatable,
            identifier=name.lower() in ident_l,
            secret=name.lower() in secret_l,
            is_key=is_key or is_uu,
            target_model=f.related_model if isinstance(f, models.ForeignKey) else None,
            choices=tuple((str(k), str(v)) for k, v in (f.flatchoices or [])) if f.choices else (),
            max_length=getattr(f, "max_length", None) or 0,
        )
        meta.columns[name] = col
        meta.by_lower[name.lower()] = col
        if name == "AD_Client_ID":
            meta.has_client = True
        if name == "AD_Org_ID":
            meta.has_org = True
        if is_key:
            meta.by_lower["id"] = col
        if is_uu:
            meta.by_lower["uid"] = col
    _attach_defaults(meta, defaults or {})
    return meta


def _attach_defaults(meta: TableMeta, declared: dict[str, str]) -> None:
    from apps.records.defaults import ORG_DEFAULT, parse_default

    declared = dict(declared)
    if meta.has_org:
        declared.setdefault("AD_Org_ID", ORG_DEFAULT)
    for name, expression in declared.items():
        col = meta.column(name)
        if col is None:
            raise ImproperlyConfigured(f"Default for unknown column {meta.table_name}.{name}.")
        col = replace(col, default=parse_default(meta.table_name, col, expression))
        meta.columns[col.name] = col
        meta.by_lower[col.name.lower()] = col


def table_meta(table_name: str) -> TableMeta:
    """Metadata of a registered table (raises NotFound for an unknown one)."""
    key = table_name.lower()
    found = _META_CACHE.get(key)
    if found is not None:
        _STATS["hits"] += 1
        return found
    from apps.records.registry import all_table_specs, table_spec

    spec = table_spec(table_name)
    meta = build_table_meta(
        spec.model, identifier=spec.identifier, secret=spec.secret, read_only=spec.read_only,
        defaults=spec.defaults,
    )
    registered = {s.model: s for s in all_table_specs()}
    for rel in spec.model._meta.related_objects:
        if not rel.one_to_many or rel.related_model not in registered:
            continue
        child_spec = registered[rel.related_model]
        if child_spec.key in meta.children:
            continue
        fk = rel.field
        meta.children[child_spec.key] = ChildMeta(
            table_name=child_spec.table_name,
            model=rel.related_model,
            fk_attname=fk.attname,
            fk_name=fk.name,
            fk_column=fk.db_column or fk.column,
            accessor=rel.get_accessor_name(),
        )
    _META_CACHE[key] = meta
    return meta


def identifier_columns(model: Any) -> list[str]:
    """Attribute names that make up a row's identifier (registered spec, else Name/Value/username)."""
    from apps.records.registry import table_spec_for_model

    spec = table_spec_for_model(model)
    attnames: list[str] = []
    if spec is not None:
        meta = table_meta(spec.table_name)
        for ident in spec.identifier:
            col = meta.column(ident)
            if col is not None and not col.secret:
                attnames.append(col.attname)
    if not attnames:
        names = {f.name for f in model._meta.concrete_fields}
        for candidate in ("name", "username", "value", "document_no"):
            if candidate in names:
                attnames.append(candidate)
                break
    return attnames


def reset_meta_cache() -> int:
    size = len(_META_CACHE)
    _META_CACHE.clear()
    _STATS["generation"] += 1
    return size


def reset_table_meta(table_name: str) -> int:
    """Drop one table's cached metadata; 1 if an entry was there, else 0."""
    _STATS["generation"] += 1
    return int(_META_CACHE.pop(table_name.lower(), None) is not None)


def meta_cache_size() -> int:
    return len(_META_CACHE)
