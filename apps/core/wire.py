"""Integers from the wire, parsed one way for the whole service: ASCII digits only.

``str.isdigit()`` says yes to ``²``, ``①``, Arabic-Indic and full-width digits, and ``int()`` either
refuses them (a 500 where the check came first) or silently reads them (``int("１２") == 12``).
Every id or integer taken from a URL, a query parameter, a header or a body goes through
:func:`parse_int` (or :func:`parse_id_or_key` where a number and a name/uuid are both allowed), so
the answer to anything else is one 400 problem naming what was wrong.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.core.errors import BadRequest

# Python's \d is every Unicode decimal digit: spell the ASCII range out.
_INTEGER = re.compile(r"[+-]?[0-9]+")
MAX_DIGITS = 18
"""At most 18 digits (a 64-bit column holds 19): longer numbers are refused, not truncated."""

_OWS = " \t"  # HTTP optional white space; nothing else is trimmed


def parse_int(
    value: Any,
    what: str,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    signed: bool = False,
) -> int:
    """``value`` (a JSON integer, or text of ASCII digits) as an int; else :class:`BadRequest`.

    ``what`` names the input in the message (``"Header X-File-Size"``, ``"'userTo'"``). A sign is
    accepted only with ``signed``; booleans, floats, exponents, underscores and any non-ASCII
    digit are refused, as are more than :data:`MAX_DIGITS` digits.
    """
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise BadRequest(f"{what} must be an integer.", code="invalid_integer")
    if isinstance(value, int):
        number = value
        if abs(number) >= 10**MAX_DIGITS:
            raise BadRequest(f"{what} is too large.", code="invalid_integer")
    else:
        text = value.strip(_OWS)
        if not _INTEGER.fullmatch(text) or (text[0] in "+-" and not signed):
            shown = text[:40].encode("ascii", "backslashreplace").decode("ascii")
            raise BadRequest(
                f"{what} must be an integer in ASCII digits, not '{shown}'.", code="invalid_integer"
            )
        if len(text.lstrip("+-").lstrip("0")) > MAX_DIGITS:
            raise BadRequest(f"{what} is too large (at most {MAX_DIGITS} digits).", code="invalid_integer")
        number = int(text)
    if minimum is not None and number < minimum:
        raise BadRequest(f"{what} must be at least {minimum}.", code="invalid_integer")
    if maximum is not None and number > maximum:
        raise BadRequest(f"{what} must be at most {maximum}.", code="invalid_integer")
    return number


def header_int(
    request: Any, name: str, *, required: bool = False, default: int | None = None, minimum: int = 0
) -> int | None:
    """The integer in the request header ``name``, parsed by :func:`parse_int` (ASCII digits, no
    sign): ``default`` when the header is absent or blank, a 400 problem when it is ``required``
    then, or when it holds anything but an integer of at least ``minimum``. Every dialect reads
    its integer headers (``Upload-Offset``, ``X-File-Size``, ``X-Total-Chunks``, ...) here."""
    raw = request.headers.get(name)
    if raw is None or raw.strip(_OWS) == "":
        if required:
            raise BadRequest(f"The {name} header is required.", code="header_required")
        return default
    return parse_int(raw, f"Header {name}", minimum=minimum)


_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?")


def parse_decimal(value: Any, what: str) -> Decimal:
    """A finite number (a JSON number, or text in ASCII digits: ``Decimal("١٢")`` would read 12,
    and ``Decimal("1_0")`` 10) as a Decimal; else :class:`BadRequest`."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise BadRequest(f"{what} must be a number.", code="invalid_number")
    if isinstance(value, str):
        text = value.strip()
        if not _DECIMAL.fullmatch(text):
            raise BadRequest(f"{what} must be a number in ASCII digits.", code="invalid_number")
        value = text
    try:
        number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:
        raise BadRequest(f"{what} must be a number.", code="invalid_number") from None
    if not number.is_finite():
        raise BadRequest(f"{what} must be a finite number.", code="invalid_number")
    return number


# What PostgreSQL cannot hold in a text (or jsonb) value: NUL, and (its encoding being UTF-8) a
# lone surrogate, which only a JSON "\ud800" escape can produce. Either reaching a query is a
# driver error, so both are refused where they come in (apps.core.middleware, apps.core.parsers).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable_character(text: str) -> str | None:
    """What in ``text`` no database column can store, in words (``"a NUL character"``, ``"a lone
    surrogate"``); None when there is nothing of the kind."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    return "a NUL character" if found.group() == "\x00" else "a lone surrogate"


def shown_name(name: str, limit: int = 40) -> str:
    """A client's parameter or field name, safe to echo in a message: the unstorable characters
    spelled as escapes, cut at ``limit`` characters."""
    return _UNSTORABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", name[:limit])


def looks_numeric(text: str) -> bool:
    """Whether ``text`` is meant as a number: digits of any script (``①``, ``١``, ``１``), so that
    :func:`parse_int` refuses it with a 400 rather than a lookup treating it as a name."""
    return bool(text) and all(ch.isdigit() or ch.isnumeric() for ch in text)


def parse_id_or_key(value: Any, what: str) -> int | str:
    """An id (int) or a key (uuid, name: the stripped text) from one input.

    A JSON integer and text of digits are ids, parsed by :func:`parse_int` (a digit of another
    script is a 400, not a name); anything else is returned as text for the caller's lookup.
    """
    if isinstance(value, bool):
        raise BadRequest(f"{what} must be an id or a name.", code="invalid_integer")
    if isinstance(value, int):
        return parse_int(value, what, minimum=0)
    text = str(value).strip()
    if looks_numeric(text):
        return parse_int(text, what, minimum=0)
    return text


class IntegerField(serializers.IntegerField):
    """DRF's integer field reads ``"１２"`` as 12: this one parses with :func:`parse_int`."""

    def to_internal_value(self, data):
        if isinstance(data, str) and len(data) > self.MAX_STRING_LENGTH:
            self.fail("max_string_length")
        try:
            number = parse_int(data, self.field_name or "The value", signed=True)
        except BadRequest as exc:
            raise serializers.ValidationError(str(exc.detail), code="invalid") from None
        return number


class CharField(serializers.CharField):
    """DRF's text field takes ``0`` for ``"0"``: a JSON body's text field must be a JSON string."""

    default_error_messages = {"invalid": "Must be a string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class ChoiceField(serializers.ChoiceField):
    """A choice of strings that must arrive as a JSON string (DRF matches ``1`` to ``"1"``)."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid_choice", input=data)
        return super().to_internal_value(data)


@extend_schema_field({"oneOf": [{"type": "integer", "minimum": 0}, {"type": "string", "maxLength": 40}]})
class IdOrKeyField(serializers.Field):
    """A row's id (a JSON integer) or key (uuid, name: a JSON string); nothing else."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | str):
            raise serializers.ValidationError("Must be an id (integer) or a key (string).")
        if isinstance(data, str) and len(data) > 40:
            raise serializers.ValidationError("Too long (at most 40 characters).")
        return data if isinstance(data, str) else str(data)

    def to_representation(self, value):
        return value
