"""The web UI's access rules without a browser: sign-in required, the login session's rules, and
another tenant's ids answering 404 pages (the authorization matrix of the UI's pages)."""

from __future__ import annotations

import pytest

from apps.accounts.models import AuthSession, User
from apps.dms.models import DMSFile
from apps.erp.models import Order

pytestmark = pytest.mark.django_db

PAGES = ["/ui/documents/", "/ui/orders/", "/ui/approvals/"]


def garden_ids():
    order = Order.objects.filter(client__name="GardenWorld").order_by("id").first()
    folder = DMSFile.objects.filter(client__name="GardenWorld", is_directory=True).order_by("id").first()
    return order, folder


def test_root_redirects_to_the_ui(client):
    answer = client.get("/")
    assert answer.status_code == 302 and answer["Location"] == "/ui/"


@pytest.mark.parametrize("path", PAGES)
def test_pages_need_sign_in(demo, client, path):
    answer = client.get(path)
    assert answer.status_code == 302
    assert answer["Location"].startswith("/ui/login?next=")


def test_scripts_calls_without_sign_in_are_401(demo, client):
    answer = client.post("/ui/upload-token", HTTP_ACCEPT="application/json")
    assert answer.status_code in (401, 403)  # CSRF or sign-in: never a token


def test_wrong_password_is_said_in_words(demo, client):
    answer = client.post("/ui/login", {"username": "GardenUser", "password": "nope"})
    assert answer.status_code == 401
    assert b"user name or password is not right" in answer.content


def test_step_two_needs_step_one(demo, client):
    answer = client.get("/ui/login/context")
    assert answer.status_code == 302 and answer["Location"] == "/ui/login"


def test_sign_in_binds_the_ui_to_a_login_session(ui_user):
    session = AuthSession.objects.get(user__username="GardenUser", revoked_at=None)
    assert session.client.name == "GardenWorld"
    assert ui_user.get("/ui/documents/").status_code == 200


def test_context_choice_lists_roles_of_the_client(demo, client):
    client.post("/ui/login", {"username": "GardenAdmin", "password": "GardenAdmin"})
    page = client.get("/ui/login/context")
    assert b"GardenWorld Admin" in page.content and b"HQ" in page.content


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_for_each_tenant(ui_admin, ui_acme, path):
    assert ui_admin.get(path).status_code == 200
    assert ui_acme.get(path).status_code == 200


def test_another_tenants_ids_are_404_pages(ui_acme):
    order, folder = garden_ids()
    for path in (
        f"/ui/orders/{order.pk}/", f"/ui/documents/{folder.pk}/",
        f"/ui/documents/item/{folder.pk}/rename", f"/ui/documents/item/{folder.pk}/delete",
        f"/ui/history/c_order/{order.pk}/",
    ):
        answer = ui_acme.get(path)
        assert answer.status_code == 404, path
        assert b"<html" in answer.content and b"Traceback" not in answer.content
    answer = ui_acme.post(
        f"/ui/documents/item/{folder.pk}/delete", {"csrfmiddlewaretoken": ui_acme.csrf}
    )
    assert answer.status_code == 404
    assert DMSFile.objects.filter(pk=folder.pk).exists()


def test_own_pages_show_the_tenants_rows_only(ui_admin, ui_acme):
    order, _ = garden_ids()
    assert ui_admin.get(f"/ui/orders/{order.pk}/").status_code == 200
    listing = ui_acme.get("/ui/orders/").content.decode()
    assert order.document_no not in listing


def test_logout_ends_the_login_session(ui_user):
    answer = ui_user.post("/ui/logout", {"csrfmiddlewaretoken": ui_user.csrf})
    assert answer.status_code == 302
    assert not AuthSession.objects.filter(user__username="GardenUser", revoked_at=None).exists()
    assert ui_user.get("/ui/documents/").status_code == 302


def test_revoked_or_deactivated_sessions_end_the_ui_session(ui_user, ui_admin):
    AuthSession.objects.filter(user__username="GardenUser").update(revoked_reason="test")
    from django.utils import timezone

    AuthSession.objects.filter(user__username="GardenUser").update(revoked_at=timezone.now())
    assert ui_user.get("/ui/documents/").status_code == 302
    User.objects.filter(username="GardenAdmin").update(is_active=False)
    assert ui_admin.get("/ui/documents/").status_code == 302


def test_posts_need_the_csrf_token(ui_user):
    answer = ui_user.post("/ui/documents/new-folder", {"name": "x"})
    assert answer.status_code == 403


def test_upload_token_is_a_bearer_of_the_same_login_session(ui_user):
    answer = ui_user.post("/ui/upload-token", HTTP_X_CSRFTOKEN=ui_user.csrf, HTTP_ACCEPT="application/json")
    assert answer.status_code == 200
    token = answer.json()["token"]
    from rest_framework.test import APIClient

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    tus = {"HTTP_TUS_RESUMABLE": "1.0.0", "HTTP_UPLOAD_LENGTH": "3"}
    assert api.post("/api/v1/tus/", **tus).status_code == 201
    # Only the upload endpoints take it (tests/ui/test_upload_token_scope.py).
    assert api.get("/api/v1/auth/context").status_code == 401
    ui_user.post("/ui/logout", {"csrfmiddlewaretoken": ui_user.csrf})
    assert api.post("/api/v1/tus/", **tus).status_code == 401


def test_folder_create_rename_move_delete(ui_user):
    workspaces = DMSFile.objects.get(client__name="GardenWorld", name="workspaces")
    post = {"csrfmiddlewaretoken": ui_user.csrf}
    assert ui_user.post(f"/ui/documents/{workspaces.pk}/new-folder", {**post, "name": "Plans"}).status_code == 302
    plans = DMSFile.objects.get(parent=workspaces, name="Plans")
    assert ui_user.post(f"/ui/documents/{workspaces.pk}/new-folder", {**post, "name": "Old"}).status_code == 302
    old = DMSFile.objects.get(parent=workspaces, name="Old")
    answer = ui_user.post(f"/ui/documents/item/{plans.pk}/rename", {**post, "name": "Old"})
    assert answer.status_code == 409 and b"already exists" in answer.content
    assert ui_user.post(f"/ui/documents/item/{plans.pk}/rename", {**post, "name": "Plans 2027"}).status_code == 302
    assert ui_user.post(f"/ui/documents/item/{plans.pk}/move", {**post, "target": str(old.pk)}).status_code == 302
    plans.refresh_from_db()
    assert plans.name == "Plans 2027" and plans.parent_id == old.pk
    answer = ui_user.post(f"/ui/documents/item/{old.pk}/move", {**post, "target": str(plans.pk)})
    assert answer.status_code == 400 and b"into itself" in answer.content
    assert ui_user.get(f"/ui/documents/item/{old.pk}/delete").status_code == 200
    assert ui_user.post(f"/ui/documents/item/{old.pk}/delete", post).status_code == 302
    assert not DMSFile.objects.filter(pk__in=[old.pk, plans.pk]).exists()


def test_a_folder_of_many_files_pages(ui_user):
    workspaces = DMSFile.objects.get(client__name="GardenWorld", name="workspaces")
    DMSFile.objects.bulk_create([
        DMSFile(client_id=workspaces.client_id, org_id=workspaces.org_id, parent=workspaces,
                name=f"file-{n:04}.txt", size=n, is_directory=False)
        for n in range(1000)
    ])
    page = ui_user.get(f"/ui/documents/{workspaces.pk}/?sort=-name").content.decode()
    assert "file-0999.txt" in page and "file-0900.txt" not in page
    assert "Page 1 of 20" in page
    page = ui_user.get(f"/ui/documents/{workspaces.pk}/?q=0123").content.decode()
    assert "file-0123.txt" in page and "1 item" in page


def test_pages_cost_a_few_queries_whatever_the_folder_size(ui_admin, django_assert_max_num_queries):
    workspaces = DMSFile.objects.get(client__name="GardenWorld", name="workspaces")
    DMSFile.objects.bulk_create([
        DMSFile(client_id=workspaces.client_id, org_id=workspaces.org_id, parent=workspaces,
                name=f"scan-{n:04}.pdf", size=n, is_directory=False)
        for n in range(1000)
    ])
    order, _ = garden_ids()
    for path in ("/ui/documents/", f"/ui/documents/{workspaces.pk}/", "/ui/orders/",
                 f"/ui/orders/{order.pk}/", "/ui/approvals/"):
        with django_assert_max_num_queries(20):
            assert ui_admin.get(path).status_code == 200


def test_sign_in_returns_to_the_page_asked_for(demo, client):
    wanted = "/ui/documents/?q=a&sort=-date"
    answer = client.get(wanted)
    login_url = answer["Location"]
    client.get(login_url)
    answer = client.post(login_url, {"username": "GardenUser", "password": "GardenUser", "next": wanted})
    answer = client.post(answer["Location"], {"action": "login", "next": client.get(answer["Location"]).context["next"]})
    assert answer["Location"] == wanted


def test_sign_in_never_redirects_off_site(demo, client):
    answer = client.post("/ui/login", {"username": "GardenUser", "password": "GardenUser", "next": "https://evil.example/"})
    answer = client.post(answer["Location"], {"action": "login", "next": "https://evil.example/"})
    assert answer["Location"] == "/ui/"


def test_a_user_without_roles_is_told_so(demo, client):
    answer = client.post("/ui/login", {"username": "admin", "password": "admin"})
    assert answer.status_code == 302
    page = client.get(answer["Location"])
    assert b"no role in any client" in page.content
    answer = client.post(answer["Location"], {"action": "login"})
    assert answer.status_code == 400
    assert not AuthSession.objects.filter(user__username="admin").exists()
