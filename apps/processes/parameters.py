"""Process parameters on the wire: the body of ``POST /processes/{slug}`` → typed values.

As iDempiere REST: each parameter is a body member named like its column (``DateOrdered``); a
range parameter also takes ``<name>_to``; ``report-type``, ``record-id``, ``table-id``,
``model-name``, ``is-summary``, ``print-format-id`` and ``notification-type`` configure the run.
Any other member is refused (400), so a misspelt parameter is never silently ignored.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.core.context import RequestContext
from apps.core.errors import ApplicationError, BadRequest
from apps.processes.models import Process, ProcessPara, Reference
from apps.processes.rendering import REPORT_TYPES
from apps.records.selectors import read_queryset

RUN_OPTIONS = (
    "report-type", "record-id", "table-id", "model-name", "is-summary", "print-format-id",
    "notification-type",
)
RANGE_SUFFIX = "_to"
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_INTEGER = re.compile(r"-?[0-9]{1,18}")
_NUMBER = re.compile(r"-?[0-9]{1,20}(\.[0-9]{1,10})?")
MAX_TEXT = 2000


def _bad(para: ProcessPara, name: str, message: str) -> BadRequest:
    return BadRequest({name: message}, code="invalid_parameter")


def _date(para: ProcessPara, name: str, raw: Any) -> date | datetime:
    if not isinstance(raw, str):
        raise _bad(para, name, "Expected a date as text, e.g. 2026-03-01.")
    if para.reference == Reference.DATETIME:
        value = parse_datetime(raw) if raw.isascii() else None
        if value is None and _DATE.fullmatch(raw):
            value = datetime.fromisoformat(raw)
        if value is None:
            raise _bad(para, name, "Expected a date and time (ISO 8601).")
        return value if timezone.is_aware(value) else timezone.make_aware(value)
    text = raw[:10] if len(raw) > 10 and raw[10:11] in ("T", " ") else raw
    if not _DATE.fullmatch(text):
        raise _bad(para, name, "Expected a date, e.g. 2026-03-01.")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _bad(para, name, f"'{raw}' is no date.") from None


def _boolean(para: ProcessPara, name: str, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw in ("Y", "N", "true", "false"):
        return raw in ("Y", "true")
    raise _bad(para, name, "Expected true or false.")


def _integer(para: ProcessPara, name: str, raw: Any) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool) and abs(raw) < 10**18:
        return raw
    if isinstance(raw, str) and _INTEGER.fullmatch(raw):
        return int(raw)
    raise _bad(para, name, "Expected an integer.")


def _number(para: ProcessPara, name: str, raw: Any) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise _bad(para, name, "Expected a number.")
    text = repr(raw) if isinstance(raw, float) else str(raw)
    if not _NUMBER.fullmatch(text):
        raise _bad(para, name, "Expected a number (digits, an optional '.' and decimals).")
    try:
        return Decimal(text)
    except InvalidOperation:
        raise _bad(para, name, "Expected a number.") from None


def _record(ctx: RequestContext, para: ProcessPara, name: str, raw: Any) -> Any:
    if isinstance(raw, dict):
        raw = raw.get("id", raw.get("uid"))
    qs = read_queryset(ctx, para.ref_table)
    if isinstance(raw, int) and not isinstance(raw, bool) and 0 < raw < 2**63:
        found = qs.filter(pk=raw).first()
    elif isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) < 19:
        found = qs.filter(pk=int(raw)).first()
    elif isinstance(raw, str):
        try:
            found = qs.filter(uid=uuid.UUID(raw)).first()
        except ValueError:
            raise _bad(para, name, "Expected a record id or uuid.") from None
    else:
        raise _bad(para, name, "Expected a record id or uuid.")
    if found is None:
        raise _bad(para, name, f"No record '{raw}' in table '{para.ref_table}'.")
    return found


def _text(para: ProcessPara, name: str, raw: Any) -> str:
    if not isinstance(raw, str):
        raise _bad(para, name, "Expected text.")
    limit = para.field_length or MAX_TEXT
    if len(raw) > limit or "\x00" in raw:
        raise _bad(para, name, f"At most {limit} characters, no NUL.")
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        raise _bad(para, name, "Lone surrogates are not text.") from None
    return raw


def _value(ctx: RequestContext, para: ProcessPara, name: str, raw: Any) -> Any:
    kind = para.reference
    if kind in (Reference.DATE, Reference.DATETIME):
        return _date(para, name, raw)
    if kind == Reference.YES_NO:
        return _boolean(para, name, raw)
    if kind == Reference.INTEGER:
        return _integer(para, name, raw)
    if kind in (Reference.NUMBER, Reference.AMOUNT, Reference.QUANTITY):
        return _number(para, name, raw)
    if kind in (Reference.TABLE_DIRECT, Reference.SEARCH):
        return _record(ctx, para, name, raw)
    if kind == Reference.LIST:
        allowed = [str(item.get("value")) for item in para.list_values if isinstance(item, dict)]
        if not isinstance(raw, str) or raw not in allowed:
            raise _bad(para, name, f"Expected one of {allowed}.")
        return raw
    return _text(para, name, raw)


def _default(ctx: RequestContext, para: ProcessPara, text: str) -> Any:
    """A parameter's default: ``@#Date@``, ``@#AD_Org_ID@``-like context variables, or a constant."""
    if not text:
        return None
    if text in ("@#Date@", "@Date@"):
        today = timezone.localdate()
        return timezone.now() if para.reference == Reference.DATETIME else today
    if text.startswith("@") and text.endswith("@"):
        found = ctx.as_variables().get(text.strip("@"))
        return None if found in (None, 0) else _value(ctx, para, para.column_name, found)
    return _value(ctx, para, para.column_name, text)


def parameter_names(para: ProcessPara) -> list[str]:
    return [para.column_name, para.column_name + RANGE_SUFFIX] if para.is_range else [para.column_name]


def parameters_parse(ctx: RequestContext, process: Process, body: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(typed values, the body's parameter members as given)``; 400 on anything wrong."""
    if not isinstance(body, dict):
        raise BadRequest("The body must be a JSON object of parameters.")
    paras = list(process.parameters.filter(is_active=True).order_by("seq_no", "id"))
    known = {name for para in paras for name in parameter_names(para)}
    unknown = sorted(str(key) for key in body if key not in known and key not in RUN_OPTIONS)
    if unknown:
        raise BadRequest(
            {key: f"No such parameter; {process.slug} takes {sorted(known)}." for key in unknown[:20]},
            code="unknown_parameter",
        )
    typed: dict[str, Any] = {}
    given: dict[str, Any] = {}
    for para in paras:
        for index, name in enumerate(parameter_names(para)):
            raw = body.get(name)
            if raw is None or raw == "":
                default = para.default_value if index == 0 else para.default_value2
                try:
                    typed[name] = _default(ctx, para, default)
                except ApplicationError:
                    typed[name] = None
            else:
                typed[name] = _value(ctx, para, name, raw)
                given[name] = raw
        if para.is_mandatory and typed.get(para.column_name) is None:
            raise BadRequest({para.column_name: "This parameter is mandatory."}, code="missing_parameter")
    return typed, given


def report_type_parse(process: Process, body: Any) -> str:
    """``report-type`` of a report run: PDF (default), HTML or CSV, case-insensitive."""
    if not process.is_report:
        return ""
    raw = body.get("report-type") if isinstance(body, dict) else None
    if raw is None or raw == "":
        return "PDF"
    if not isinstance(raw, str) or raw.upper() not in REPORT_TYPES:
        raise BadRequest({"report-type": f"Expected one of {sorted(REPORT_TYPES)}."})
    return raw.upper()
