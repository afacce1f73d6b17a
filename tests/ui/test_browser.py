"""The web UI in a real browser: Debian's headless Chromium driven by Playwright, against gunicorn
as deployed (tests/live.py: production settings, static files collected and served by WhiteNoise).

Every page visited is saved as a screenshot under var/ui-screenshots/ (CI keeps them as artifacts).
"""

from __future__ import annotations

import hashlib
import io
import os
import time
from pathlib import Path

import pytest
import requests

from tests.live import LiveStack

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent.parent
SCREENSHOTS = ROOT / "var" / "ui-screenshots"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
VENDOR = ROOT / "apps" / "ui" / "static" / "ui" / "vendor" / "tus.min.js"
MiB = 1024 * 1024
WAIT = 60_000  # ms
MAX_FILE = 40 * MiB


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    if not VENDOR.exists():
        pytest.fail("tus-js-client is not in the UI's static files: run `make ui-assets` (needs node and npm)")
    # A low size limit, so that a "too large" answer can be seen without sending gigabytes.
    live = LiveStack(
        tmp_path_factory.mktemp("ui"), nodes=0, extra_env={"UPLOAD_MAX_FILE_SIZE": str(MAX_FILE)}
    )
    try:
        live.start()
        live.manage("collectstatic", "--noinput", "-v0")
        live.start_node()
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def context(browser):
    context = browser.new_context(viewport={"width": 1200, "height": 900}, accept_downloads=True)
    context.set_default_timeout(WAIT)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def page(context):
    return context.new_page()


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page, base: str, user: str, *, choose: dict[str, str] | None = None, shots: str = "") -> None:
    page.goto(f"{base}/ui/")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(user)
    if shots:
        shot(page, f"{shots}-step1")
    page.get_by_role("button", name="Next").click()
    page.wait_for_url("**/ui/login/context**")
    for label, option in (choose or {}).items():
        page.get_by_label(label, exact=True).select_option(label=option)
        page.wait_for_load_state()
    if shots:
        shot(page, f"{shots}-step2")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/ui/documents/**")


def api_token(stack: LiveStack, user: str) -> str:
    return stack.token(user)


def _dms_id(stack: LiveStack, token: str, path: str) -> int:
    """The DMS id of a folder, walking the Axelor DMS listing from the root."""
    parent = None
    for name in path.strip("/").split("/"):
        params = {"parent": parent} if parent else {}
        answer = requests.get(f"{stack.urls[0]}/ws/dms/files", params=params,
                              headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert answer.status_code == 200, answer.text
        parent = next(item["id"] for item in answer.json()["data"] if item["fileName"] == name)
    return int(parent)


def document_sha256(stack: LiveStack, token: str, path: str) -> str:
    answer = requests.get(f"{stack.urls[0]}/api/v1/path/{path}",
                          headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()["properties"]["file:content"]["digest"]


def random_file(path: Path, size: int, seed: int) -> str:
    digest = hashlib.sha256()
    block = hashlib.sha256(str(seed).encode()).digest() * (MiB // 32)
    with path.open("wb") as out:
        written = 0
        counter = 0
        while written < size:
            piece = (counter.to_bytes(8, "big") + block)[: min(MiB, size - written)]
            out.write(piece)
            digest.update(piece)
            written += len(piece)
            counter += 1
    return digest.hexdigest()


def slow_patches(page, delay: float) -> None:
    """Hold each tus PATCH for ``delay`` seconds, so a 30 MiB upload on loopback can be watched."""

    def handle(route):
        if route.request.method == "PATCH":
            time.sleep(delay)
        route.continue_()

    page.route("**/api/v1/tus/**", handle)


def upload_events(page) -> list[dict]:
    return page.evaluate("window.ledgerdocUploads ? window.ledgerdocUploads.events : []")


# --- sign-in ------------------------------------------------------------------------------------


def test_sign_in_with_client_and_role_choice(stack, page):
    base = stack.urls[0]
    sign_in(page, base, "GardenAdmin", shots="01-login", choose={
        "Client": "GardenWorld", "Role": "GardenWorld Admin", "Organization": "HQ",
        "Warehouse": "HQ Warehouse",
    })
    header = page.locator("header .who").inner_text()
    assert "GardenAdmin" in header and "GardenWorld Admin" in header and "HQ Warehouse" in header
    shot(page, "02-documents-root")


def test_wrong_password_in_words(stack, page):
    page.goto(f"{stack.urls[0]}/ui/login")
    page.get_by_label("User name").fill("GardenUser")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Next").click()
    assert "not right" in page.get_by_role("alert").inner_text()


# --- documents ------------------------------------------------------------------------------------


def test_folder_create_rename_delete(stack, page):
    base = stack.urls[0]
    sign_in(page, base, "GardenUser")
    workspaces = _dms_id(stack, api_token(stack, "GardenUser"), "default-domain/workspaces")
    page.goto(f"{base}/ui/documents/{workspaces}/")
    page.get_by_label("New folder").fill("Contracts 2027")
    page.get_by_role("button", name="Create folder").click()
    page.locator("table.files").get_by_role("link", name="Contracts 2027", exact=True).wait_for()
    shot(page, "03-documents-folder")
    page.get_by_role("link", name="Rename Contracts 2027").click()
    shot(page, "04-rename")
    page.get_by_label("New name").fill("Signed contracts")
    page.get_by_role("button", name="Rename").click()
    page.locator("table.files").get_by_role("link", name="Signed contracts", exact=True).wait_for()
    assert page.locator("table.files").get_by_role("link", name="Contracts 2027", exact=True).count() == 0
    page.get_by_role("link", name="Move Signed contracts").click()
    shot(page, "05-move")
    page.goto(f"{base}/ui/documents/{workspaces}/")
    page.get_by_role("link", name="Delete Signed contracts").click()
    assert "cannot be undone" in page.locator("main").inner_text()
    shot(page, "06-delete-confirm")
    page.get_by_role("button", name="Delete").click()
    page.wait_for_url(f"**/ui/documents/{workspaces}/")
    assert page.locator("table.files").get_by_role("link", name="Signed contracts", exact=True).count() == 0


def test_upload_30_mib_with_progress_events(stack, page, tmp_path):
    base = stack.urls[0]
    sign_in(page, base, "GardenUser")
    token = api_token(stack, "GardenUser")
    workspaces = _dms_id(stack, token, "default-domain/workspaces")
    page.goto(f"{base}/ui/documents/{workspaces}/")
    source = tmp_path / "ledger-30mib.bin"
    expected = random_file(source, 30 * MiB, seed=1)
    slow_patches(page, 0.2)
    page.set_input_files("#upload-input", str(source))
    item = page.locator('li.upload[data-file="ledger-30mib.bin"]')
    item.locator("[data-speed]").filter(has_text="/s").wait_for()
    shot(page, "07-upload-progress")
    page.locator('li.upload[data-file="ledger-30mib.bin"][data-state="done"]').wait_for()
    progress = [e for e in upload_events(page) if e["kind"] == "progress"]
    assert len(progress) >= 5
    sent = [e["sent"] for e in progress]
    assert sent == sorted(sent) and sent[-1] == 30 * MiB and progress[-1]["total"] == 30 * MiB
    # The new file is in the list without a reload.
    page.locator('tr[data-name="ledger-30mib.bin"]').wait_for()
    shot(page, "08-upload-done")
    assert document_sha256(stack, token, "default-domain/workspaces/ledger-30mib.bin") == expected


def test_reload_mid_upload_then_resume_to_the_right_sha256(stack, page, tmp_path):
    base = stack.urls[0]
    sign_in(page, base, "GardenUser")
    token = api_token(stack, "GardenUser")
    workspaces = _dms_id(stack, token, "default-domain/workspaces")
    page.goto(f"{base}/ui/documents/{workspaces}/")
    source = tmp_path / "resumed-30mib.bin"
    expected = random_file(source, 30 * MiB, seed=2)
    slow_patches(page, 0.5)
    page.set_input_files("#upload-input", str(source))
    page.wait_for_function(
        "() => { const li = document.querySelector('li.upload[data-file=\"resumed-30mib.bin\"]');"
        " return li && parseInt(li.getAttribute('data-offset') || '0', 10) >= 12 * 1024 * 1024; }"
    )
    page.reload()
    box = page.locator("[data-resumable]")
    box.filter(has_text="resumed-30mib.bin").wait_for()
    shot(page, "09-upload-interrupted")
    page.unroute("**/api/v1/tus/**")
    page.set_input_files("#upload-input", str(source))
    done = page.locator('li.upload[data-file="resumed-30mib.bin"][data-state="done"]')
    done.wait_for()
    resumed_at = int(done.get_attribute("data-resumed-at") or "0")
    assert resumed_at >= 8 * MiB, resumed_at
    progress = [e for e in upload_events(page) if e["kind"] == "progress"]
    assert progress[0]["sent"] >= 8 * MiB  # it went on from where the server stopped
    page.locator('tr[data-name="resumed-30mib.bin"]').wait_for()
    assert document_sha256(stack, token, "default-domain/workspaces/resumed-30mib.bin") == expected


def test_a_dropped_network_resumes_by_itself(stack, context, tmp_path):
    page = context.new_page()
    base = stack.urls[0]
    sign_in(page, base, "GardenUser")
    page.goto(f"{base}/ui/documents/")
    source = tmp_path / "offline.bin"
    expected = random_file(source, 12 * MiB, seed=5)
    slow_patches(page, 0.4)
    page.set_input_files("#upload-input", str(source))
    page.wait_for_function(
        "() => { const li = document.querySelector('li.upload[data-file=\"offline.bin\"]');"
        " return li && parseInt(li.getAttribute('data-offset') || '0', 10) >= 4 * 1024 * 1024; }"
    )
    context.set_offline(True)
    page.locator('li.upload[data-file="offline.bin"][data-state="offline"]').wait_for()
    shot(page, "10b-upload-offline")
    context.set_offline(False)
    page.locator('li.upload[data-file="offline.bin"][data-state="done"]').wait_for()
    assert document_sha256(stack, api_token(stack, "GardenUser"), "offline.bin") == expected


def test_pause_and_resume(stack, page, tmp_path):
    base = stack.urls[0]
    sign_in(page, base, "GardenUser")
    page.goto(f"{base}/ui/documents/")
    source = tmp_path / "paused.bin"
    expected = random_file(source, 12 * MiB, seed=3)
    slow_patches(page, 0.4)
    page.set_input_files("#upload-input", str(source))
    item = page.locator('li.upload[data-file="paused.bin"]')
    page.wait_for_function(
        "() => { const li = document.querySelector('li.upload[data-file=\"paused.bin\"]');"
        " return li && parseInt(li.getAttribute('data-offset') || '0', 10) >= 4 * 1024 * 1024; }"
    )
    item.get_by_role("button", name="Pause").click()
    page.locator('li.upload[data-file="paused.bin"][data-state="paused"]').wait_for()
    shot(page, "10-upload-paused")
    item.get_by_role("button", name="Resume").click()
    page.locator('li.upload[data-file="paused.bin"][data-state="done"]').wait_for()
    token = api_token(stack, "GardenUser")
    assert document_sha256(stack, token, "paused.bin") == expected


def test_upload_errors_are_said_in_words(stack, page, tmp_path):
    base = stack.urls[0]
    sign_in(page, base, "GardenUser")
    page.goto(f"{base}/ui/documents/")
    # Over the server's size limit: refused before any byte is sent.
    big = tmp_path / "too-big.bin"
    with big.open("wb") as out:
        out.truncate(MAX_FILE + 1)
    page.set_input_files("#upload-input", str(big))
    error = page.locator('li.upload[data-file="too-big.bin"] .error')
    error.wait_for()
    assert "too large" in error.inner_text()
    # Bytes damaged on the way (one bit of the body flipped): the checksum check refuses them.
    damaged = tmp_path / "damaged.bin"
    random_file(damaged, 200_000, seed=4)

    def flip(route):
        if route.request.method == "PATCH":
            body = bytearray(route.request.post_data_buffer)
            body[100] ^= 1
            route.continue_(post_data=bytes(body))
        else:
            route.continue_()

    page.route("**/api/v1/tus/**", flip)
    page.set_input_files("#upload-input", str(damaged))
    error = page.locator('li.upload[data-file="damaged.bin"] .error')
    error.wait_for()
    assert "arrived damaged" in error.inner_text()
    shot(page, "19-upload-errors")
    page.unroute("**/api/v1/tus/**")
    # A name already taken: the folder page says so.
    page.get_by_label("New folder").fill("default-domain")
    page.get_by_role("button", name="Create folder").click()
    assert "already exists" in page.locator(".messages").inner_text()


def test_thumbnail_appears_for_an_image(stack, page, tmp_path):
    from PIL import Image

    base = stack.urls[0]
    sign_in(page, base, "GardenUser")
    workspaces = _dms_id(stack, api_token(stack, "GardenUser"), "default-domain/workspaces")
    page.goto(f"{base}/ui/documents/{workspaces}/")
    image = tmp_path / "garden-plan.png"
    out = io.BytesIO()
    Image.new("RGB", (320, 200), "green").save(out, format="PNG")
    image.write_bytes(out.getvalue())
    page.set_input_files("#upload-input", str(image))
    thumb = page.locator('tr[data-name="garden-plan.png"] td.thumb img')
    thumb.wait_for()
    page.wait_for_function(
        "() => { const img = document.querySelector('tr[data-name=\"garden-plan.png\"] td.thumb img');"
        " return img && img.complete && img.naturalWidth > 0; }"
    )
    shot(page, "11-thumbnail")


def test_documents_at_phone_width(stack, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        sign_in(page, stack.urls[0], "GardenUser")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 400, width
        shot(page, "12-documents-phone")
    finally:
        context.close()


def test_keyboard_reaches_the_uploader_and_the_list(stack, page):
    sign_in(page, stack.urls[0], "GardenUser")
    labels = page.evaluate(
        "() => Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea'))"
        ".filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')).map(el => el.outerHTML)"
    )
    assert labels == []
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"


# --- orders and attachments ----------------------------------------------------------------------


def demo_order_id(stack: LiveStack, token: str) -> int:
    answer = requests.get(f"{stack.urls[0]}/api/v1/models/c_order", params={"$top": 1, "$orderby": "C_Order_ID"},
                          headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()["records"][0]["id"]


def test_order_attachment_upload_and_download(stack, page, tmp_path):
    base = stack.urls[0]
    sign_in(page, base, "GardenUser")
    order = demo_order_id(stack, api_token(stack, "GardenUser"))
    page.goto(f"{base}/ui/orders/")
    shot(page, "13-orders")
    page.goto(f"{base}/ui/orders/{order}/")
    note = tmp_path / "delivery-note.txt"
    note.write_text("Deliver to the back gate before noon.\n")
    page.set_input_files("#upload-input", str(note))
    link = page.locator("[data-attachments] a", has_text="delivery-note.txt").first
    link.wait_for()
    shot(page, "14-order-detail")
    with page.expect_download() as waiting:
        link.click()
    download = waiting.value
    assert Path(download.path()).read_text() == "Deliver to the back gate before noon.\n"
    page.get_by_role("link", name="Delete attachment delivery-note.txt").click()
    shot(page, "14b-attachment-delete-confirm")
    page.get_by_role("button", name="Delete").click()
    page.wait_for_url(f"**/ui/orders/{order}/**")
    assert page.locator("[data-attachments] a", has_text="delivery-note.txt").count() == 0


# --- approvals ------------------------------------------------------------------------------------


def test_over_limit_order_is_approved_in_the_inbox(stack, browser):
    base = stack.urls[0]
    token = api_token(stack, "GardenUser")
    answer = requests.post(f"{base}/api/v1/models/c_order", headers={"Authorization": f"Bearer {token}"}, json={
        "C_BPartner_ID": {"identifier": "Joe Block", "tableName": "C_BPartner"},
        "Description": "UI test: orchard for Joe Block",
        "C_OrderLine": [{"M_Product_ID": {"identifier": "Oak Tree", "tableName": "M_Product"},
                         "QtyOrdered": 200, "PriceActual": 61.75}],
    }, timeout=30)
    assert answer.status_code == 201, answer.text
    order = answer.json()["id"]

    user = browser.new_context()
    admin = browser.new_context()
    try:
        page = user.new_page()
        sign_in(page, base, "GardenUser")
        page.goto(f"{base}/ui/orders/{order}/")
        page.get_by_role("button", name="Complete order").click()
        assert "waits for approval" in page.locator(".messages").inner_text()
        assert page.get_by_test_id("order-status").inner_text() == "In Progress"

        page = admin.new_page()
        sign_in(page, base, "GardenAdmin")
        assert int(page.get_by_test_id("approvals-count").inner_text()) >= 1
        page.goto(f"{base}/ui/approvals/")
        card = page.locator("article.activity", has_text="12350.00").filter(has_text="Approve order")
        assert "12350.00" in card.inner_text()
        shot(page, "15-approvals-inbox")
        card.get_by_label("Message (optional)").fill("OK for the orchard")
        card.get_by_role("button", name="Approve").click()
        assert "Approved" in page.locator(".messages").inner_text()
        card = page.locator("article.activity", has_text="Set order priority").first
        card.get_by_label("PriorityRule").select_option(label="High")
        card.get_by_role("button", name="Set").click()
        page.goto(f"{base}/ui/orders/{order}/")
        assert page.get_by_test_id("order-status").inner_text() == "Completed"
        history = page.locator("ol.history").inner_text()
        assert "OK for the orchard" in history
        shot(page, "16-order-history")
        page.goto(f"{base}/ui/history/c_order/{order}/")
        assert "OK for the orchard" in page.locator("main").inner_text()
        shot(page, "16b-workflow-history")
    finally:
        user.close()
        admin.close()


# --- tenants and sign-out --------------------------------------------------------------------------


def test_acme_admin_sees_none_of_gardenworlds_pages(stack, page):
    base = stack.urls[0]
    garden = api_token(stack, "GardenUser")
    order = demo_order_id(stack, garden)
    workspaces = _dms_id(stack, garden, "default-domain/workspaces")
    sign_in(page, base, "AcmeAdmin")
    for path in (
        f"/ui/orders/{order}/", f"/ui/documents/{workspaces}/",
        f"/ui/documents/item/{workspaces}/rename", f"/ui/documents/item/{workspaces}/delete",
        f"/ui/history/c_order/{order}/",
    ):
        answer = page.goto(f"{base}{path}")
        assert answer.status == 404, path
        assert page.get_by_role("heading", level=1).inner_text() == "Not Found"
    shot(page, "17-acme-404")
    page.goto(f"{base}/ui/orders/")
    assert "Joe Block" not in page.locator("main").inner_text()


def test_logout_ends_the_session(stack, page):
    base = stack.urls[0]
    sign_in(page, base, "GardenUser")
    token = page.evaluate(
        "() => fetch('/ui/upload-token', {method: 'POST', headers: {'X-CSRFToken': document.body.dataset.csrf,"
        " 'Accept': 'application/json'}}).then(r => r.json()).then(b => b.token)"
    )
    headers = {"Authorization": f"Bearer {token}", "Tus-Resumable": "1.0.0", "Upload-Length": "3"}
    assert requests.post(f"{base}/api/v1/tus/", headers=headers, timeout=30).status_code == 201
    # The page's upload token opens the uploads only (tests/ui/test_upload_token_scope.py).
    assert requests.get(f"{base}/api/v1/auth/context", headers=headers, timeout=30).status_code == 401
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/ui/login")
    assert "signed out" in page.locator(".messages").inner_text()
    shot(page, "18-signed-out")
    page.goto(f"{base}/ui/documents/")
    assert "/ui/login" in page.url
    assert requests.post(f"{base}/api/v1/tus/", headers=headers, timeout=30).status_code == 401

