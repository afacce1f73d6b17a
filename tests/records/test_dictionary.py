"""Dictionary sync, admin pages, registry behaviour and delete conflicts."""

from __future__ import annotations

import pytest

from apps.erp.models import BPartner
from apps.records.models import Column, Form, Reference, RefList, Table, ValRule

pytestmark = pytest.mark.django_db


def test_sync_is_idempotent(demo):
    from apps.records.sync import sync_dictionary

    before = (Table.objects.count(), Column.objects.count(), Reference.objects.count(), RefList.objects.count())
    ids = set(Table.objects.values_list("id", flat=True))
    sync_dictionary()
    sync_dictionary()
    after = (Table.objects.count(), Column.objects.count(), Reference.objects.count(), RefList.objects.count())
    assert before == after and ids == set(Table.objects.values_list("id", flat=True))


def test_lazy_sync_restores_missing_rows(garden_admin):
    from apps.records.sync import reset_synced

    Table.objects.all().delete()
    reset_synced()
    body = garden_admin.get("/api/v1/models").json()
    assert "c_bpartner" in {m["model-name"] for m in body["models"]}


def test_registry_is_case_insensitive_and_404s():
    from apps.core.errors import NotFound
    from apps.records.registry import (
        approval_starters,
        register_approval_starter,
        table_spec,
    )

    assert table_spec("c_bpartner").table_name == "C_BPartner"
    assert table_spec("C_BPARTNER").model is BPartner
    with pytest.raises(NotFound):
        table_spec("nope")

    def starter(ctx, obj):
        return False

    register_approval_starter("Z_Later", starter)
    assert starter in approval_starters("z_later")


def test_table_names_are_case_insensitive_in_urls(garden_admin):
    for name in ("c_bpartner", "C_BPartner", "C_BPARTNER"):
        assert garden_admin.get(f"/api/v1/models/{name}").status_code == 200


def test_delete_referenced_row_is_409(garden_admin):
    joe = BPartner.objects.get(name="Joe Block")
    response = garden_admin.delete(f"/api/v1/models/c_bpartner/{joe.pk}")
    assert response.status_code == 409
    assert BPartner.objects.filter(pk=joe.pk).exists()


@pytest.mark.parametrize("model", [Table, Column, Reference, RefList, ValRule, Form])
def test_admin_pages(demo, client, model):
    from django.contrib.auth import get_user_model

    admin_user = get_user_model().objects.filter(is_superuser=True).first()
    if admin_user is None:
        admin_user = get_user_model().objects.create_superuser("records_admin", "a@example.com", "pw-records-admin")
    client.force_login(admin_user)
    base = f"/admin/records/{model._meta.model_name}/"
    assert client.get(base).status_code == 200
    assert client.get(base, {"q": "C_Order"}).status_code == 200
    first = model.objects.first()
    if first is not None:
        assert client.get(f"{base}{first.pk}/change/").status_code == 200
