"""Every query parameter and form field the UI reads, with what a hostile probe sends: ``²``
(``str.isdigit()`` says yes, ``int()`` refuses: a 500 before), ``١٢`` (Arabic-Indic digits that
``int()`` reads as 12: another row than the page showed) and a NUL (``%00``: PostgreSQL refuses
it in any text, a DataError before). Never a 500; an id that is not ASCII digits is a 400 page (or
the 404 of a path that matches no page), never a silent success; a NUL is the UI's 400 page and
changes nothing. The pages and forms are those of ``apps/ui/urls.py`` (a test below checks that
the sweep names every one of them)."""

from __future__ import annotations

import base64
import re
from urllib.parse import quote, urlencode

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from apps.accounts.models import AuthSession, User
from apps.dms.models import DMSFile
from apps.erp.models import Order
from apps.workflow.models import WFActivity, WFState
from tests.ui.test_approvals import over_limit_order, pending

pytestmark = pytest.mark.django_db

SUPERSCRIPT_TWO = "\u00b2"
ARABIC_TWELVE = "\u0661\u0662"
NUL = "1\x00"
DIGITS = [SUPERSCRIPT_TWO, ARABIC_TWELVE]
HOSTILE = [*DIGITS, NUL]


def arabic_indic(number: int) -> str:
    """``number`` in Arabic-Indic digits: ``int()`` reads it back, ``parse_int`` does not."""
    return "".join(chr(0x0660 + int(d)) for d in str(number))


@pytest.fixture
def local_storage(settings, tmp_path):
    storages = dict(settings.STORAGES)
    storages["default"] = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(tmp_path / "media"), "base_url": "/media/"},
    }
    settings.STORAGES = storages
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGE_BACKEND = "local"


@pytest.fixture
def rows(demo, garden_user, local_storage) -> dict:
    """GardenWorld ids for the URLs: a folder, a document in it, an order with an attachment."""
    workspaces = DMSFile.objects.get(client__name="GardenWorld", name="workspaces")
    document = DMSFile.objects.create(
        client_id=workspaces.client_id, org_id=workspaces.org_id, parent=workspaces,
        name="plan.txt", size=0, is_directory=False,
    )
    order = Order.objects.filter(client__name="GardenWorld").order_by("id").first()
    answer = garden_user.post(f"/api/v1/models/c_order/{order.pk}/attachments", {
        "name": "note.txt", "data": base64.b64encode(b"a note").decode()}, format="json")
    assert answer.status_code == 201, answer.content
    attachment = DMSFile.objects.get(client_id=order.client_id, name="note.txt", table_name__iexact="c_order")
    return {"folder": workspaces.pk, "file": document.pk, "order": order.pk, "attachment": attachment.pk,
            "table": "c_order"}


def ui_error(answer, status: int) -> str:
    """The UI's error page with ``status`` (words, no traceback); its text."""
    assert answer.status_code == status, (answer.status_code, answer.content[:300])
    page = answer.content.decode()
    assert "<html" in page and f'data-status="{status}"' in page and "Traceback" not in page
    return page


def refused_nul(answer) -> None:
    page = ui_error(answer, 400)
    assert "NUL" in page


# Each GET page with the query parameters its view reads (ids: those read as integers). Pages that
# read none get a parameter they ignore: a NUL is refused there too, other text changes nothing.
GET_PAGES = [
    ("/ui/documents/", ["q", "sort", "page"]),
    ("/ui/documents/{folder}/", ["q", "sort", "page"]),
    ("/ui/documents/item/{file}/rename", []),
    ("/ui/documents/item/{file}/move", []),
    ("/ui/documents/item/{file}/delete", []),
    ("/ui/documents/item/{file}/download", []),
    ("/ui/documents/item/{file}/thumbnail", []),
    ("/ui/documents/item/{file}/status", []),
    ("/ui/orders/", ["q", "sort", "page"]),
    ("/ui/orders/{order}/", []),
    ("/ui/orders/{order}/attachments/{attachment}/download", []),
    ("/ui/orders/{order}/attachments/{attachment}/delete", []),
    ("/ui/approvals/", []),
    ("/ui/history/{table}/{order}/", []),
]
GET_ID_PARAMS = {"page"}


def test_every_get_page_and_query_parameter(ui_admin, rows):
    failures = []
    for template, params in GET_PAGES:
        path = template.format(**rows)
        baseline = ui_admin.get(path).status_code
        assert baseline < 500, path
        for param in params or ["ignored"]:
            for value in HOSTILE:
                answer = ui_admin.get(path, {param: value})
                status = answer.status_code
                if value == NUL or param in GET_ID_PARAMS:
                    expected = 400
                else:
                    expected = baseline
                if status != expected:
                    failures.append((path, param, value, status, expected))
                elif status == 400:
                    ui_error(answer, 400)
    assert not failures, failures


def test_paging_takes_ascii_digits_only(ui_admin, rows):
    assert ui_admin.get("/ui/orders/", {"page": "1"}).status_code == 200
    assert ui_admin.get("/ui/orders/", {"page": "99999"}).status_code == 200  # the last page
    for value in ("\uff11", "\u2460", "0", "-1", "1.0", "x"):
        page = ui_error(ui_admin.get("/ui/orders/", {"page": value}), 400)
        assert "page number" in page


def test_search_boxes_with_a_nul_are_a_400_page(ui_admin, rows):
    """The probe's finding: ``?q=1%00`` was a DataError on PostgreSQL."""
    for path in ("/ui/documents/?q=1%00", f"/ui/documents/{rows['folder']}/?q=1%00", "/ui/orders/?q=1%00",
                 "/ui/orders/?sort=%00", "/ui/documents/?q%00=1"):
        refused_nul(ui_admin.get(path))


def test_path_ids_that_are_not_ascii_digits(ui_admin, rows):
    """An id in the path is ASCII digits (the URL converter's rule): anything else matches no page
    (404); a NUL anywhere in the path is a 400."""
    failures = []
    for template, _ in GET_PAGES:
        for name in re.findall(r"\{(\w+)\}", template):
            for value in HOSTILE:
                path = template.format(**{**rows, name: quote(value)})
                status = ui_admin.get(path).status_code
                expected = 400 if value == NUL else 404
                if status != expected:
                    failures.append((path, status, expected))
    assert not failures, failures


# --- forms -----------------------------------------------------------------------------------------


def post(client, path: str, fields: dict, *, multipart: bool = False, **extra):
    """A form as a browser sends it (url-encoded), or as multipart/form-data (the test client's
    default, which a hostile client may send to any form as well)."""
    data = {"csrfmiddlewaretoken": client.csrf, **fields}
    if multipart:
        return client.post(path, data, **extra)
    return client.post(path, urlencode(data), content_type="application/x-www-form-urlencoded", **extra)


def snapshot(rows: dict) -> tuple:
    """What a form could have changed: the tree's rows, the order, the attachments, the sessions."""
    return (
        sorted(DMSFile.objects.filter(client__name="GardenWorld").values_list("id", "name", "parent_id")),
        Order.objects.filter(pk=rows["order"]).values_list("doc_status", flat=True).get(),
        AuthSession.objects.filter(revoked_at=None).count(),
    )


# Each POST form of a document or an order, with the fields its view reads: (path, fields, ids).
POST_FORMS = [
    ("/ui/documents/new-folder", ["name"], set()),
    ("/ui/documents/{folder}/new-folder", ["name"], set()),
    ("/ui/documents/place", ["upload", "sha256"], {"upload"}),
    ("/ui/documents/{folder}/place", ["upload", "sha256"], {"upload"}),
    ("/ui/documents/item/{file}/rename", ["name"], set()),
    ("/ui/documents/item/{file}/move", ["target"], {"target"}),
    ("/ui/documents/item/{file}/delete", [], set()),
    ("/ui/orders/{order}/complete", [], set()),
    ("/ui/orders/{order}/attachments", ["upload", "sha256"], {"upload"}),
    ("/ui/orders/{order}/attachments/{attachment}/delete", [], set()),
    ("/ui/upload-token", [], set()),
    ("/ui/logout", [], set()),
]


def test_every_form_field_with_a_nul_is_refused_and_changes_nothing(ui_admin, rows):
    """A NUL in any field of any form (or in one it ignores) is a 400 page, and nothing happened:
    no folder, no rename, no move, no delete, the order not completed, still signed in."""
    failures = []
    for template, fields, _ in POST_FORMS:
        path = template.format(**rows)
        for field in fields or ["ignored"]:
            for multipart in (False, True):
                before = snapshot(rows)
                fields_sent = {name: "x" for name in fields} | {field: NUL}
                answer = post(ui_admin, path, fields_sent, multipart=multipart)
                if answer.status_code != 400 or b"NUL" not in answer.content:
                    failures.append((path, field, multipart, answer.status_code))
                elif snapshot(rows) != before:
                    failures.append((path, field, multipart, "changed"))
    assert not failures, failures
    assert ui_admin.get("/ui/documents/").status_code == 200


def test_every_form_field_with_unicode_digits(ui_admin, rows):
    """``²`` and ``١٢`` in each field a form reads: an id field answers 400 or 404 and changes
    nothing; a text field (a name) may take them as text; never a 500."""
    failures = []
    for template, fields, ids in POST_FORMS:
        path = template.format(**rows)
        for field in fields:
            for value in DIGITS:
                before = snapshot(rows)
                answer = post(ui_admin, path, {name: "" for name in fields} | {field: value})
                status = answer.status_code
                if status >= 500:
                    failures.append((path, field, value, status))
                elif field in ids and (status not in (400, 404) or snapshot(rows) != before):
                    failures.append((path, field, value, status, "silent"))
    assert not failures, failures


def test_moving_to_a_folder_named_in_other_digits_is_refused(ui_admin, rows):
    """``١٢`` would have been read as folder 12 by ``int()``: here the id of a real folder, written
    in Arabic-Indic digits, is refused and the document stays where it was."""
    target = DMSFile.objects.create(
        client_id=DMSFile.objects.get(pk=rows["folder"]).client_id, org_id=0, name="Archive",
        is_directory=True, parent_id=rows["folder"],
    )
    path = f"/ui/documents/item/{rows['file']}/move"
    page = ui_error(post(ui_admin, path, {"target": arabic_indic(target.pk)}), 400)
    assert "ASCII digits" in page
    assert DMSFile.objects.get(pk=rows["file"]).parent_id == rows["folder"]
    assert post(ui_admin, path, {"target": str(target.pk)}).status_code == 302
    assert DMSFile.objects.get(pk=rows["file"]).parent_id == target.pk


def test_a_refused_form_answers_a_script_in_json(ui_admin, rows):
    answer = post(ui_admin, f"/ui/documents/{rows['folder']}/new-folder", {"name": NUL},
                  HTTP_ACCEPT="application/json")
    assert answer.status_code == 400
    body = answer.json()
    assert body["status"] == 400 and "NUL" in body["detail"]


# --- approvals -------------------------------------------------------------------------------------


@pytest.fixture
def approval(garden_user, ui_user, ui_admin) -> WFActivity:
    """An order above GardenUser's approval amount, completed from its page: GardenAdmin's
    "Approve order" activity."""
    order_id = over_limit_order(garden_user)
    assert post(ui_user, f"/ui/orders/{order_id}/complete", {}).status_code == 302
    return pending("GardenAdmin", "Approve order")


def still_pending(activity: WFActivity) -> bool:
    fresh = WFActivity.objects.get(pk=activity.pk)
    return fresh.state == WFState.SUSPENDED and not fresh.processed and fresh.responsible_id == activity.responsible_id


# The approval forms with the fields each reads: (action, fields, ids).
APPROVAL_FORMS = [
    ("approve", ["message"], set()),
    ("reject", ["message"], set()),
    ("choose", ["value", "message"], set()),
    ("acknowledge", ["message"], set()),
    ("forward", ["user", "message"], {"user"}),
]


def test_forwarding_to_a_user_in_other_digits_is_a_400(ui_admin, approval):
    """The probe's finding: ``user=²`` was a 500. And ``١٢`` in Arabic-Indic digits of a real
    user's id was read by ``int()`` and forwarded there: now both are refused, nothing moves."""
    garden = User.objects.get(username="GardenAdmin").client
    clerk = User.objects.create_user(username="GardenClerk", password="GardenClerk", client=garden)
    path = f"/ui/approvals/{approval.pk}/forward"
    for value in [SUPERSCRIPT_TWO, ARABIC_TWELVE, arabic_indic(clerk.pk), "\uff11"]:
        page = ui_error(post(ui_admin, path, {"user": value}), 400)
        assert "ASCII digits" in page
        assert still_pending(approval)
    assert post(ui_admin, path, {"user": str(clerk.pk)}).status_code == 302
    assert WFActivity.objects.get(pk=approval.pk).responsible_id == clerk.pk


def test_every_approval_form_field(ui_admin, approval):
    failures = []
    for action, fields, ids in APPROVAL_FORMS:
        path = f"/ui/approvals/{approval.pk}/{action}"
        for field in fields:
            answer = post(ui_admin, path, {field: NUL})
            if answer.status_code != 400 or b"NUL" not in answer.content or not still_pending(approval):
                failures.append((action, field, "NUL", answer.status_code))
            for value in DIGITS:
                if field == "message" and action in ("approve", "reject"):
                    continue  # free text that would act on the activity: the NUL case is the point
                answer = post(ui_admin, path, {field: value})
                if answer.status_code >= 500 or (field in ids and answer.status_code not in (400, 404)):
                    failures.append((action, field, value, answer.status_code))
                elif not still_pending(approval):
                    failures.append((action, field, value, "acted"))
    assert not failures, failures
    # The path's id: ASCII digits or no page; a NUL is a 400.
    for value in DIGITS:
        assert post(ui_admin, f"/ui/approvals/{quote(value)}/approve", {}).status_code == 404
    assert post(ui_admin, "/ui/approvals/1%00/approve", {}).status_code == 400
    assert still_pending(approval)


# --- sign-in ---------------------------------------------------------------------------------------


def test_sign_in_forms(demo, client):
    """The two sign-in steps (not signed in yet): a NUL in any field is a 400 page and signs no one
    in; other digits are only names and choices that match nothing."""
    form = "application/x-www-form-urlencoded"
    for field in ("username", "password", "next"):
        fields = {"username": "GardenUser", "password": "GardenUser", "next": "/ui/"} | {field: NUL}
        refused_nul(client.post("/ui/login", urlencode(fields), content_type=form))
        refused_nul(client.post("/ui/login", fields))
    refused_nul(client.get("/ui/login", {"next": NUL}))
    for value in DIGITS:
        assert client.post("/ui/login", {"username": value, "password": value}).status_code == 401
        assert client.get("/ui/login", {"next": value}).status_code == 200
    assert not AuthSession.objects.exists()

    answer = client.post("/ui/login", {"username": "GardenAdmin", "password": "GardenAdmin"})
    assert answer.status_code == 302
    step2 = answer["Location"]
    for field in ("client", "role", "org", "warehouse", "action", "next"):
        refused_nul(client.get(step2, {field: NUL}))
        refused_nul(client.post(step2, urlencode({"action": "login", field: NUL}), content_type=form))
        refused_nul(client.post(step2, {"action": "login", field: NUL}))
        for value in DIGITS:
            assert client.get(step2, {field: value}).status_code == 200
    assert not AuthSession.objects.exists()


# --- the sweep covers the whole UI -----------------------------------------------------------------


def _routes(patterns, prefix=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _routes(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern)


def test_the_sweep_names_every_page_and_form_of_the_ui():
    """A page added to apps/ui/urls.py without a place in this sweep fails here."""
    covered = {re.sub(r"\{\w+\}", "<>", template) for template, _ in GET_PAGES}
    covered |= {re.sub(r"\{\w+\}", "<>", template) for template, _, _ in POST_FORMS}
    covered |= {"/ui/approvals/<>/<>", "/ui/", "/ui/login", "/ui/login/context"}
    routes = {
        "/" + re.sub(r"<[^>]+>", "<>", route)
        for route in _routes(get_resolver().url_patterns)
        if route.startswith("ui/") and not route.startswith("ui/^")
    }
    assert routes, "no UI routes found"
    assert routes - covered == set()
