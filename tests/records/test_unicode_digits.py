"""Numbers of the records API (in $filter, bodies, ids): ASCII digits only, else a 400 problem."""

from __future__ import annotations

import pytest

from apps.erp.models import BPartner
from tests.records.helpers import BP_URL, problem

pytestmark = pytest.mark.django_db

OTHER_DIGITS = ["٠", "０", "۰", "१"]


@pytest.mark.parametrize("zero", OTHER_DIGITS)
def test_filter_numbers_in_other_digits(garden_admin, zero):
    assert problem(garden_admin, BP_URL, **{"$filter": f"AD_Org_ID eq {zero}"})
    assert problem(garden_admin, BP_URL, **{"$filter": f"SO_CreditLimit ge 1{zero}.5"})


@pytest.mark.parametrize("bad", ["²", "①", "١٢", "１２"])
def test_ids_in_other_digits(garden_admin, bad):
    assert problem(garden_admin, f"/api/v1/reference/{bad}")
    assert problem(garden_admin, BP_URL, **{"$valrule": bad})


@pytest.mark.parametrize("column, value", [("SO_CreditLimit", "١٠٠"), ("SO_CreditLimit", "１００"),
                                           ("C_BP_Group_ID", "１"), ("C_BP_Group_ID", "²")])
def test_body_numbers_in_other_digits(garden_admin, column, value):
    joe = BPartner.objects.get(name="Joe Block")
    before = (joe.so_credit_limit, joe.bp_group_id)
    response = garden_admin.put(f"{BP_URL}/{joe.pk}", {column: value}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["status"] == 400
    joe.refresh_from_db()
    assert (joe.so_credit_limit, joe.bp_group_id) == before
