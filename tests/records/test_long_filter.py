"""The longest $filter (2000 characters, README "Long queries") works in a URL and in a batch body,
whatever characters it has; one character more is a 400 problem."""

from __future__ import annotations

import pytest

from tests.records.helpers import BP_URL

pytestmark = pytest.mark.django_db


def _filter(length: int) -> str:
    prefix, suffix = "Name eq 'Joe Block' or Name eq '", "'"
    return prefix + "é" * (length - len(prefix) - len(suffix)) + suffix


def test_the_longest_filter_in_a_batch_body(garden_admin):
    steps = [{"method": "GET", "path": f"models/c_bpartner?$filter={_filter(2000)}"}]
    response = garden_admin.post("/api/v1/batch", steps, format="json")
    assert response.status_code == 200, response.content
    result = response.json()[0]
    assert result["statusCode"] == 200
    assert [r["Name"] for r in result["body"]["records"]] == ["Joe Block"]


def test_the_longest_filter_in_a_url(garden_admin):
    response = garden_admin.get(BP_URL, {"$filter": _filter(2000)})
    assert response.status_code == 200
    too_long = garden_admin.get(BP_URL, {"$filter": _filter(2001)})
    assert too_long.status_code == 400
    assert "2000" in too_long.json()["detail"]
