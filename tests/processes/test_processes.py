"""/api/v1/processes: list, detail, synchronous runs, reports as PDF/HTML/CSV, role access."""

from __future__ import annotations

import csv
import io

import pytest

from apps.accounts.models import Role
from apps.erp.models import BPartner
from apps.processes.models import Process, ProcessAccess
from tests.problems import UNICODE_DIGITS, bad_request
from tests.processes.conftest import pdf_text

pytestmark = pytest.mark.django_db

MARCH = {"DateOrdered": "2026-03-01", "DateOrdered_to": "2026-03-31"}


def _run(client, slug, body):
    return client.post(f"/api/v1/processes/{slug}", body, format="json")


def _file(client, run):
    return client.get(f"/api/v1/files/{run['reportFile']}")


def test_list_as_idempiere_shapes_it(garden_admin):
    response = garden_admin.get("/api/v1/processes")
    assert response.status_code == 200
    body = response.json()
    assert isinstance(body, list)
    by_slug = {p["slug"]: p for p in body}
    assert {"order-detail", "open-items"} <= set(by_slug)
    detail = by_slug["order-detail"]
    assert detail["Value"] == "Order_Detail" and detail["Name"] == "Order Detail"
    assert detail["IsReport"] is True and detail["model-name"] == "ad_process"
    assert isinstance(detail["id"], int) and detail["uid"]


def test_list_filter(garden_admin):
    response = garden_admin.get("/api/v1/processes", {"$filter": "Name eq 'Open Items'"})
    assert [p["slug"] for p in response.json()] == ["open-items"]
    response = garden_admin.get("/api/v1/processes", {"$filter": "IsReport eq false"})
    assert response.json() == []
    bad_request(garden_admin.get("/api/v1/processes", {"$filter": "Nope eq 1"}))
    bad_request(garden_admin.get("/api/v1/processes", {"$filter": "Name eq"}))


def test_role_sees_and_runs_only_granted_processes(garden_user):
    slugs = [p["slug"] for p in garden_user.get("/api/v1/processes").json()]
    assert slugs == ["order-detail"]
    assert garden_user.get("/api/v1/processes/open-items").status_code == 403
    assert _run(garden_user, "open-items", {}).status_code == 403
    assert garden_user.post("/api/v1/processes/jobs/open-items", {}, format="json").status_code == 403
    assert _run(garden_user, "order-detail", MARCH).status_code == 200


def test_read_only_access_sees_but_cannot_run(garden_user):
    role = Role.objects.get(name="GardenWorld User")
    ProcessAccess.objects.filter(role=role).update(is_read_write=False)
    assert garden_user.get("/api/v1/processes/order-detail").status_code == 200
    response = _run(garden_user, "order-detail", MARCH)
    assert response.status_code == 403 and response.json()["status"] == 403
    assert not Process.objects.get(value="Order_Detail").instances.exists()


def test_anonymous_is_401(anon_client):
    for method, url in [
        ("get", "/api/v1/processes"), ("get", "/api/v1/processes/order-detail"),
        ("post", "/api/v1/processes/order-detail"), ("post", "/api/v1/processes/jobs/order-detail"),
        ("get", "/api/v1/processes/jobs"), ("get", "/api/v1/processes/jobs/1"),
        ("get", "/api/v1/files/00000000-0000-0000-0000-000000000000"),
    ]:
        response = getattr(anon_client, method)(url, {}, format="json")
        assert response.status_code == 401, (method, url)


def test_unknown_process_is_404(garden_admin):
    assert garden_admin.get("/api/v1/processes/no-such-thing").status_code == 404
    assert _run(garden_admin, "no-such-thing", {}).status_code == 404


def test_detail_parameters_with_types(garden_admin):
    response = garden_admin.get("/api/v1/processes/order-detail")
    assert response.status_code == 200
    body = response.json()
    params = {p["parameterName"]: p for p in body["parameters"]}
    assert list(params) == ["DateOrdered", "C_BPartner_ID", "IsSOTrx"]
    assert params["DateOrdered"]["AD_Reference_ID"]["identifier"] == "Date"
    assert params["DateOrdered"]["AD_Reference_ID"]["id"] == 15
    assert params["DateOrdered"]["IsRange"] is True
    assert params["C_BPartner_ID"]["AD_Reference_ID"]["identifier"] == "Search"
    assert params["C_BPartner_ID"]["referenceTable"] == "C_BPartner"
    assert params["IsSOTrx"]["AD_Reference_ID"]["identifier"] == "Yes-No"
    detail = garden_admin.get("/api/v1/processes/open-items").json()
    statement = detail["parameters"][0]
    assert statement["parameterName"] == "StatementDate"
    assert statement["IsMandatory"] is True and statement["DefaultValue"] == "@#Date@"


def test_order_detail_pdf(garden_admin, small_order, large_order):
    joe = small_order.bpartner_id
    response = _run(garden_admin, "order-detail", {**MARCH, "C_BPartner_ID": joe, "report-type": "PDF"})
    assert response.status_code == 200, response.content
    run = response.json()
    assert run["process"] == "order-detail" and run["isError"] is False
    assert run["summary"].startswith("2 orders, 4 lines")
    assert run["reportFileType"] == "application/pdf" and run["reportFileName"].endswith(".pdf")
    download = _file(garden_admin, run)
    assert download.status_code == 200
    content = b"".join(download.streaming_content)
    assert content.startswith(b"%PDF-") and len(content) == run["reportFileLength"]
    text = pdf_text(content)
    for expected in (small_order.document_no, large_order.document_no, "Joe Block", "Azalea Bush",
                     "337.50", "17,850.00", "18,187.50", "Grand Total"):
        assert expected in text, expected


def test_order_detail_date_range_excludes(garden_admin, small_order, large_order):
    response = _run(garden_admin, "order-detail", {
        "DateOrdered": "2026-03-01", "DateOrdered_to": "2026-03-05", "report-type": "csv",
    })
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(b"".join(_file(garden_admin, response.json()).streaming_content).decode())))
    assert {row["DocumentNo"] for row in rows} == {small_order.document_no}
    assert [row["Product"] for row in rows] == ["Azalea Bush", "Rose Bush"]
    assert [row["LineNetAmt"] for row in rows] == ["237.50", "100.00"]


def test_csv_cells_are_never_formulas(garden_admin, small_order):
    BPartner.objects.filter(pk=small_order.bpartner_id).update(name="=HYPERLINK(\"x\")")
    response = _run(garden_admin, "order-detail", {**MARCH, "report-type": "CSV"})
    download = _file(garden_admin, response.json())
    assert download["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(download.streaming_content).decode())))
    assert rows and all(row["BPartner"] == "'=HYPERLINK(\"x\")" for row in rows)


def test_html_report_escapes_data(garden_admin, small_order):
    BPartner.objects.filter(pk=small_order.bpartner_id).update(name="<script>alert(1)</script>")
    response = _run(garden_admin, "order-detail", {**MARCH, "report-type": "html"})
    download = _file(garden_admin, response.json())
    assert download["Content-Type"].startswith("text/html")
    html = b"".join(download.streaming_content).decode()
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert small_order.document_no in html


def test_open_items_per_partner(garden_admin, small_order, large_order):
    response = _run(garden_admin, "open-items", {"StatementDate": "2026-03-10", "report-type": "CSV"})
    assert response.status_code == 200, response.content
    assert response.json()["summary"].startswith("1 business partners, 2 open items")
    rows = list(csv.DictReader(io.StringIO(b"".join(_file(garden_admin, response.json()).streaming_content).decode())))
    assert [(r["DocumentNo"], r["DaysDue"], r["OpenAmt"]) for r in rows] == [
        (small_order.document_no, "8", "337.50"), (large_order.document_no, "1", "17850.00"),
    ]
    pdf = _run(garden_admin, "open-items", {"StatementDate": "2026-03-10"})
    text = pdf_text(b"".join(_file(garden_admin, pdf.json()).streaming_content))
    assert "Joe Block" in text and "18,187.50" in text


def test_reports_never_show_another_tenant(acme_admin, small_order):
    response = _run(acme_admin, "open-items", {"StatementDate": "2026-12-31", "report-type": "CSV"})
    assert response.status_code == 200
    content = b"".join(_file(acme_admin, response.json()).streaming_content).decode()
    assert small_order.document_no not in content and "Joe Block" not in content
    response = _run(acme_admin, "order-detail", {"C_BPartner_ID": small_order.bpartner_id})
    body = bad_request(response)
    assert "C_BPartner_ID" in body["detail"]


@pytest.mark.parametrize("body", [
    {"DateOrdered": "2026-13-01"},
    {"DateOrdered": "yesterday"},
    {"DateOrdered": 20260301},
    {"DateOrdered_to": "2026-02-30"},
    {"C_BPartner_ID": "not-an-id"},
    {"C_BPartner_ID": 999999999},
    {"C_BPartner_ID": True},
    {"IsSOTrx": "maybe"},
    {"report-type": "XLS"},
    {"report-type": 3},
    {"NoSuchParameter": 1},
    {"DateOrdered": "2026-03-01\x00"},
])
def test_bad_parameters_are_400(garden_admin, body):
    bad_request(_run(garden_admin, "order-detail", body))


def test_unicode_digits_are_not_dates_or_ids(garden_admin):
    for digit in UNICODE_DIGITS:
        bad_request(_run(garden_admin, "order-detail", {"DateOrdered": f"202{digit}-03-01"}))
        bad_request(_run(garden_admin, "order-detail", {"C_BPartner_ID": f"1{digit}"}))


def test_body_must_be_an_object(garden_admin):
    bad_request(garden_admin.post("/api/v1/processes/order-detail", [1, 2], format="json"))
    bad_request(garden_admin.post(
        "/api/v1/processes/order-detail", b"{not json", content_type="application/json",
    ))
