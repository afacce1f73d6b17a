"""Request parsers: DRF's JSON parser, hardened so hostile JSON is a 400 and never a 500."""

from __future__ import annotations

from collections import deque
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

from apps.core.wire import shown_name, unstorable_character


def unstorable_in_json(data: Any) -> str | None:
    """Where a parsed JSON document holds text no database can store (``"\\u0000"``, a lone
    surrogate), in words; None when it holds none. Iterative: a document as deep as the parser
    allows does not exhaust the stack here either."""
    pending: deque[tuple[Any, str | None]] = deque([(data, None)])
    while pending:
        value, key = pending.popleft()
        if isinstance(value, str):
            found = unstorable_character(value)
            if found:
                where = f"the value of '{shown_name(key)}'" if key is not None else "a string"
                return f"{where} holds {found}"
        elif isinstance(value, dict):
            for name, item in value.items():
                found = unstorable_character(name)
                if found:
                    return f"the member name '{shown_name(name)}' holds {found}"
                pending.append((item, name))
        elif isinstance(value, list):
            pending.extend((item, key) for item in value)
    return None


class JSONParser(parsers.JSONParser):
    """DRF's JSONParser, plus: nesting deep enough to exhaust the recursion limit is a parse error,
    and so is a string holding a NUL (``\\u0000``) or a lone surrogate (``\\ud800``): valid JSON,
    but PostgreSQL refuses both in text and jsonb, so each would fail wherever it reached a query
    (a 500) instead of being refused once, here, for every endpoint."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - nested too deeply.") from exc
        problem = unstorable_in_json(data)
        if problem:
            raise ParseError(f"JSON parse error - {problem}, which no text can store.")
        return data
