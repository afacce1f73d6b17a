"""Every model registered in the admin: changelist, add page and one change page load (200)."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from apps.accounts.models import User

pytestmark = pytest.mark.django_db


def _registered():
    return sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


@pytest.fixture
def staff(demo) -> Client:
    client = Client()
    client.force_login(User.objects.get(username="admin"))
    return client


def test_admin_login_page(db):
    assert Client().get("/admin/login/").status_code == 200


def test_admin_requires_staff(demo):
    client = Client()
    client.force_login(User.objects.get(username="GardenUser"))
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_superuser_can_log_in_with_its_password(demo):
    client = Client()
    response = client.post(
        "/admin/login/?next=/admin/", {"username": "admin", "password": "admin"}
    )
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_every_admin_page_loads(staff):
    assert staff.get("/admin/").status_code == 200
    failures = []
    checked = 0
    for model, model_admin in _registered():
        opts = model._meta
        prefix = f"admin:{opts.app_label}_{opts.model_name}"
        urls = [reverse(f"{prefix}_changelist")]
        if model_admin.has_add_permission(_request_for(staff)):
            urls.append(reverse(f"{prefix}_add"))
        obj = model._default_manager.order_by("pk").first()
        if obj is not None:
            urls.append(reverse(f"{prefix}_change", args=[obj.pk]))
        for url in urls:
            checked += 1
            try:
                response = staff.get(url)
            except Exception as exc:  # noqa: BLE001 - collect every broken page, then fail once
                failures.append(f"{opts.label} {url}: {type(exc).__name__}: {exc}")
                continue
            if response.status_code != 200:
                failures.append(f"{opts.label} {url}: {response.status_code}")
    assert checked >= len(admin.site._registry)
    assert not failures, "\n".join(failures)


def test_admin_changelist_search_and_filters(staff):
    for model, model_admin in _registered():
        if not model_admin.search_fields:
            continue
        opts = model._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        response = staff.get(url, {"q": "Garden"})
        assert response.status_code == 200, f"{opts.label} search"


def _request_for(client: Client):
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = User.objects.get(username="admin")
    return request
