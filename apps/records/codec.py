"""PO-JSON both ways (seed 002): records → JSON, and request values → model attribute values."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from apps.core import wire
from apps.core.errors import BadRequest
from apps.records.dictionary import ColumnMeta, TableMeta, identifier_columns

DELETE_KEY = "(delete)"  # a detail row of a PUT to delete
ETAG_KEY = "@odata.etag"  # the row's ETag as read, in a body: the same as If-Match
IGNORED_INPUT_KEYS = {"id", "uid", "model-name", "doc-action", DELETE_KEY, ETAG_KEY}
# Sent beside the columns by iDempiere's Postman collection (POST and PUT bodies): ignored, unless
# the table has a column of that name.
TABLE_NAME_KEY = "tablename"


def out_name(name: str, lower: bool) -> str:
    """REST_COLUMNNAME_TOLOWERCASE: lower the first letter of names without ``_``."""
    if lower and "_" not in name and name:
        return name[0].lower() + name[1:]
    return name


def scalar(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if timezone.is_aware(value):
            value = value.astimezone(dt.UTC)
            return value.isoformat().replace("+00:00", "Z")
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and abs(value) < 2**53 else float(value)
    return value


def list_value(col: ColumnMeta, code: Any) -> dict[str, Any] | None:
    if code is None or code == "":
        return None
    labels = dict(col.choices)
    return {
        "propertyLabel": col.label,
        "id": code,
        "identifier": labels.get(str(code), str(code)),
        "model-name": "ad_ref_list",
    }


def fk_value(col: ColumnMeta, pk: Any, identifier: str | None) -> dict[str, Any] | None:
    if pk is None:
        return None
    return {
        "propertyLabel": col.label,
        "id": pk,
        "identifier": identifier if identifier is not None else str(pk),
        "model-name": col.target_table.lower(),
    }


def identifier_of(obj: Any) -> str:
    parts = [getattr(obj, attname, None) for attname in identifier_columns(type(obj))]
    parts = [str(scalar(p)) for p in parts if p not in (None, "")]
    return "_".join(parts) if parts else str(obj.pk)


# --- input ------------------------------------------------------------------------------------------
def storable_text(text: str) -> bool:
    """No NUL and no lone surrogate (JSON's "\\ud800"): text every database can store."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def detail_text(detail: Any) -> str:
    """A problem's detail as one readable sentence (``{"Name": "..."}`` → ``Name: ...``)."""
    if isinstance(detail, dict):
        return "; ".join(f"{key}: {detail_text(value)}" for key, value in detail.items())
    if isinstance(detail, (list, tuple)):
        return " ".join(detail_text(item) for item in detail)
    return str(detail)


def _column_error(col_name: str, message: str) -> BadRequest:
    return BadRequest(f"Column '{col_name}': {message}", code="invalid_value")


def to_python(col: ColumnMeta, value: Any) -> Any:
    """A JSON value for ``col`` → the model's Python value (FKs are resolved elsewhere)."""
    if value is None:
        return None
    data_type = col.data_type
    if data_type == "YesNo":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().upper() in {"Y", "N", "TRUE", "FALSE"}:
            return value.strip().upper() in {"Y", "TRUE"}
        raise _column_error(col.name, "expected true or false.")
    if data_type == "List":
        if isinstance(value, dict):
            value = value.get("id", value.get("value"))
        code = str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else None
        if code is None or code not in dict(col.choices):
            allowed = ", ".join(k for k, _ in col.choices)
            raise _column_error(col.name, f"'{value}' is not one of {allowed}.")
        return code
    if data_type in {"Integer"}:
        if isinstance(value, bool):
            raise _column_error(col.name, "expected an integer.")
        try:
            number = wire.parse_decimal(value, col.name)
        except BadRequest:
            raise _column_error(col.name, "expected an integer.") from None
        if not number.is_finite() or number != number.to_integral_value() or abs(number) > 2**62:
            raise _column_error(col.name, "expected an integer.")
        return int(number)
    if data_type in {"Amount", "Number"}:
        if isinstance(value, bool):
            raise _column_error(col.name, "expected a number.")
        try:
            number = wire.parse_decimal(value, col.name)
        except BadRequest:
            raise _column_error(col.name, "expected a number.") from None
        if not number.is_finite():
            raise _column_error(col.name, "expected a number.")
        return float(number) if data_type == "Number" else number
    if data_type == "Date":
        parsed = None
        if isinstance(value, str):
            try:
                parsed = parse_date(value.strip())
                if parsed is None and parse_datetime(value.strip()):
                    parsed = parse_datetime(value.strip()).date()
            except ValueError:
                parsed = None
        if parsed is None:
            raise _column_error(col.name, "expected a date 'YYYY-MM-DD'.")
        return parsed
    if data_type == "DateTime":
        parsed = None
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value.strip())
                if parsed is None:
                    day = parse_date(value.strip())
                    parsed = dt.datetime(day.year, day.month, day.day) if day else None
            except ValueError:
                parsed = None
        if parsed is None:
            raise _column_error(col.name, "expected a timestamp 'YYYY-MM-DDTHH:MM:SSZ'.")
        if timezone.is_naive(parsed):
            parsed = parsed.replace(tzinfo=dt.UTC)
        try:
            return parsed.astimezone(dt.UTC)
        except OverflowError:
            raise _column_error(col.name, "the timestamp is out of range.") from None
    if data_type == "UUID":
        try:
            return uuid.UUID(str(value))
        except ValueError:
            raise _column_error(col.name, "expected a UUID.") from None
    if isinstance(value, (dict, list, bool)):
        raise _column_error(col.name, "expected text.")
    text = str(value)
    if "\x00" in text:
        raise _column_error(col.name, "NUL characters are not allowed.")
    if not storable_text(text):
        raise _column_error(col.name, "the text is not valid Unicode (a lone surrogate).")
    if col.max_length and len(text) > col.max_length:
        raise _column_error(col.name, f"at most {col.max_length} characters.")
    return text


def split_input(
    meta: TableMeta, values: dict[str, Any], *, creating: bool
) -> tuple[dict[ColumnMeta, Any], dict[str, list[dict[str, Any]]]]:
    """Request keys → ``{column: raw value}`` and child arrays; unknown/non-updatable → 400."""
    if not isinstance(values, dict):
        raise BadRequest("The body must be a JSON object.")
    columns: dict[ColumnMeta, Any] = {}
    children: dict[str, list[dict[str, Any]]] = {}
    for key, value in values.items():
        if not isinstance(key, str):
            raise BadRequest("Column names must be strings.")
        if key.lower() in IGNORED_INPUT_KEYS:
            continue
        if key.lower() == TABLE_NAME_KEY and meta.column(key) is None:
            continue
        child = meta.children.get(key.lower())
        if child is not None and isinstance(value, list):
            if not all(isinstance(item, dict) for item in value):
                raise BadRequest(f"'{key}' must be an array of objects.")
            children[child.table_name] = value
            continue
        col = meta.column(key)
        if col is None or (col.is_key and col.name != "AD_Org_ID"):
            raise BadRequest(f"Unknown column '{key}' in table '{meta.table_name}'.", code="unknown_column")
        if not col.updatable:
            raise BadRequest(f"Column '{col.name}' is not updatable.", code="not_updatable")
        columns[col] = value
    return columns, children
