"""The web UI and the API docs under their Content-Security-Policy in a real browser: Debian's
headless Chromium driven by Playwright against gunicorn as deployed (the harness of
tests/ui/test_browser.py). Every page is used as a person would (sign-in steps, uploads, the order
page, approvals, errors, Swagger UI's "Try it out") while the page reports each
``securitypolicyviolation`` event to the test, and the console's CSP and Permissions-Policy errors
and the pages' uncaught exceptions are collected: all must stay empty. A first test shows the
listener does see a violation, so an empty list means something.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tests.ui.test_browser import (  # noqa: F401  (stack and browser are fixtures)
    WAIT,
    MiB,
    _dms_id,
    api_token,
    browser,
    document_sha256,
    random_file,
    shot,
    sign_in,
    stack,
)

pytestmark = pytest.mark.e2e

# Runs in every page before its own scripts (Playwright's add_init_script is CDP's
# Page.addScriptToEvaluateOnNewDocument): each violation goes to the test through a binding.
REPORT_VIOLATIONS = """
window.addEventListener("securitypolicyviolation", function (event) {
  window.ledgerdocCspViolation({
    directive: event.effectiveDirective, blocked: event.blockedURI, source: event.sourceFile,
    line: event.lineNumber, sample: event.sample, page: document.location.href,
  });
}, true);
"""
POLICY_WORDS = ("Content Security Policy", "Content-Security-Policy", "Permissions-Policy", "Permissions policy")


class Observer:
    """What the pages of one browser context said about the policy."""

    def __init__(self) -> None:
        self.violations: list[dict] = []
        self.console: list[str] = []
        self.errors: list[str] = []

    def watch(self, page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"{page.url}: {error}"))

    def report(self, violation: dict) -> None:
        self.violations.append(violation)

    def _console(self, message) -> None:
        if any(word.lower() in message.text.lower() for word in POLICY_WORDS):
            self.console.append(f"{message.type}: {message.text}")

    def assert_clean(self) -> None:
        assert self.violations == [], self.violations
        assert self.console == [], self.console
        assert self.errors == [], self.errors


@pytest.fixture
def observed(browser):  # noqa: F811
    """A browser context whose every page is observed; clean at the end or the test fails."""
    observer = Observer()
    context = browser.new_context(viewport={"width": 1200, "height": 900}, accept_downloads=True)
    context.set_default_timeout(WAIT)
    context.expose_function("ledgerdocCspViolation", observer.report)
    context.add_init_script(REPORT_VIOLATIONS)
    context.on("page", observer.watch)
    try:
        yield context, observer
    finally:
        context.close()


def page_of(observed):
    context, _ = observed
    page = context.new_page()
    return page


def csp_of(response) -> str:
    return response.headers.get("content-security-policy", "")


# --- the listener sees what it must ---------------------------------------------------------------


def test_the_policy_is_enforced_and_a_violation_is_seen(stack, observed):  # noqa: F811
    """Inline code and inline style added to a UI page are refused by Chromium and reported: the
    observer of the other tests is not blind."""
    _, observer = observed
    page = page_of(observed)
    response = page.goto(f"{stack.urls[0]}/ui/login")
    assert "script-src 'self'" in csp_of(response)
    page.evaluate("""() => {
        const script = document.createElement("script");
        script.textContent = "window.ledgerdocInlineRan = true;";
        document.body.appendChild(script);
        document.querySelector("h1").setAttribute("style", "color: red");
        const img = document.createElement("img");
        img.src = "http://192.0.2.1/pixel.png";
        document.body.appendChild(img);
    }""")
    page.wait_for_timeout(300)
    assert page.evaluate("window.ledgerdocInlineRan === undefined")
    assert page.evaluate("getComputedStyle(document.querySelector('h1')).color") != "rgb(255, 0, 0)"
    directives = {v["directive"] for v in observer.violations}
    assert {"script-src-elem", "style-src-attr", "img-src"} <= directives, observer.violations
    assert observer.console, "Chromium also says it in the console"
    assert observer.errors == []


# --- sign-in ------------------------------------------------------------------------------------


def test_sign_in_steps_and_wrong_password_under_the_policy(stack, observed):  # noqa: F811
    _, observer = observed
    page = page_of(observed)
    base = stack.urls[0]
    page.goto(f"{base}/ui/login")
    page.get_by_label("User name").fill("GardenUser")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Next").click()
    assert "not right" in page.get_by_role("alert").inner_text()
    page.get_by_label("User name").fill("GardenAdmin")
    page.get_by_label("Password").fill("GardenAdmin")
    page.get_by_role("button", name="Next").click()
    page.wait_for_url("**/ui/login/context**")
    # The step's script (a static file now): a changed organization clears the warehouse and
    # reloads the lists from the server ("Update choices").
    page.evaluate("window.ledgerdocBeforeRefresh = true")
    with page.expect_navigation():
        page.get_by_label("Organization", exact=True).select_option(label="Store")
    assert page.evaluate("window.ledgerdocBeforeRefresh === undefined")
    assert page.get_by_label("Warehouse", exact=True).locator("option", has_text="HQ Warehouse").count() == 0
    with page.expect_navigation():
        page.get_by_label("Organization", exact=True).select_option(label="HQ")
    page.get_by_label("Warehouse", exact=True).select_option(label="HQ Warehouse")
    shot(page, "csp-01-login-context")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/ui/documents/**")
    assert "HQ Warehouse" in page.locator("header .who").inner_text()
    observer.assert_clean()


# --- documents ------------------------------------------------------------------------------------


def test_documents_pages_upload_and_thumbnail_under_the_policy(stack, observed, tmp_path):  # noqa: F811
    from PIL import Image

    _, observer = observed
    page = page_of(observed)
    base = stack.urls[0]
    sign_in(page, base, "GardenUser")
    token = api_token(stack, "GardenUser")
    workspaces = _dms_id(stack, token, "default-domain/workspaces")
    response = page.goto(f"{base}/ui/documents/{workspaces}/")
    assert "default-src 'self'" in csp_of(response)
    # Uploads through tus-js-client (the upload token fetch, POST, PATCHes: connect-src 'self').
    source = tmp_path / "csp-upload.bin"
    expected = random_file(source, 3 * MiB, seed=11)
    page.set_input_files("#upload-input", str(source))
    page.locator('li.upload[data-file="csp-upload.bin"][data-state="done"]').wait_for()
    page.locator('tr[data-name="csp-upload.bin"]').wait_for()
    assert document_sha256(stack, token, "default-domain/workspaces/csp-upload.bin") == expected
    # An image: its thumbnail is polled for (documents.js) and shown (img-src 'self').
    image = tmp_path / "csp-plan.png"
    out = io.BytesIO()
    Image.new("RGB", (320, 200), "green").save(out, format="PNG")
    image.write_bytes(out.getvalue())
    page.set_input_files("#upload-input", str(image))
    page.wait_for_function(
        "() => { const img = document.querySelector('tr[data-name=\"csp-plan.png\"] td.thumb img');"
        " return img && img.complete && img.naturalWidth > 0; }"
    )
    shot(page, "csp-02-documents")
    # Folder pages: create, rename, move, delete confirmations, search, sort, the tree.
    page.get_by_label("New folder").fill("CSP folder")
    page.get_by_role("button", name="Create folder").click()
    page.locator("table.files").get_by_role("link", name="CSP folder", exact=True).wait_for()
    page.get_by_role("link", name="Rename CSP folder").click()
    page.get_by_label("New name").fill("CSP folder 2")
    page.get_by_role("button", name="Rename").click()
    page.locator("table.files").get_by_role("link", name="CSP folder 2", exact=True).wait_for()
    page.get_by_role("link", name="Move CSP folder 2").click()
    page.wait_for_load_state()
    page.goto(f"{base}/ui/documents/{workspaces}/?q=csp&sort=size")
    page.locator("table.files").get_by_role("link", name="CSP folder 2", exact=True).wait_for()
    page.goto(f"{base}/ui/documents/{workspaces}/")
    page.get_by_role("link", name="Delete CSP folder 2").click()
    page.get_by_role("button", name="Delete").click()
    page.wait_for_url(f"**/ui/documents/{workspaces}/")
    page.goto(f"{base}/ui/documents/")
    observer.assert_clean()


# --- orders, approvals, history ----------------------------------------------------------------------


def test_orders_attachments_and_approvals_under_the_policy(stack, observed, tmp_path):  # noqa: F811
    import requests

    context, observer = observed
    base = stack.urls[0]
    token = api_token(stack, "GardenUser")
    answer = requests.post(f"{base}/api/v1/models/c_order", headers={"Authorization": f"Bearer {token}"}, json={
        "C_BPartner_ID": {"identifier": "Joe Block", "tableName": "C_BPartner"},
        "Description": "CSP test: hedge for Joe Block",
        "C_OrderLine": [{"M_Product_ID": {"identifier": "Oak Tree", "tableName": "M_Product"},
                         "QtyOrdered": 300, "PriceActual": 61.75}],
    }, timeout=30)
    assert answer.status_code == 201, answer.text
    order = answer.json()["id"]
    page = page_of(observed)
    sign_in(page, base, "GardenUser")
    page.goto(f"{base}/ui/orders/")
    response = page.goto(f"{base}/ui/orders/{order}/")
    assert "frame-ancestors 'none'" in csp_of(response)
    note = tmp_path / "csp-note.txt"
    note.write_text("Under the policy.\n")
    page.set_input_files("#upload-input", str(note))
    link = page.locator("[data-attachments] a", has_text="csp-note.txt").first
    link.wait_for()
    with page.expect_download() as waiting:
        link.click()
    assert Path(waiting.value.path()).read_text() == "Under the policy.\n"
    page.get_by_role("button", name="Complete order").click()
    assert "waits for approval" in page.locator(".messages").inner_text()
    shot(page, "csp-03-order")

    admin = context.new_page()
    context.clear_cookies()
    sign_in(admin, base, "GardenAdmin")
    admin.goto(f"{base}/ui/approvals/")
    card = admin.locator("article.activity", has_text="Approve order").filter(has_text="18525.00")
    card.get_by_label("Message (optional)").fill("Fine under the policy")
    card.get_by_role("button", name="Approve").click()
    assert "Approved" in admin.locator(".messages").inner_text()
    admin.goto(f"{base}/ui/history/c_order/{order}/")
    assert "Fine under the policy" in admin.locator("main").inner_text()
    shot(admin, "csp-04-history")
    observer.assert_clean()


# --- error pages and sign-out --------------------------------------------------------------------------


def test_error_pages_and_sign_out_under_the_policy(stack, observed):  # noqa: F811
    context, observer = observed
    page = page_of(observed)
    base = stack.urls[0]
    sign_in(page, base, "GardenUser")
    for path in ("/ui/no-such-page", "/ui/documents/999999999/", "/ui/orders/999999999/"):
        response = page.goto(f"{base}{path}")
        assert response.status == 404
        assert "script-src 'self'" in csp_of(response)
        assert page.get_by_role("heading", level=1).inner_text() in ("Not found", "Not Found")
    # A form whose CSRF cookie is gone: the UI's own 403 page (not Django's inline-styled one).
    page.goto(f"{base}/ui/documents/")
    context.clear_cookies()
    page.get_by_label("New folder").fill("never")
    page.get_by_role("button", name="Create folder").click()
    assert "reload the page" in page.locator("main").inner_text()
    shot(page, "csp-05-csrf-failure")
    sign_in(page, base, "GardenUser")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/ui/login")
    assert "signed out" in page.locator(".messages").inner_text()
    observer.assert_clean()


# --- the API docs -------------------------------------------------------------------------------------


def test_api_docs_render_and_try_it_out_under_the_policy(stack, observed):  # noqa: F811
    _, observer = observed
    page = page_of(observed)
    base = stack.urls[0]
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    response = page.goto(f"{base}/api/docs/")
    assert response.status == 200 and "script-src 'self'" in csp_of(response)
    page.locator(".swagger-ui .info .title", has_text="Ledgerdoc API").wait_for()
    operation = page.locator(".opblock", has_text="/api/v1/health").first
    operation.wait_for()
    shot(page, "csp-06-api-docs")
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()
    operation.locator(".live-responses-table .response-col_status", has_text="200").wait_for()
    # Swagger UI's own styles apply (its style sheet and the page's moved rules loaded).
    assert page.evaluate("getComputedStyle(document.body).margin") == "0px"
    assert page.evaluate(
        "getComputedStyle(document.querySelector('.swagger-ui .opblock')).borderStyle"
    ) == "solid"
    assert all(url.startswith(base) or url.startswith(("data:", "blob:")) for url in requested), requested
    observer.assert_clean()
