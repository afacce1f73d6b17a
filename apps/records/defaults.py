"""Column defaults of the data dictionary (``AD_Column.DefaultValue``), applied when a row is created.

A table declares them at registration (``register_table(..., defaults={...})``), one expression
per column, in iDempiere's notation:

* ``5``, ``DR``, ``Y`` -- a constant, read as a value of the column;
* ``@#AD_Org_ID@``, ``@#M_Warehouse_ID@``, ``@#AD_User_ID@``, ``@#AD_Client_ID@``,
  ``@#AD_Role_ID@``, ``@#Date@`` -- a variable of the caller's login context (``#Date``: today,
  or now for a timestamp column);
* ``@IsDefault@`` -- on a foreign key: the caller's client's active row flagged ``IsDefault`` in the
  referenced table;
* ``@Sequence=Name@`` -- the next value of the client's sequence ``Name`` (AD_Sequence: per
  client, prefix and suffix, drawn under a row lock in the create's transaction, so concurrent
  creates never share a number and a rolled-back create gives its number back);
* ``@Derived: how@`` -- computed by the table's own hooks before the save (e.g. an order's
  document number from its document type's sequence); shown in the dictionary, not evaluated here.

Every table with ``AD_Org_ID`` defaults it to ``@#AD_Org_ID@`` unless it says otherwise.
Defaults fill only the columns the request does not name (an explicit value, null included, wins)
and run before the table's hooks and validation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

CONSTANT, CONTEXT, IS_DEFAULT, SEQUENCE, DERIVED = "Constant", "Context", "IsDefault", "Sequence", "Derived"
KINDS = (CONSTANT, CONTEXT, IS_DEFAULT, SEQUENCE, DERIVED)
CONTEXT_VARIABLES = {"AD_Org_ID", "M_Warehouse_ID", "AD_User_ID", "AD_Client_ID", "AD_Role_ID", "Date"}
ORG_DEFAULT = "@#AD_Org_ID@"

_CONTEXT = re.compile(r"^@#([A-Za-z_]+)@$")
_SEQUENCE = re.compile(r"^@Sequence=([^@]{1,60})@$")
_DERIVED = re.compile(r"^@Derived:\s*([^@]{1,200})@$")


@dataclass(frozen=True)
class ColumnDefault:
    kind: str
    expression: str  # as declared, e.g. "@#AD_Org_ID@"; AD_Column.DefaultValue
    argument: str = ""  # the constant, the variable, the sequence name or the explanation


def parse_default(table_name: str, column: Any, expression: str) -> ColumnDefault:
    """A declared expression → its kind; a malformed one is a programming error (at start-up)."""
    text = str(expression)
    where = f"{table_name}.{column.name}"
    if match := _CONTEXT.match(text):
        if match.group(1) not in CONTEXT_VARIABLES:
            raise ImproperlyConfigured(f"{where}: unknown context variable in default {text!r}.")
        return ColumnDefault(CONTEXT, text, match.group(1))
    if text == "@IsDefault@":
        if not column.is_fk or not any(f.attname == "is_default" for f in column.target_model._meta.fields):
            raise ImproperlyConfigured(f"{where}: @IsDefault@ needs a foreign key to a table with IsDefault.")
        return ColumnDefault(IS_DEFAULT, text)
    if match := _SEQUENCE.match(text):
        return ColumnDefault(SEQUENCE, text, match.group(1).strip())
    if match := _DERIVED.match(text):
        return ColumnDefault(DERIVED, text, match.group(1).strip())
    if text.startswith("@"):
        raise ImproperlyConfigured(f"{where}: unknown default {text!r}.")
    return ColumnDefault(CONSTANT, text, text)


def _context_value(ctx, col, name: str) -> Any:
    if name == "Date":
        return timezone.now() if col.data_type == "DateTime" else timezone.localdate()
    value = ctx.as_variables()[f"#{name}"]
    if col.is_fk and value == 0 and name != "AD_Org_ID":
        return None  # no warehouse (or user) in the login context: leave the column empty
    return value


def _default_row(ctx, col) -> Any:
    model = col.target_model
    qs = model._default_manager.filter(is_default=True)
    if any(f.attname == "client_id" for f in model._meta.fields):
        qs = qs.filter(client_id=ctx.client_id)
    if any(f.attname == "is_active" for f in model._meta.fields):
        qs = qs.filter(is_active=True)
    return qs.order_by("pk").values_list("pk", flat=True).first()


def default_value(ctx, col, default: ColumnDefault) -> Any:
    """The value ``default`` gives ``col`` for the caller (None: nothing to fill in)."""
    from apps.records.codec import to_python
    from apps.records.registry import sequence_next

    if default.kind == CONTEXT:
        return _context_value(ctx, col, default.argument)
    if default.kind == IS_DEFAULT:
        return _default_row(ctx, col)
    if default.kind == SEQUENCE:
        return sequence_next(ctx.client_id, default.argument)
    if default.kind == CONSTANT:
        return int(default.argument) if col.is_fk else to_python(col, default.argument)
    return None


def apply_defaults(ctx, meta, obj: Any, given: set[str]) -> None:
    """Fill every defaulted column of a new row that the request did not name."""
    for col in meta.columns.values():
        default = col.default
        if default is None or default.kind == DERIVED or col.name in given:
            continue
        value = default_value(ctx, col, default)
        if value is not None:
            setattr(obj, col.attname, value)
