"""Keep the dictionary rows (AD_Table, AD_Column, AD_Reference, AD_Ref_List) in step with the registry.

Runs after ``migrate`` (post_migrate) and lazily once per process before the first dictionary read;
idempotent: rows are updated in place, columns that disappeared are removed.
"""

from __future__ import annotations

import threading

from django.db import transaction

from apps.records.dictionary import table_meta
from apps.records.registry import all_table_specs

_SYNCED = {"done": False}
_LOCK = threading.Lock()


def _reference_for(col, names_taken: dict[str, tuple]) -> object:
    from apps.records.models import Reference, RefList

    name = col.name
    if name in names_taken and names_taken[name] != col.choices:
        name = f"{col.name} ({col.field.model._meta.db_table})"
    names_taken[name] = col.choices
    ref, _ = Reference.objects.update_or_create(
        name=name, defaults={"validation_type": "L", "description": f"Values of {col.name}"}
    )
    keep = []
    for seq, (value, label) in enumerate(col.choices, start=1):
        RefList.objects.update_or_create(
            reference=ref, value=value, defaults={"name": label, "seq_no": seq * 10}
        )
        keep.append(value)
    RefList.objects.filter(reference=ref).exclude(value__in=keep).delete()
    return ref


@transaction.atomic
def sync_dictionary() -> int:
    """Write the registry's tables and columns as rows; returns the number of tables."""
    from apps.records.models import Column, Table

    names_taken: dict[str, tuple] = {}
    specs = all_table_specs()
    for spec in specs:
        meta = table_meta(spec.table_name)
        table, _ = Table.objects.update_or_create(
            table_name=spec.table_name,
            defaults={
                "name": str(spec.model._meta.verbose_name).title(),
                "description": spec.description[:255],
                "access_level": "3" if meta.has_client else "4",
                "app_label": spec.model._meta.app_label,
            },
        )
        keep = []
        for seq, col in enumerate(meta.columns.values(), start=1):
            ref = _reference_for(col, names_taken) if col.is_list else None
            Column.objects.update_or_create(
                table=table,
                column_name=col.name,
                defaults={
                    "name": col.label,
                    "data_type": col.data_type,
                    "reference": ref,
                    "reference_table": col.target_table,
                    "field_length": col.max_length,
                    "seq_no": seq * 10,
                    "is_key": col.is_key,
                    "is_mandatory": col.mandatory,
                    "is_updatable": col.updatable,
                    "is_identifier": col.identifier,
                    "is_secret": col.secret,
                    "default_value": col.default.expression if col.default else "",
                    "default_kind": col.default.kind if col.default else "",
                },
            )
            keep.append(col.name)
        Column.objects.filter(table=table).exclude(column_name__in=keep).delete()
    Table.objects.exclude(table_name__in=[s.table_name for s in specs]).delete()
    _SYNCED["done"] = True
    return len(specs)


def ensure_synced(*, check: bool = False) -> None:
    """Sync once per process when rows are missing (``check`` looks again even if done)."""
    if _SYNCED["done"] and not check:
        return
    from apps.records.models import Table

    with _LOCK:
        if _SYNCED["done"] and not check:
            return
        registered = {s.table_name for s in all_table_specs()}
        existing = set(Table.objects.values_list("table_name", flat=True))
        if registered - existing:
            sync_dictionary()
        _SYNCED["done"] = True


def reset_synced() -> None:
    _SYNCED["done"] = False


def post_migrate_sync(sender, **kwargs) -> None:
    if getattr(sender, "label", None) != "records":
        return
    sync_dictionary()
