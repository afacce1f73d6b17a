"""The workflow's only door to the records it runs on (``apps.records``).

Records are found through the records registry (never by importing the app that owns the table),
written through ``apps.records.services.record_update`` (so hooks, totals, audit columns and caches
stay right), and transition conditions are parsed by the records query language into a ``Q`` that
the database evaluates against the one record: no ``eval``.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django.db import models

from apps.core.errors import BadRequest, NotFound


def table_model(table_name: str) -> type[models.Model]:
    from apps.records.registry import table_spec

    return table_spec(table_name).model


def canonical_table_name(table_name: str) -> str:
    from apps.records.registry import table_spec

    return table_spec(table_name).table_name


def record_get(table_name: str, record_id: int, *, client_id: int | None = None) -> Any:
    model = table_model(table_name)
    qs = model._default_manager.all()
    if client_id is not None and any(f.name == "client" for f in model._meta.concrete_fields):
        qs = qs.filter(client_id=client_id)
    obj = qs.filter(pk=record_id).first()
    if obj is None:
        raise NotFound(f"{table_name} record {record_id} not found.")
    return obj


def column_field(model: type[models.Model], column_name: str) -> models.Field:
    """The model field behind an API column name (its ``db_column``), case-insensitive."""
    wanted = column_name.lower()
    for field in model._meta.concrete_fields:
        if (field.db_column or field.attname).lower() == wanted or field.name.lower() == wanted:
            return field
    raise BadRequest(f"Column '{column_name}' does not exist in {model._meta.db_table}.")


def column_value(obj: Any, column_name: str) -> Any:
    field = column_field(type(obj), column_name)
    return getattr(obj, field.attname)


def column_choices(obj_or_model: Any, column_name: str) -> list[tuple[str, str]] | None:
    """The column's list values ``[(value, name)]``, or None for a free string column."""
    model = obj_or_model if isinstance(obj_or_model, type) else type(obj_or_model)
    field = column_field(model, column_name)
    if field.choices:
        return [(str(value), str(label)) for value, label in field.flatchoices]
    return None


def is_yes_no(model: type[models.Model], column_name: str) -> bool:
    return isinstance(column_field(model, column_name), models.BooleanField)


def is_string(model: type[models.Model], column_name: str) -> bool:
    return isinstance(column_field(model, column_name), (models.CharField, models.TextField))


def record_update(ctx: Any, table_name: str, obj: Any, values: dict[str, Any]) -> Any:
    from apps.records import services as record_services

    return record_services.record_update(ctx, table_name, obj, values)


def doc_action(ctx: Any, table_name: str, obj: Any, action: str) -> Any:
    """Run a document action registered with the records registry (e.g. erp's C_Order actions)."""
    from apps.records.registry import doc_action_handler

    handler = doc_action_handler(table_name, action)
    if handler is None:
        raise BadRequest(f"Document action '{action}' is not available on {table_name}.")
    return handler(ctx, obj)


def condition_q(table_name: str, condition: str) -> models.Q:
    """Parse a transition condition (records query language) into a ``Q``; bad syntax → 400."""
    from apps.records.dictionary import table_meta
    from apps.records.query import compile_filter

    return compile_filter(table_meta(table_name), condition, source="condition")


def condition_holds(table_name: str, obj: Any, condition: str) -> bool:
    """Does ``condition`` (records query language) hold for ``obj``, as stored in the database?"""
    if not condition.strip():
        return True
    model = type(obj)
    return model._default_manager.filter(pk=obj.pk).filter(condition_q(table_name, condition)).exists()


_PLACEHOLDER = re.compile(r"@([A-Za-z_][A-Za-z0-9_]*)@")


def fill_placeholders(text: str, obj: Any) -> str:
    """``@DocumentNo@`` → the record's column value (unknown names are left as they are)."""

    def replace(match: re.Match) -> str:
        try:
            value = column_value(obj, match.group(1))
        except BadRequest:
            return match.group(0)
        return "" if value is None else str(value)

    return _PLACEHOLDER.sub(replace, text)


def ad_table_ids(table_names: set[str]) -> dict[str, int]:
    """The data dictionary's AD_Table ids of some tables, by lower-case table name."""
    from apps.records.models import Table

    if not table_names:
        return {}
    wanted = {name.lower() for name in table_names}
    rows = Table.objects.filter(
        models.Q(*[models.Q(table_name__iexact=name) for name in wanted], _connector=models.Q.OR)
    ).values_list("table_name", "id")
    return {name.lower(): pk for name, pk in rows}


# The column a document's approval amount is read from (iDempiere's DocAction.getApprovalAmt(),
# which C_Order answers with GrandTotal). A table without it has no amount: any approver approves.
APPROVAL_AMOUNT_COLUMN = "GrandTotal"


def approval_amount(obj: Any) -> Decimal | None:
    """The document's amount to approve (its GrandTotal), or None when the table has none."""
    try:
        value = column_value(obj, APPROVAL_AMOUNT_COLUMN)
    except BadRequest:
        return None
    return None if value is None else Decimal(value)


def record_label(table_name: str, record_id: int) -> str:
    """How people name a record: ``C_Order 80001`` (DocumentNo, else the identifier, else the id)."""
    from apps.records.codec import identifier_of

    try:
        obj = record_get(table_name, record_id)
    except NotFound:
        return f"{table_name} #{record_id}"
    try:
        label = column_value(obj, "DocumentNo")
    except BadRequest:
        label = None
    return f"{table_name} {label or identifier_of(obj)}"
