"""A foreign key given as {identifier, tableName} is resolved by the target's identifier columns."""

from __future__ import annotations

import pytest

from apps.erp.models import BPGroup, OrderLine
from apps.records import dictionary
from apps.records.registry import table_spec
from apps.records.services import _identifier_q

BP_URL = "/api/v1/models/c_bpartner"


@pytest.fixture
def group_identified_by_value_and_name(demo):
    spec = table_spec("C_BP_Group")
    saved = spec.identifier
    spec.identifier = ("Value", "Name")
    dictionary.reset_meta_cache()
    yield spec
    spec.identifier = saved
    dictionary.reset_meta_cache()


def _post(client, name, group_ref):
    return client.post(
        BP_URL,
        {"Value": name, "Name": name, "C_BP_Group_ID": {"identifier": group_ref, "tableName": "C_BP_Group"}},
        format="json",
    )


def _garden_group(name, value):
    template = BPGroup.objects.filter(client__name="GardenWorld").first()
    return BPGroup.objects.create(client_id=template.client_id, org_id=template.org_id, value=value, name=name)


def test_any_identifier_column_matches(garden_admin, group_identified_by_value_and_name):
    group = _garden_group("Wholesale partners", "WHS")
    by_value = _post(garden_admin, "ByValue", "WHS")
    assert by_value.status_code == 201, by_value.content
    assert by_value.json()["C_BP_Group_ID"]["id"] == group.pk
    by_name = _post(garden_admin, "ByName", "Wholesale partners")
    assert by_name.status_code == 201, by_name.content
    assert by_name.json()["C_BP_Group_ID"]["id"] == group.pk


def test_the_shown_identifier_matches(garden_admin, group_identified_by_value_and_name):
    group = _garden_group("Retail_chain", "RT_1")
    shown = garden_admin.get(f"/api/v1/models/c_bp_group/{group.pk}").json()
    response = _post(garden_admin, "ByShown", "RT_1_Retail_chain")
    assert response.status_code == 201, response.content
    assert response.json()["C_BP_Group_ID"]["id"] == group.pk
    assert response.json()["C_BP_Group_ID"]["identifier"] == "RT_1_Retail_chain"
    assert shown["id"] == group.pk


def test_ambiguous_identifier_is_400(garden_admin, group_identified_by_value_and_name):
    _garden_group("Same", "S1")
    _garden_group("Other", "Same")
    response = _post(garden_admin, "Ambiguous", "Same")
    assert response.status_code == 400, response.content
    assert "ambiguous" in response.json()["detail"]


def test_missing_identifier_is_400(garden_admin, group_identified_by_value_and_name):
    response = _post(garden_admin, "Missing", "No group of that name")
    assert response.status_code == 400
    assert "C_BP_Group_ID" in response.json()["detail"]


def test_single_identifier_ambiguous_is_400(garden_admin):
    _garden_group("Twin", "T1")
    _garden_group("Twin", "T2")
    response = _post(garden_admin, "Twins", "Twin")
    assert response.status_code == 400
    assert "ambiguous" in response.json()["detail"]


def test_other_clients_rows_never_match(garden_admin, demo):
    acme = BPGroup.objects.filter(client__name="Acme").first()
    assert acme is not None
    response = _post(garden_admin, "Foreign", acme.name)
    garden_names = set(BPGroup.objects.filter(client__name="GardenWorld").values_list("name", flat=True))
    if acme.name not in garden_names:
        assert response.status_code == 400


@pytest.mark.django_db
def test_text_that_cannot_be_a_typed_column_matches_nothing():
    assert list(OrderLine.objects.filter(_identifier_q(OrderLine, ["line"], "ten"))) == []
    assert list(OrderLine.objects.filter(_identifier_q(OrderLine, ["line"], "9" * 40))) == []
