"""PO-JSON built by PostgreSQL: a whole page, its expansions and its identifiers in one statement.

:func:`selectors.record_list` renders rows in Python (``selectors.render``) everywhere; on
PostgreSQL, a plan whose every column this module can express is instead rendered by the database:
each row of the page comes back as the JSON text of its record, ``$expand``ed foreign keys and detail
rows included (correlated subqueries, scoped as ``selectors.load`` scopes them), identifiers too.
Python then only splices the texts into the envelope. The bytes differ from Python's rendering in
whitespace only; ``tests/records/test_sqljson.py`` holds the two renderings equal value for value.

What is not expressible (a decimal or boolean identifier part, a list column that is not text, more
columns than ``json_build_object`` takes) makes :func:`supports` answer False: the Python path
serves that request, as it serves SQLite.
"""

from __future__ import annotations

import re
from typing import Any

from django.db import connection, models
from django.db.models import F, Func, OuterRef, Subquery, TextField

from apps.records.codec import out_name
from apps.records.dictionary import ColumnMeta, TableMeta, identifier_columns

MAX_KEYS = 50  # json_build_object takes at most 100 arguments
_IDENTIFIER_FIELDS = (models.CharField, models.TextField, models.IntegerField, models.AutoField,
                      models.UUIDField, models.DateField)


def _literal(text: str) -> str:
    """A string as an SQL literal, safe inside a query that is %-formatted with its params."""
    return "'" + str(text).replace("'", "''").replace("%", "%%") + "'"


class _Sql(Func):
    """An expression from an SQL template over already-written pieces and compiled arguments:
    ``template`` has ``{0}``, ``{1}``... for the arguments' SQL."""

    output_field = TextField()

    def __init__(self, template: str, *expressions: Any):
        self.sql_template = template
        super().__init__(*expressions, output_field=TextField())

    def as_sql(self, compiler, connection, **extra):
        compiled = [compiler.compile(e) for e in self.get_source_expressions()]
        out, params = [], []
        for piece in _PLACEHOLDER.split(self.sql_template):
            if _PLACEHOLDER.fullmatch(piece):
                sql, more = compiled[int(piece[1:-1])]
                out.append(f"({sql})")
                params.extend(more)  # once per use: an argument may be used more than once
            else:
                out.append(piece)
        return "".join(out), params


_PLACEHOLDER = re.compile(r"(\{\d+\})")


def _json_object(pairs: list[tuple[str, Any]]) -> _Sql:
    template = "json_build_object(" + ", ".join(
        f"{_literal(key)}, {{{n}}}" for n, (key, _) in enumerate(pairs)
    ) + ")"
    return _Sql(template, *(value for _, value in pairs))


def _fk_object(col: ColumnMeta, identifier_sql: str) -> str:
    return (f"json_build_object('propertyLabel', {_literal(col.label)}, 'id', {{0}}, "
            f"'identifier', {identifier_sql}, 'model-name', {_literal(col.target_table.lower())})")


def _column_value(ctx, plan: Any, col: ColumnMeta, lower: bool) -> Any:
    from apps.records.selectors import scope_rows

    field = col.field
    value = F(col.attname)
    if col.is_fk:
        target_rows = col.target_model._base_manager.filter(pk=OuterRef(col.attname)).order_by()
        if col.name in plan.fk_expands:
            target_plan = plan.fk_expands[col.name]
            scoped = scope_rows(ctx, target_plan.meta, col.target_model._default_manager.all())
            found = Subquery(
                scoped.filter(pk=OuterRef(col.attname)).order_by()
                .annotate(_j=record_json(ctx, target_plan, lower)).values("_j")[:1]
            )
            return _Sql(
                "CASE WHEN {0} IS NULL THEN NULL ELSE COALESCE({1}, "
                + _fk_object(col, "({0})::text") + ") END", value, found,
            )
        # IdentifierResolver: the identifier columns' texts, empty ones left out, joined by "_".
        attnames = identifier_columns(col.target_model)
        parts = ", ".join(f"NULLIF({{{n}}}::text, '')" for n in range(len(attnames)))
        text = (_Sql(f"NULLIF(concat_ws('_', {parts}), '')", *(F(a) for a in attnames))
                if attnames else _Sql("NULL"))
        ident = Subquery(target_rows.annotate(_i=text).values("_i")[:1])
        return _Sql("CASE WHEN {0} IS NULL THEN NULL ELSE "
                    + _fk_object(col, "COALESCE({1}, ({0})::text)") + " END", value, ident)
    if col.is_list:
        cases = " ".join(f"WHEN {_literal(code)} THEN {_literal(label)}" for code, label in col.choices)
        ident = f"CASE {{0}} {cases} ELSE ({{0}})::text END" if cases else "({0})::text"
        return _Sql(
            "CASE WHEN {0} IS NULL OR {0} = '' THEN NULL ELSE json_build_object('propertyLabel', "
            f"{_literal(col.label)}, 'id', {{0}}, 'identifier', {ident}, 'model-name', "
            "'ad_ref_list') END", value,
        )
    if isinstance(field, models.DateTimeField):
        return _Sql(
            "CASE WHEN date_trunc('second', {0}) = {0} THEN "
            """to_char({0} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') ELSE """
            """to_char({0} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') END""", value,
        )
    if isinstance(field, models.DecimalField):
        # codec.scalar: an integral amount is a JSON integer, any other a float.
        return _Sql("CASE WHEN {0} = trunc({0}) AND abs({0}) < 9007199254740992 "
                    "THEN to_json(({0})::bigint) ELSE to_json(({0})::float8) END", value)
    return value


def _column_supported(col: ColumnMeta) -> bool:
    field = col.field
    if col.is_fk:
        return all(
            isinstance(col.target_model._meta.get_field(a), _IDENTIFIER_FIELDS)
            and not isinstance(col.target_model._meta.get_field(a), models.DateTimeField)
            for a in identifier_columns(col.target_model)
        )
    if col.is_list:
        return isinstance(field, (models.CharField, models.TextField))
    if isinstance(field, models.DateTimeField):
        return True  # aware datetimes (USE_TZ), rendered in UTC with a Z
    return isinstance(field, (
        models.CharField, models.TextField, models.IntegerField, models.AutoField,
        models.BooleanField, models.UUIDField, models.DateField, models.DecimalField,
        models.FloatField,
    ))


def supports(plan: Any) -> bool:
    """Whether PostgreSQL can render this plan (and the database is PostgreSQL)."""
    if connection.vendor != "postgresql":
        return False
    return _plan_supported(plan)


def _plan_supported(plan: Any) -> bool:
    columns = plan.columns()
    if len(columns) + 3 + len(plan.children) > MAX_KEYS:
        return False
    if not all(_column_supported(col) for col in columns):
        return False
    return all(_plan_supported(p) for p in plan.fk_expands.values()) and all(
        _plan_supported(p) for _, p in plan.children
    )


def record_json(ctx, plan: Any, lower: bool) -> _Sql:
    """The expression of one row's PO-JSON (``selectors.render`` in SQL)."""
    from apps.records.selectors import scope_rows

    meta: TableMeta = plan.meta
    pairs: list[tuple[str, Any]] = [("id", F("pk"))]
    uid_col = meta.by_lower.get("uid")
    if uid_col is not None:
        pairs.append(("uid", F(uid_col.attname)))
    pairs.append(("model-name", _Sql(_literal(meta.table_name.lower()))))
    for col in plan.columns():
        pairs.append((out_name(col.name, lower), _column_value(ctx, plan, col, lower)))
    for child, child_plan in plan.children:
        rows = scope_rows(ctx, child_plan.meta, child.model._default_manager.all())
        rows = rows.filter(child_plan.q).filter(**{child.fk_attname: OuterRef("pk")})
        rows = rows.order_by(*(child_plan.order or ["pk"]))
        if child_plan.size is not None or child_plan.skip:
            end = None if child_plan.size is None else child_plan.skip + child_plan.size
            rows = rows[child_plan.skip:end]
        kids = rows.annotate(_j=record_json(ctx, child_plan, lower)).values("_j")
        pairs.append((child.table_name, _Sql(
            "(SELECT COALESCE(json_agg(_kids._j), '[]'::json) FROM {0} _kids)", Subquery(kids)
        )))
    return _json_object(pairs)


def page_query(ctx, page: Any, plan: Any, lower: bool) -> Any:
    """The page's (key, record as JSON text) pairs, in order: one query.

    The page's keys are chosen first (a subquery with the order, LIMIT and OFFSET) and only those
    rows are rendered: rendering in the same SELECT as an OFFSET would build, and drop, the JSON
    of every skipped row."""
    order = list(plan.order or ["pk"])
    if not any(o.lstrip("-") in ("pk", plan.meta.pk.attname) for o in order):
        order.append("pk")
    rows = plan.meta.model._base_manager.filter(pk__in=page.values("pk")).order_by(*order)
    return rows.annotate(_j=_Sql("({0})::text", record_json(ctx, plan, lower))).values_list("pk", "_j")
