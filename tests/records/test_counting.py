"""Counting without paying for it (``Prefer: count=...``) and keyset pages (``$skiptoken``)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.erp.models import BPartner

pytestmark = pytest.mark.django_db
BP_URL = "/api/v1/models/c_bpartner"


def _partners(n: int = 7) -> None:
    joe = BPartner.objects.get(name="Joe Block")
    for i in range(n):
        BPartner.objects.create(client=joe.client, org_id=0, value=f"K{i:03d}", name=f"Keyset {i}",
                                bp_group=joe.bp_group)


def _next(response) -> str | None:
    link = response.headers.get("Link")
    if not link:
        return None
    assert link.endswith('>; rel="next"')
    return parse_qs(urlsplit(link[1:].split(">")[0]).query)["$skiptoken"][0]


def test_without_prefer_the_count_is_exact_and_nothing_is_announced(garden_admin):
    response = garden_admin.get(BP_URL)
    assert response.status_code == 200
    assert "Preference-Applied" not in response.headers
    assert response.json()["row-count"] == BPartner.objects.filter(client__name="GardenWorld").count()


def test_count_none_leaves_the_count_out(garden_admin):
    exact = garden_admin.get(BP_URL, {"$top": "2"})
    response = garden_admin.get(BP_URL, {"$top": "2"}, HTTP_PREFER="count=none")
    assert response.status_code == 200
    body = response.json()
    assert "row-count" not in body and "page-count" not in body
    assert "X-Row-Count" not in response.headers and "X-Page-Count" not in response.headers
    assert response.headers["Preference-Applied"] == "count=none"
    assert body["records"] == exact.json()["records"] and body["array-count"] == 2


def test_count_planned_is_the_planners_estimate_on_postgresql(garden_admin):
    response = garden_admin.get(BP_URL, HTTP_PREFER="return=minimal, count=planned")
    assert response.status_code == 200
    body = response.json()
    exact = BPartner.objects.filter(client__name="GardenWorld").count()
    if connection.vendor == "postgresql":
        assert response.headers["Preference-Applied"] == "count=planned"
        assert isinstance(body["row-count"], int) and body["row-count"] >= 0
    else:  # no planner estimate: the exact count, and said so
        assert response.headers["Preference-Applied"] == "count=exact"
        assert body["row-count"] == exact


def test_count_estimated_is_exact_below_the_limit(garden_admin):
    response = garden_admin.get(BP_URL, HTTP_PREFER="count=estimated")
    assert response.status_code == 200
    exact = BPartner.objects.filter(client__name="GardenWorld").count()
    assert response.json()["row-count"] == exact
    assert response.headers["Preference-Applied"] in ("count=estimated", "count=exact")


def test_an_unknown_count_preference_is_ignored(garden_admin):
    response = garden_admin.get(BP_URL, HTTP_PREFER="count=maybe")
    assert response.status_code == 200 and "Preference-Applied" not in response.headers
    assert "row-count" in response.json()


def test_skiptoken_walks_the_same_rows_as_skip(garden_admin):
    _partners()
    by_skip, skip = [], 0
    while True:
        page = garden_admin.get(BP_URL, {"$top": "3", "$skip": str(skip), "$select": "Name"}).json()
        by_skip += [r["id"] for r in page["records"]]
        if page["array-count"] < 3:
            break
        skip += 3
    first = garden_admin.get(BP_URL, {"$top": "3", "$select": "Name"})
    by_token, token, pages = [r["id"] for r in first.json()["records"]], _next(first), 1
    while token:
        response = garden_admin.get(BP_URL, {"$top": "3", "$select": "Name", "$skiptoken": token})
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["skip-records"] == len(by_token)
        assert body["row-count"] == len(by_skip)
        by_token += [r["id"] for r in body["records"]]
        token = _next(response)
        if token:
            assert body["next-link"] == response.headers["Link"][1:].split(">")[0]
        pages += 1
    assert by_token == by_skip and pages >= 3


def test_skiptoken_descending_key_order(garden_admin):
    _partners()
    first = garden_admin.get(BP_URL, {"$top": "2", "$orderby": "id desc"})
    ids = [r["id"] for r in first.json()["records"]]
    second = garden_admin.get(BP_URL, {"$top": "2", "$orderby": "id desc", "$skiptoken": _next(first)})
    more = [r["id"] for r in second.json()["records"]]
    assert ids + more == sorted(ids + more, reverse=True) and not set(ids) & set(more)


def test_a_skiptoken_page_reads_no_skipped_rows(garden_admin):
    _partners()
    first = garden_admin.get(BP_URL, {"$top": "2"})
    with CaptureQueriesContext(connection) as captured:
        assert garden_admin.get(BP_URL, {"$top": "2", "$skiptoken": _next(first)}).status_code == 200
    pages = [q["sql"] for q in captured if '"C_BPartner"' in q["sql"] and "LIMIT" in q["sql"]]
    assert pages and all("OFFSET" not in sql for sql in pages)


@pytest.mark.parametrize("change", [
    {"$filter": "IsCustomer eq true"}, {"$expand": "C_BP_Group_ID"}, {"$select": "Value"},
])
def test_a_skiptoken_is_bound_to_its_query(garden_admin, change):
    _partners()
    token = _next(garden_admin.get(BP_URL, {"$top": "2"}))
    response = garden_admin.get(BP_URL, {"$top": "2", "$skiptoken": token, **change})
    assert response.status_code == 400
    assert "another query" in response.json()["detail"]


def test_bad_skiptokens_are_400(garden_admin, acme_admin):
    _partners()
    token = _next(garden_admin.get(BP_URL, {"$top": "2"}))
    for params in (
        {"$top": "2", "$skiptoken": token[:-2] + "xx"},
        {"$top": "2", "$skiptoken": "nonsense"},
        {"$top": "2", "$skiptoken": token, "$skip": "2"},
        {"$top": "2", "$skiptoken": token, "$orderby": "Name"},
    ):
        response = garden_admin.get(BP_URL, params)
        assert response.status_code == 400, params
        assert response["Content-Type"] == "application/problem+json"
    # Another tenant cannot continue GardenWorld's walk.
    assert acme_admin.get(BP_URL, {"$top": "2", "$skiptoken": token}).status_code == 400


def test_no_link_when_the_order_is_not_the_key(garden_admin):
    _partners()
    response = garden_admin.get(BP_URL, {"$top": "2", "$orderby": "Name"})
    assert response.status_code == 200 and "Link" not in response.headers
