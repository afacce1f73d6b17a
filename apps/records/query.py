"""The query language of /api/v1/models: ``$filter`` parsed by lark into an AST, compiled to ``Q``.

Only columns of the table's allow-list (its dictionary columns minus secrets) can be named; every
literal is converted to the column's type; every error is a 400 naming the position or the column.
Also: ``$select``, ``$orderby`` and ``$expand`` option parsing.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import F, Q
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from lark import Lark, Token, Tree
from lark.exceptions import (
    LarkError,
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
)

from apps.core import wire
from apps.core.errors import BadRequest
from apps.records.codec import storable_text
from apps.records.dictionary import ColumnMeta, TableMeta

MAX_FILTER_LENGTH = 2000
MAX_FILTER_DEPTH = 24
MAX_FILTER_TERMS = 64
MAX_IN_VALUES = 200
MAX_EXPAND_DEPTH = 3
MAX_EXPAND_ITEMS = 10
MAX_LIST_ITEMS = 100

GRAMMAR = r"""
start: expr
?expr: or_expr
?or_expr: and_expr
        | or_expr _OR and_expr -> or_
?and_expr: not_expr
         | and_expr _AND not_expr -> and_
?not_expr: atom
         | _NOT not_expr -> not_
?atom: "(" expr ")"
     | operand COMPARE operand -> compare
     | operand _IN "(" literal ("," literal)* ")" -> in_
     | BOOLFUNC "(" operand "," operand ")" -> boolfunc
?operand: NAME -> column
        | STRFUNC "(" operand ")" -> strfunc
        | literal
?literal: STRING -> string
        | NUMBER -> number
        | TRUE -> true
        | FALSE -> false
        | NULL -> null

_OR.2: /or\b/i
_AND.2: /and\b/i
_NOT.2: /not\b/i
_IN.2: /in\b/i
COMPARE.2: /(eq|neq|gt|ge|lt|le)\b/i
BOOLFUNC.2: /(contains|startswith|endswith)(?=\s*\()/i
STRFUNC.2: /(tolower|toupper)(?=\s*\()/i
TRUE.2: /true\b/i
FALSE.2: /false\b/i
NULL.2: /null\b/i
NAME: /[A-Za-z_][A-Za-z0-9_]*/
STRING: /'(?:[^']|'')*'/
NUMBER: /-?[0-9]+(\.[0-9]+)?/
%import common.WS
%ignore WS
"""

_PARSER = Lark(GRAMMAR, parser="lalr", maybe_placeholders=False, propagate_positions=True)

_LOOKUPS = {"eq": "exact", "neq": "exact", "gt": "gt", "ge": "gte", "lt": "lt", "le": "lte"}
_FLIPPED = {"eq": "eq", "neq": "neq", "gt": "lt", "ge": "le", "lt": "gt", "le": "ge"}
_STRING_TYPES = {"String", "Text", "List"}


def _bad(message: str) -> BadRequest:
    return BadRequest(message, code="invalid_query")


def _pos(node: Any) -> int:
    if isinstance(node, Token):
        return (node.start_pos or 0) + 1
    meta = getattr(node, "meta", None)
    if meta is not None and not getattr(meta, "empty", True):
        return meta.start_pos + 1
    return 0


@dataclass
class Operand:
    kind: str  # "col" or "lit"
    pos: int
    col: ColumnMeta | None = None
    func: str | None = None  # tolower / toupper applied to the column
    value: Any = None


@dataclass
class FilterCompiler:
    meta: TableMeta
    source: str = "$filter"
    terms: int = 0

    def compile(self, text: str) -> Q:
        if text is None or not text.strip():
            return Q()
        if len(text) > MAX_FILTER_LENGTH:
            raise _bad(f"{self.source} is longer than {MAX_FILTER_LENGTH} characters.")
        self._check_parentheses(text)
        try:
            tree = _PARSER.parse(text)
        except UnexpectedEOF:
            raise _bad(f"Syntax error in {self.source} at position {len(text) + 1}: unexpected end.") from None
        except UnexpectedCharacters as exc:
            raise _bad(
                f"Syntax error in {self.source} at position {exc.pos_in_stream + 1}: "
                f"unexpected character {text[exc.pos_in_stream]!r}."
            ) from exc
        except UnexpectedInput as exc:
            token = getattr(exc, "token", None)
            pos = (exc.pos_in_stream + 1) if getattr(exc, "pos_in_stream", None) is not None else 0
            if token is not None and getattr(token, "type", "") == "$END":
                raise _bad(f"Syntax error in {self.source} at position {len(text) + 1}: unexpected end.") from exc
            shown = f" {str(token)!r}" if token is not None else ""
            raise _bad(f"Syntax error in {self.source} at position {pos}: unexpected{shown}.") from exc
        except (LarkError, RecursionError):
            raise _bad(f"Syntax error in {self.source}.") from None
        self._check_depth(tree)
        return self._node(tree.children[0])

    def _check_parentheses(self, text: str) -> None:
        depth, quoted = 0, False
        for i, ch in enumerate(text):
            if ch == "'":
                quoted = not quoted
            elif not quoted and ch == "(":
                depth += 1
                if depth > MAX_FILTER_DEPTH:
                    raise _bad(
                        f"{self.source} is nested deeper than {MAX_FILTER_DEPTH} levels "
                        f"(position {i + 1})."
                    )
            elif not quoted and ch == ")":
                depth -= 1

    def _check_depth(self, tree: Tree) -> None:
        stack = [(tree, 1)]
        while stack:
            node, depth = stack.pop()
            if depth > MAX_FILTER_DEPTH:
                raise _bad(f"{self.source} is nested deeper than {MAX_FILTER_DEPTH} levels.")
            if isinstance(node, Tree):
                for child in node.children:
                    # A chain of the same connective (a and b and c) is one level, not three.
                    same = isinstance(child, Tree) and child.data == node.data in {"and_", "or_"}
                    stack.append((child, depth if same else depth + 1))

    def _term(self) -> None:
        self.terms += 1
        if self.terms > MAX_FILTER_TERMS:
            raise _bad(f"{self.source} has more than {MAX_FILTER_TERMS} conditions.")

    def _node(self, node: Tree) -> Q:
        kind = node.data
        if kind == "or_":
            return self._node(node.children[0]) | self._node(node.children[1])
        if kind == "and_":
            return self._node(node.children[0]) & self._node(node.children[1])
        if kind == "not_":
            return ~self._node(node.children[0])
        if kind == "compare":
            self._term()
            return self._compare(node)
        if kind == "in_":
            self._term()
            return self._in(node)
        if kind == "boolfunc":
            self._term()
            return self._boolfunc(node)
        # A bare column or literal where a condition is expected.
        raise _bad(f"Syntax error in {self.source} at position {_pos(node)}: a condition is expected.")

    # --- operands --------------------------------------------------------------------------------
    def _operand(self, node: Any) -> Operand:
        kind = node.data if isinstance(node, Tree) else None
        if kind == "column":
            token = node.children[0]
            col = self.meta.column(str(token))
            if col is None or col.secret:
                raise _bad(
                    f"Unknown column '{token}' in {self.source} at position {_pos(token)}."
                )
            return Operand("col", _pos(token), col=col)
        if kind == "strfunc":
            func_token, inner = node.children
            func = str(func_token).lower()
            op = self._operand(inner)
            if op.kind == "lit":
                if not isinstance(op.value, str):
                    raise _bad(f"{func}() needs a string at position {op.pos}.")
                op.value = op.value.lower() if func == "tolower" else op.value.upper()
                return op
            if op.col.data_type not in _STRING_TYPES:
                raise _bad(
                    f"{func}() needs a text column, '{op.col.name}' is not one "
                    f"(position {op.pos})."
                )
            op.func = func
            return op
        if kind == "string":
            raw = str(node.children[0])
            return Operand("lit", _pos(node.children[0]), value=raw[1:-1].replace("''", "'"))
        if kind == "number":
            token = node.children[0]
            try:
                return Operand("lit", _pos(token), value=Decimal(str(token)))
            except InvalidOperation:
                raise _bad(f"Bad number at position {_pos(token)}.") from None
        if kind == "true":
            return Operand("lit", _pos(node.children[0]), value=True)
        if kind == "false":
            return Operand("lit", _pos(node.children[0]), value=False)
        if kind == "null":
            return Operand("lit", _pos(node.children[0]), value=None)
        raise _bad(f"Syntax error in {self.source} at position {_pos(node)}.")

    def _path(self, op: Operand) -> str:
        path = op.col.attname
        if op.func == "tolower":
            path += "__lower"
        elif op.func == "toupper":
            path += "__upper"
        return path

    def _expr(self, op: Operand):
        from django.db.models.functions import Lower, Upper

        expr = F(op.col.attname)
        if op.func == "tolower":
            return Lower(expr)
        if op.func == "toupper":
            return Upper(expr)
        return expr

    def _coerce(self, op: Operand, lit: Operand) -> Any:
        col = op.col
        value = lit.value
        where = f"for column '{col.name}' at position {lit.pos}"
        data_type = "String" if op.func else col.data_type
        if value is None:
            return None
        if data_type == "YesNo":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.upper() in {"Y", "N", "TRUE", "FALSE"}:
                return value.upper() in {"Y", "TRUE"}
            raise _bad(f"Expected true or false {where}.")
        if isinstance(value, bool):
            raise _bad(f"Unexpected boolean {where}.")
        if data_type in {"Integer", "ID", "TableDir"}:
            if isinstance(value, str):
                try:
                    value = Decimal(wire.parse_int(value, "The value", signed=True))
                except BadRequest:
                    raise _bad(f"Expected an integer {where}.") from None
            if isinstance(value, Decimal) and value == value.to_integral_value():
                number = int(value)
                if abs(number) > 2**63 - 1:
                    raise _bad(f"Number out of range {where}.")
                return number
            raise _bad(f"Expected an integer {where}.")
        if data_type in {"Amount", "Number"}:
            if isinstance(value, str):
                try:
                    value = wire.parse_decimal(value, f"The value {where}")
                except BadRequest:
                    raise _bad(f"Expected a number {where}.") from None
            if not value.is_finite() or abs(value) >= Decimal(10) ** 18:
                raise _bad(f"Number out of range {where}.")
            return float(value) if data_type == "Number" else value
        if data_type == "UUID":
            try:
                return uuid.UUID(str(value))
            except ValueError:
                raise _bad(f"Expected a UUID {where}.") from None
        if data_type == "Date":
            parsed = _parse_date(value)
            if parsed is None:
                raise _bad(f"Expected a date 'YYYY-MM-DD' {where}.")
            return parsed
        if data_type == "DateTime":
            parsed = _parse_datetime(value)
            if parsed is None:
                raise _bad(f"Expected a timestamp 'YYYY-MM-DDTHH:MM:SSZ' {where}.")
            return parsed
        if isinstance(value, Decimal):
            return str(value)
        if not storable_text(value):
            raise _bad(f"Unexpected NUL character or lone surrogate {where}.")
        return value

    # --- conditions ------------------------------------------------------------------------------
    def _compare(self, node: Tree) -> Q:
        left, op_token, right = node.children
        op = str(op_token).lower()
        lhs, rhs = self._operand(left), self._operand(right)
        if lhs.kind == "lit" and rhs.kind == "col":
            lhs, rhs, op = rhs, lhs, _FLIPPED[op]
        if lhs.kind == "lit":
            raise _bad(f"A comparison needs a column (position {lhs.pos}).")
        lookup = _LOOKUPS[op]
        if rhs.kind == "col":
            if (lhs.col.data_type in _STRING_TYPES or lhs.func) != (
                rhs.col.data_type in _STRING_TYPES or bool(rhs.func)
            ):
                raise _bad(
                    f"Columns '{lhs.col.name}' and '{rhs.col.name}' cannot be compared "
                    f"(position {rhs.pos})."
                )
            q = Q(**{f"{self._path(lhs)}__{lookup}": self._expr(rhs)})
            return ~q if op == "neq" else q
        value = self._coerce(lhs, rhs)
        if value is None:
            if op not in {"eq", "neq"}:
                raise _bad(f"null can only be compared with eq or neq (position {rhs.pos}).")
            return Q(**{f"{lhs.col.attname}__isnull": op == "eq"})
        q = Q(**{f"{self._path(lhs)}__{lookup}": value})
        return ~q if op == "neq" else q

    def _in(self, node: Tree) -> Q:
        lhs = self._operand(node.children[0])
        if lhs.kind != "col":
            raise _bad(f"'in' needs a column on its left (position {lhs.pos}).")
        literals = node.children[1:]
        if len(literals) > MAX_IN_VALUES:
            raise _bad(f"'in' takes at most {MAX_IN_VALUES} values (position {lhs.pos}).")
        values = []
        for lit_node in literals:
            lit = self._operand(lit_node)
            value = self._coerce(lhs, lit)
            if value is None:
                raise _bad(f"null is not allowed in 'in' (position {lit.pos}).")
            values.append(value)
        return Q(**{f"{self._path(lhs)}__in": values})

    def _boolfunc(self, node: Tree) -> Q:
        func_token, first, second = node.children
        func = str(func_token).lower()
        lhs, rhs = self._operand(first), self._operand(second)
        if lhs.kind != "col":
            raise _bad(f"{func}() needs a column as first argument (position {lhs.pos}).")
        if lhs.col.data_type not in _STRING_TYPES and not lhs.func:
            raise _bad(
                f"{func}() needs a text column, '{lhs.col.name}' is not one (position {lhs.pos})."
            )
        if rhs.kind != "lit" or not isinstance(rhs.value, str):
            raise _bad(f"{func}() needs a string as second argument (position {rhs.pos}).")
        if not storable_text(rhs.value):
            raise _bad(f"Unexpected NUL character or lone surrogate at position {rhs.pos}.")
        return Q(**{f"{self._path(lhs)}__{func}": rhs.value})


def _parse_date(value: Any) -> dt.date | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = parse_date(value.strip())
        if parsed is None:
            stamp = parse_datetime(value.strip())
            return stamp.date() if stamp else None
        return parsed
    except ValueError:
        return None


def _parse_datetime(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        stamp = parse_datetime(text)
        if stamp is None:
            day = parse_date(text)
            if day is None:
                return None
            stamp = dt.datetime(day.year, day.month, day.day)
    except ValueError:
        return None
    if timezone.is_naive(stamp):
        stamp = stamp.replace(tzinfo=dt.UTC)
    try:
        # In UTC now: an offset that pushes it past year 1 or 9999 is not a timestamp, not a 500.
        return stamp.astimezone(dt.UTC)
    except OverflowError:
        return None


def compile_filter(meta: TableMeta, text: str | None, *, source: str = "$filter") -> Q:
    return FilterCompiler(meta, source=source).compile(text or "")


# --- $select / $orderby ----------------------------------------------------------------------------
def _split_names(text: str, option: str) -> list[str]:
    names = [part.strip() for part in text.split(",")]
    if len(names) > MAX_LIST_ITEMS:
        raise _bad(f"{option} names more than {MAX_LIST_ITEMS} columns.")
    return names


def parse_select(meta: TableMeta, text: str | None) -> list[ColumnMeta] | None:
    if text is None or not text.strip():
        return None
    columns: list[ColumnMeta] = []
    for name in _split_names(text, "$select"):
        if not name:
            raise _bad("$select has an empty column name.")
        col = meta.column(name)
        if col is None or col.secret:
            raise _bad(f"Unknown column '{name}' in $select.")
        if not col.is_key and col not in columns:
            columns.append(col)
    return columns


def parse_orderby(meta: TableMeta, text: str | None) -> list[str]:
    if text is None or not text.strip():
        return []
    order: list[str] = []
    for part in _split_names(text, "$orderby"):
        words = part.split()
        if not words or len(words) > 2:
            raise _bad(f"Bad $orderby item '{part}'.")
        col = meta.column(words[0])
        if col is None or col.secret:
            raise _bad(f"Unknown column '{words[0]}' in $orderby.")
        direction = words[1].lower() if len(words) == 2 else "asc"
        if direction not in {"asc", "desc"}:
            raise _bad(f"Bad $orderby direction '{words[1]}' for column '{words[0]}'.")
        order.append(("-" if direction == "desc" else "") + col.attname)
    return order


# --- $expand ---------------------------------------------------------------------------------------
@dataclass
class ExpandItem:
    name: str
    options: dict[str, str] = field(default_factory=dict)


def _split_top(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside quotes and parentheses."""
    parts, depth, quoted, start = [], 0, False, 0
    for i, ch in enumerate(text):
        if ch == "'":
            quoted = not quoted
        elif quoted:
            continue
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise _bad(f"Unbalanced ')' in $expand at position {i + 1}.")
        elif ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if quoted or depth:
        raise _bad("Unbalanced quotes or parentheses in $expand.")
    parts.append(text[start:])
    return parts


NESTED_OPTIONS = {"$select", "$filter", "$orderby", "$top", "$skip", "$expand"}


def parse_expand(text: str | None) -> list[ExpandItem]:
    if text is None or not text.strip():
        return []
    if len(text) > MAX_FILTER_LENGTH * 2:
        raise _bad("$expand is too long.")
    items = []
    for raw in _split_top(text, ","):
        raw = raw.strip()
        if not raw:
            raise _bad("$expand has an empty item.")
        name, options = raw, {}
        if "(" in raw:
            name = raw[: raw.index("(")].strip()
            if not raw.endswith(")"):
                raise _bad(f"Bad $expand item '{raw}'.")
            inner = raw[raw.index("(") + 1 : -1]
            for opt in _split_top(inner, ";"):
                opt = opt.strip()
                if not opt:
                    continue
                key, sep, value = opt.partition("=")
                key = key.strip().lower()
                if not sep or key not in NESTED_OPTIONS:
                    raise _bad(f"Unknown $expand option '{opt}' for '{name}'.")
                options[key] = value.strip()
        if not name.replace("_", "").isalnum():
            raise _bad(f"Bad $expand item '{raw}'.")
        items.append(ExpandItem(name=name, options=options))
    if len(items) > MAX_EXPAND_ITEMS:
        raise _bad(f"$expand names more than {MAX_EXPAND_ITEMS} items.")
    return items


MAX_INT_DIGITS = 12


def parse_int(value: str | None, option: str, default: int | None = None) -> int | None:
    """A ``$top``/``$skip`` value: ASCII digits only (no sign, no exponent), at most
    :data:`MAX_INT_DIGITS` of them; anything else is a 400 naming ``option``."""
    if value is None or str(value).strip() == "":
        return default
    text = str(value).strip()
    if len(text.lstrip("0")) > MAX_INT_DIGITS and text.isascii() and text.isdigit():
        raise _bad(f"{option} is too large (at most {MAX_INT_DIGITS} digits).")
    try:
        return wire.parse_int(text, option, minimum=0)
    except BadRequest:
        raise _bad(f"{option} must be a non-negative integer, not '{text[:40]}'.") from None
