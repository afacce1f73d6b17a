"""The one integer parser of the service (apps.core.wire): ASCII digits only, a 400 otherwise."""

from __future__ import annotations

import pytest

from apps.core.errors import BadRequest
from apps.core.wire import parse_id_or_key, parse_int

NOT_ASCII = ["²", "①", "٣", "١٢", "１２", "۳", "௫", "12²", "1_000", "1e3", "0x10", "", " ", "--1",
             "1.0", "٣٤٥٦"]


@pytest.mark.parametrize("text", NOT_ASCII)
def test_only_ascii_digits_are_integers(text):
    with pytest.raises(BadRequest) as caught:
        parse_int(text, "Header X-File-Size")
    assert caught.value.status == 400
    assert "X-File-Size" in str(caught.value.detail)


@pytest.mark.parametrize("value, expected", [("0", 0), ("42", 42), (" 7\t", 7), (12, 12),
                                             ("000123", 123), ("999999999999999999", 10**18 - 1)])
def test_ascii_integers_parse(value, expected):
    assert parse_int(value, "n") == expected


@pytest.mark.parametrize("value", [True, False, 1.0, None, [], {"a": 1}, "1" * 19, 10**18, "+1", "-1"])
def test_other_values_are_refused(value):
    with pytest.raises(BadRequest):
        parse_int(value, "n")


def test_signs_and_bounds():
    assert parse_int("-5", "n", signed=True) == -5
    with pytest.raises(BadRequest, match="at least 1"):
        parse_int("0", "n", minimum=1)
    with pytest.raises(BadRequest, match="at most 9"):
        parse_int("10", "n", maximum=9)


@pytest.mark.parametrize("value", ["²", "①", "١٢", "１２"])
def test_an_id_in_other_digits_is_a_bad_request_not_a_name(value):
    with pytest.raises(BadRequest):
        parse_id_or_key(value, "id")


def test_ids_and_keys():
    assert parse_id_or_key(" 12 ", "id") == 12
    assert parse_id_or_key(12, "id") == 12
    assert parse_id_or_key("GardenWorld", "id") == "GardenWorld"
    assert parse_id_or_key("0b8e6a1c-7a8f-4a55-9d8a-1d7f5c2b9e01", "id") == "0b8e6a1c-7a8f-4a55-9d8a-1d7f5c2b9e01"
