"""GET /api/v1/models/{table}/{id}/print: a real PDF of the order, read back with pdfium."""

from __future__ import annotations

import pytest

from apps.accounts.models import Role, RoleTableAccess
from apps.erp.models import BPartner
from tests.processes.conftest import pdf_text

pytestmark = pytest.mark.django_db


def _print(client, order, ident=None):
    return client.get(f"/api/v1/models/c_order/{ident or order.pk}/print")


def test_order_pdf_has_document_no_partner_lines_and_grand_total(garden_admin, large_order):
    response = _print(garden_admin, large_order)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("inline;")
    assert f"Order_{large_order.document_no}.pdf" in response["Content-Disposition"]
    content = response.content
    assert content.startswith(b"%PDF-") and int(response["Content-Length"]) == len(content)
    text = pdf_text(content)
    assert large_order.document_no in text
    assert "17,850.00" in text  # 200 × 61.75 + 100 × 55.00
    assert "Joe Block" in text
    assert "Oak Tree" in text and "Elm Tree" in text
    assert "12,350.00" in text and "5,500.00" in text  # the line amounts
    assert "Grand Total" in text


def test_print_by_uuid_and_table_name_case(garden_user, small_order):
    response = garden_user.get(f"/api/v1/models/C_Order/{small_order.uid}/print")
    assert response.status_code == 200, response.content
    text = pdf_text(response.content)
    assert small_order.document_no in text and "337.50" in text


def test_markup_in_data_is_text(garden_admin, large_order):
    partner = BPartner.objects.get(pk=large_order.bpartner_id)
    partner.name = "Joe <b>Block</b> & Sons"
    partner.save()
    response = _print(garden_admin, large_order)
    assert response.status_code == 200
    assert "Joe <b>Block</b> & Sons" in pdf_text(response.content)


def test_other_tenant_gets_404(acme_admin, large_order):
    for ident in (large_order.pk, large_order.uid):
        response = _print(acme_admin, large_order, ident)
        assert response.status_code == 404, response.content
        assert response["Content-Type"].startswith("application/problem+json")
        assert b"%PDF" not in response.content


def test_anonymous_is_401(anon_client, large_order):
    response = _print(anon_client, large_order)
    assert response.status_code == 401
    assert response.json()["status"] == 401


def test_role_without_table_access_is_403(garden_user, large_order):
    role = Role.objects.get(name="GardenWorld User")
    RoleTableAccess.objects.filter(role=role, table_name="c_order").delete()
    response = _print(garden_user, large_order)
    assert response.status_code == 403
    assert response.json()["status"] == 403


def test_unknown_record_table_or_print_format(garden_admin, large_order):
    assert garden_admin.get("/api/v1/models/c_order/999999999/print").status_code == 404
    assert garden_admin.get("/api/v1/models/no_such_table/1/print").status_code == 404
    partner = large_order.bpartner_id
    response = garden_admin.get(f"/api/v1/models/c_bpartner/{partner}/print")
    assert response.status_code == 404
    assert "print format" in response.json()["detail"]
    response = garden_admin.get("/api/v1/models/c_order/not-an-id/print")
    assert 400 <= response.status_code < 500
    assert response["Content-Type"].startswith("application/problem+json")


def test_column_route_still_answers(garden_admin, large_order):
    response = garden_admin.get(f"/api/v1/models/c_order/{large_order.pk}/DocumentNo")
    assert response.status_code == 200
    assert response.json()["DocumentNo"] == large_order.document_no
