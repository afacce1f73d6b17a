"""Security headers on every page of the web UI and on the API docs, without a browser: a
Content-Security-Policy with no inline script allowed, Referrer-Policy, X-Content-Type-Options,
Permissions-Policy and X-Frame-Options, on every route of apps/ui/urls.py (signed in and not), on
404 and error pages and on /api/docs/; the Django admin keeps its own behaviour. Then the templates
and the UI's scripts: nothing inline that the policy would refuse (tests/ui/test_csp_browser.py
shows Chromium agrees)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver

from apps.dms.models import DMSFile
from apps.erp.models import Order
from apps.ui import urls as ui_urls
from apps.workflow.models import WFActivity, WFState
from tests.ui.conftest import ui_sign_in

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent.parent
UI_TEMPLATES = ROOT / "templates" / "ui"
UI_SCRIPTS = ROOT / "apps" / "ui" / "static" / "ui"
PERMISSIONS_REFUSED = ("camera", "microphone", "geolocation", "payment", "usb")


def csp_directives(header: str) -> dict[str, list[str]]:
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            assert words[0].lower() not in directives, f"directive twice: {header}"
            directives[words[0].lower()] = words[1:]
    return directives


def assert_secured(answer, what: str) -> None:
    """The headers every UI page and the API docs carry, whatever the status."""
    csp = answer.get("Content-Security-Policy")
    assert csp, f"{what}: no Content-Security-Policy"
    policy = csp_directives(csp)
    assert policy["default-src"] == ["'self'"], what
    assert policy["script-src"] == ["'self'"], what  # no 'unsafe-inline', no 'unsafe-eval', no hosts
    assert policy["style-src"] == ["'self'"], what
    assert policy["object-src"] == ["'none'"], what
    assert policy["frame-ancestors"] == ["'none'"], what
    assert policy["base-uri"] == ["'self'"], what
    assert policy["form-action"] == ["'self'"], what
    for name, sources in policy.items():
        assert "'unsafe-inline'" not in sources and "'unsafe-eval'" not in sources, (what, name)
        assert "*" not in sources and "https:" not in sources and "http:" not in sources, (what, name)
    assert answer.get("Referrer-Policy") == "same-origin", what
    assert answer.get("X-Content-Type-Options") == "nosniff", what
    assert answer.get("X-Frame-Options") == "DENY", what
    permissions = {
        item.split("=", 1)[0].strip(): item.split("=", 1)[1].strip()
        for item in (answer.get("Permissions-Policy") or "").split(",") if "=" in item
    }
    for feature in PERMISSIONS_REFUSED:
        assert permissions.get(feature) == "()", (what, feature, answer.get("Permissions-Policy"))


def named_ui_routes() -> set[str]:
    names = set()
    for entry in ui_urls.urlpatterns:
        assert isinstance(entry, URLPattern) and not isinstance(entry, URLResolver)
        if entry.name:
            names.add(entry.name)
    return names


@pytest.fixture
def ui_paths(demo, garden_user, ui_user) -> dict[str, str]:
    """One concrete URL per named route of apps/ui/urls.py, with GardenWorld's ids (a pending
    approval included, so the inbox shows its forms)."""
    order = Order.objects.filter(client__name="GardenWorld").order_by("id").first()
    folder = DMSFile.objects.get(client__name="GardenWorld", name="workspaces")
    answer = garden_user.post("/api/v1/models/c_order", {
        "C_BPartner_ID": {"identifier": "Joe Block", "tableName": "C_BPartner"},
        "Description": "security headers: over the approval limit",
        "C_OrderLine": [{"M_Product_ID": {"identifier": "Elm Tree", "tableName": "M_Product"},
                         "QtyOrdered": 300, "PriceActual": 55}],
    }, format="json")
    assert answer.status_code == 201, answer.content
    assert ui_user.post(
        f"/ui/orders/{answer.json()['id']}/complete", {"csrfmiddlewaretoken": ui_user.csrf}
    ).status_code == 302
    activity = WFActivity.objects.filter(state=WFState.SUSPENDED, processed=False).order_by("id").first()
    paths = {
        "home": "/ui/",
        "login": "/ui/login",
        "login-context": "/ui/login/context",
        "logout": "/ui/logout",
        "upload-token": "/ui/upload-token",
        "documents": "/ui/documents/",
        "folder": f"/ui/documents/{folder.pk}/",
        "folder-create-root": "/ui/documents/new-folder",
        "folder-create": f"/ui/documents/{folder.pk}/new-folder",
        "place-root": "/ui/documents/place",
        "place": f"/ui/documents/{folder.pk}/place",
        "rename": f"/ui/documents/item/{folder.pk}/rename",
        "move": f"/ui/documents/item/{folder.pk}/move",
        "delete": f"/ui/documents/item/{folder.pk}/delete",
        "download": f"/ui/documents/item/{folder.pk}/download",
        "thumbnail": f"/ui/documents/item/{folder.pk}/thumbnail",
        "file-status": f"/ui/documents/item/{folder.pk}/status",
        "orders": "/ui/orders/",
        "order": f"/ui/orders/{order.pk}/",
        "order-complete": f"/ui/orders/{order.pk}/complete",
        "attachment-place": f"/ui/orders/{order.pk}/attachments",
        "attachment-download": f"/ui/orders/{order.pk}/attachments/999999/download",
        "attachment-delete": f"/ui/orders/{order.pk}/attachments/999999/delete",
        "approvals": "/ui/approvals/",
        "activity-action": f"/ui/approvals/{activity.pk}/approve",
        "history": f"/ui/history/c_order/{order.pk}/",
    }
    assert set(paths) == named_ui_routes(), "a UI route without a case here"
    return paths


def test_every_ui_route_carries_the_headers_signed_in_and_not(ui_paths):
    anonymous = Client(enforce_csrf_checks=True)
    signed_in = ui_sign_in("GardenAdmin")
    statuses = set()
    for name, path in ui_paths.items():
        for who, client in (("anonymous", anonymous), ("signed in", signed_in)):
            answer = client.get(path)
            assert answer.status_code < 500, (who, path, answer.status_code)
            statuses.add(answer.status_code)
            assert_secured(answer, f"GET {path} ({who}, {name})")
            # A POST without a CSRF token: the failure page (never a change).
            answer = client.post(path)
            assert answer.status_code in (403, 405), (who, path, answer.status_code)
            statuses.add(answer.status_code)
            assert_secured(answer, f"POST {path} ({who}, {name})")
    # Pages, redirects to the sign-in, refusals, missing records, wrong methods: all of them.
    assert {200, 302, 403, 404, 405} <= statuses, statuses
    # The script calls too (a JSON answer).
    answer = signed_in.post(ui_paths["upload-token"], HTTP_X_CSRFTOKEN=signed_in.csrf, HTTP_ACCEPT="application/json")
    assert answer.status_code == 200 and answer["Content-Type"].startswith("application/json")
    assert_secured(answer, "POST /ui/upload-token")


@pytest.mark.parametrize("path", ["/ui/no-such-page", "/ui/documents/999999999/", "/ui/orders/1/nothing"])
def test_404_pages_carry_the_headers(demo, path):
    for client in (Client(), ui_sign_in("GardenUser")):
        answer = client.get(path)
        assert answer.status_code in (302, 404), (path, answer.status_code)
        assert_secured(answer, path)


def test_another_tenants_page_is_a_404_page_with_the_headers(ui_acme):
    order = Order.objects.filter(client__name="GardenWorld").order_by("id").first()
    answer = ui_acme.get(f"/ui/orders/{order.pk}/")
    assert answer.status_code == 404 and b"<html" in answer.content
    assert_secured(answer, "another tenant's order")


def test_csrf_failure_is_the_uis_own_error_page(demo):
    """Django's CSRF failure page styles itself inline, which the policy refuses: the UI says it
    in its own page (JSON for its scripts), with the headers."""
    client = Client(enforce_csrf_checks=True)
    answer = client.post("/ui/login", {"username": "GardenUser", "password": "GardenUser"})
    assert answer.status_code == 403
    body = answer.content.decode()
    assert "reload the page and try again" in body and 'data-status="403"' in body
    assert "<style" not in body and "<script" not in body
    assert_secured(answer, "CSRF failure")
    answer = client.post("/ui/upload-token", HTTP_ACCEPT="application/json")
    assert answer.status_code == 403
    assert answer.json()["status"] == 403 and "reload the page" in answer.json()["detail"]
    # Not signed in: nothing was.
    assert "sessionid" not in client.cookies


@pytest.mark.parametrize("path", ["/api/docs/", "/api/docs/?script=", "/api/schema/"])
def test_api_docs_carry_the_headers(db, path):
    answer = Client().get(path)
    assert answer.status_code == 200
    assert_secured(answer, path)


def test_api_docs_page_has_nothing_inline_and_nothing_from_elsewhere(db):
    """The split Swagger view: its script comes from ?script=, Swagger UI from the sidecar's
    static files, its few style rules from a static style sheet."""
    page = Client().get("/api/docs/").content.decode()
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", page, flags=re.S | re.I)
    assert scripts and all('src="/' in attrs and not body.strip() for attrs, body in scripts), scripts
    assert any('src="/api/docs/?script=' in attrs for attrs, _ in scripts)
    assert "<style" not in page and "style=" not in page
    for url in re.findall(r'(?:src|href)="([^"]+)"', page):
        assert url.startswith("/") and not url.startswith("//"), url
        if url.startswith("/static/"):
            assert Client().get(url).status_code == 200, url
    script = Client().get("/api/docs/?script=")
    assert script["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle(" in script.content and b'"validatorUrl": null' in script.content


def test_json_api_answers_carry_nosniff_and_referrer_policy(db):
    answer = Client().get("/api/v1/health")
    assert answer.status_code == 200
    assert answer["X-Content-Type-Options"] == "nosniff"
    assert answer["Referrer-Policy"] == "same-origin"


def test_the_admin_keeps_its_own_behaviour(db):
    """The admin's pages use inline scripts and styles: no policy of ours there, Django's headers
    (and its own CSRF failure page) stay."""
    answer = Client().get("/admin/login/")
    assert answer.status_code == 200
    assert "Content-Security-Policy" not in answer
    assert answer["X-Frame-Options"] == "DENY" and answer["X-Content-Type-Options"] == "nosniff"
    answer = Client(enforce_csrf_checks=True).post("/admin/login/", {"username": "x", "password": "y"})
    assert answer.status_code == 403 and b"CSRF verification failed" in answer.content


# --- what the templates and scripts contain -----------------------------------------------------

SCRIPT_TAG = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.S | re.I)
# An attribute named on...: an inline event handler.
EVENT_HANDLER = re.compile(r"""<[a-z][^>]*?\s(on[a-z]+)\s*=""", re.S | re.I)


def ui_templates() -> list[Path]:
    found = sorted(UI_TEMPLATES.rglob("*.html"))
    assert len(found) >= 15, found
    return found


def test_no_template_has_inline_script_or_handler():
    problems = []
    for path in ui_templates():
        text = path.read_text()
        for attrs, body in SCRIPT_TAG.findall(text):
            json_block = re.search(r"""type\s*=\s*["']application/(ld\+)?json["']""", attrs)
            if body.strip() and not json_block:
                problems.append(f"{path.name}: inline <script> with code")
            if "src=" not in attrs and not json_block:
                problems.append(f"{path.name}: <script> without src")
        problems += [f"{path.name}: handler {name}=" for name in EVENT_HANDLER.findall(text)]
        if re.search(r"<style\b", text, re.I) or re.search(r"\sstyle\s*=", text, re.I):
            problems.append(f"{path.name}: inline style")
        if re.search(r"javascript:", text, re.I):
            problems.append(f"{path.name}: javascript: URL")
    assert problems == []


def test_the_uis_scripts_add_nothing_the_policy_refuses():
    """HTML the scripts build (innerHTML) must not bring handlers or style attributes either, and
    no code is made from strings."""
    scripts = sorted(UI_SCRIPTS.glob("*.js"))
    assert {p.name for p in scripts} >= {"uploader.js", "documents.js", "login_context.js"}
    for path in scripts:
        text = path.read_text()
        assert not re.search(r"""['"<\s]on[a-z]+\s*=\s*\\?['"]""", text), path.name
        assert not re.search(r"""style\s*=\s*\\?['"]""", text), path.name
        assert not re.search(r"""setAttribute\(\s*['"](style|on[a-z]+)['"]""", text), path.name
        assert not re.search(r"\beval\s*\(|new\s+Function\s*\(|setTimeout\(\s*['\"]", text), path.name


def test_the_checks_would_see_what_they_look_for():
    """The patterns above on the kinds of markup they must refuse (so an empty result is news)."""
    bad = [
        '<script>alert(1)</script>', '<script type="text/javascript">\nx()\n</script>',
        '<button onclick="go()">', '<img src=x onerror=alert(1)>', '<body\n onload="x()">',
    ]
    for markup in bad:
        tag = SCRIPT_TAG.search(markup)
        assert (tag and tag.group(2).strip()) or EVENT_HANDLER.search(markup), markup
    fine = ['<script src="/static/ui/x.js"></script>', '<button data-on="x" class="online">',
            '<script id="d" type="application/json">{"a": 1}</script>']
    for markup in fine:
        tag = SCRIPT_TAG.search(markup)
        assert not EVENT_HANDLER.search(markup), markup
        assert not tag or not tag.group(2).strip() or "application/json" in tag.group(1), markup


def test_a_public_base_url_of_another_origin_may_be_connected_to(settings):
    """tus Location URLs are made from PUBLIC_BASE_URL when set: the uploader's PATCHes go there."""
    from apps.core.security_headers import content_security_policy

    settings.PUBLIC_BASE_URL = "https://files.example.com/base/"
    policy = csp_directives(content_security_policy())
    assert policy["connect-src"] == ["'self'", "https://files.example.com"]
    assert policy["script-src"] == ["'self'"]
    settings.PUBLIC_BASE_URL = ""
    assert csp_directives(content_security_policy())["connect-src"] == ["'self'"]
