"""Direct-to-S3 uploads in a real browser (issue 25, item 2): the web UI's uploader with the real
``@uppy/core`` + ``@uppy/aws-s3`` (Uppy's bundle, pinned in package-lock.json, vendored by
``make ui-assets``) in Debian's headless Chromium, against gunicorn as deployed (tests/live.py) on
S3 storage.

The S3 endpoint is a moto_server of this module's own with ``MOTO_DISABLE_GLOBAL_CORS=true``: the
browser's cross-origin PUTs (and its preflights) pass only because of the CORS rules put on the
bucket here, as a real bucket needs them (README, "Direct-to-S3 uploads"). The pages' strict CSP
stays on: the bucket's origin is in connect-src.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
import requests

from tests.conftest import _free_port, _wait_for
from tests.live import LiveStack
from tests.ui.test_browser import _dms_id, document_sha256, random_file, shot, sign_in

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent.parent
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
UPPY = ROOT / "apps" / "ui" / "static" / "ui" / "vendor" / "uppy.min.js"
MiB = 1024 * 1024
WAIT = 90_000  # ms


@pytest.fixture(scope="module")
def moto():
    """A moto_server whose only CORS answers are the bucket's rules."""
    port = _free_port()
    env = {**os.environ, "MOTO_DISABLE_GLOBAL_CORS": "true"}
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(url)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def stack(tmp_path_factory, moto):
    if not UPPY.exists():
        pytest.fail("Uppy is not in the UI's static files: run `make ui-assets` (needs node and npm)")
    live = LiveStack(tmp_path_factory.mktemp("uppy"), storage="s3", nodes=0)
    try:
        live.start(s3_endpoint=moto)
        live.manage("collectstatic", "--noinput", "-v0")
        live.start_node()
        origin = live.urls[0]
        s3 = s3_client(moto)
        s3.put_bucket_cors(Bucket=live.bucket, CORSConfiguration={"CORSRules": [{
            "AllowedOrigins": [origin], "AllowedMethods": ["PUT"], "AllowedHeaders": ["*"],
            "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 600,
        }]})
        yield live
    finally:
        live.stop()


def s3_client(endpoint: str):
    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="testing",
                        aws_secret_access_key="testing", region_name="us-east-1")


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
def page(browser):
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    context.set_default_timeout(WAIT)
    page = context.new_page()
    page.problems = []
    page.on("console", lambda m: page.problems.append(m.text) if m.type == "error" else None)
    try:
        yield page
    finally:
        context.close()


def watch_requests(page, moto: str) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    page.on("request", lambda r: seen.append((r.method, r.url)))
    return seen


def upload_status(stack: LiveStack, token: str, upload_id: str) -> dict:
    answer = requests.get(f"{stack.urls[0]}/api/v1/uploads/{upload_id}",
                          headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_ui_sends_a_file_of_three_parts_straight_to_s3(stack, moto, page, tmp_path):
    base = stack.urls[0]
    sign_in(page, base, "GardenUser")
    token = stack.token("GardenUser")
    workspaces = _dms_id(stack, token, "default-domain/workspaces")
    page.goto(f"{base}/ui/documents/{workspaces}/")
    policy = page.evaluate("() => fetch(location.href).then(r => r.headers.get('content-security-policy'))")
    assert f"connect-src 'self' {moto}" in policy
    seen = watch_requests(page, moto)
    source = tmp_path / "direct-11mib.bin"
    expected = random_file(source, 11 * MiB, seed=21)
    page.set_input_files("#upload-input", str(source))
    item = page.locator('li.upload[data-file="direct-11mib.bin"]')
    page.locator('li.upload[data-file="direct-11mib.bin"][data-state="done"]').wait_for()
    assert item.get_attribute("data-direct") == "s3"
    page.locator('tr[data-name="direct-11mib.bin"]').wait_for()
    shot(page, "20-direct-s3-done")
    assert document_sha256(stack, token, "default-domain/workspaces/direct-11mib.bin") == expected
    # The bytes went to S3 in three parts; the node got none of them (no PUT, no PATCH, no tus).
    parts = [url for method, url in seen if method == "PUT" and url.startswith(moto)]
    assert len(parts) == 3 and all("partNumber=" in url and "X-Amz-Expires=" in url for url in parts)
    assert not [url for method, url in seen if url.startswith(base) and method in ("PUT", "PATCH")]
    assert not [url for _m, url in seen if "/api/v1/tus" in url]
    assert [url for method, url in seen if method == "POST" and url.startswith(f"{base}/api/v1/s3/multipart")]
    assert not [p for p in page.problems if "Content Security Policy" in p or "CORS" in p], page.problems


def test_a_reload_mid_upload_resumes_from_the_parts_s3_holds(stack, moto, page, tmp_path):
    base = stack.urls[0]
    sign_in(page, base, "GardenUser")
    token = stack.token("GardenUser")
    page.goto(f"{base}/ui/documents/")
    source = tmp_path / "direct-resume.bin"
    expected = random_file(source, 16 * MiB, seed=22)
    done_parts: list[str] = []

    def two_parts_then_stall(route):
        # The first two parts reach S3; the others hang (the connection "dies") until the reload.
        if route.request.method == "PUT" and len(done_parts) >= 2:
            return
        if route.request.method == "PUT":
            done_parts.append(route.request.url)
        route.continue_()

    page.route(f"{moto}/**", two_parts_then_stall)
    page.set_input_files("#upload-input", str(source))
    deadline = time.monotonic() + 60
    while len(done_parts) < 2 and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    # The page keeps the upload's id and key once a part is in (for a resume after a reload).
    page.wait_for_function("() => Object.keys(localStorage).some(k => k.startsWith('ledgerdoc-s3::'))")
    page.wait_for_timeout(1000)
    assert len(done_parts) == 2
    page.reload()
    page.unroute(f"{moto}/**")
    seen = watch_requests(page, moto)
    page.set_input_files("#upload-input", str(source))
    page.locator('li.upload[data-file="direct-resume.bin"][data-state="done"]').wait_for()
    events = page.evaluate("window.ledgerdocUploads.events")
    assert any(e["kind"] == "resumed" for e in events)
    # Resumed: the parts S3 held were listed, not sent again.
    assert [u for m, u in seen if m == "GET" and "/api/v1/s3/multipart/" in u and "/complete" not in u
            and u.split("?")[0].rsplit("/", 1)[-1].count("-") == 4]
    sent_again = [u for m, u in seen if m == "PUT" and u.startswith(moto)]
    assert 0 < len(sent_again) <= 2, sent_again
    assert document_sha256(stack, token, "direct-resume.bin") == expected


def test_uppy_with_a_lying_hash_gets_a_failed_upload_and_no_stored_file(stack, moto, page):
    """The plugins themselves, driven from the page: a SHA-256 declared for other bytes."""
    base = stack.urls[0]
    sign_in(page, base, "GardenUser")
    page.goto(f"{base}/ui/documents/")
    page.wait_for_function("() => document.querySelector('[data-uppy-src]')")
    upload_id = page.evaluate("""async () => {
        const root = document.querySelector('[data-uploader]');
        if (!window.Uppy) {
          await new Promise((resolve, reject) => {
            const s = document.createElement('script');
            s.src = root.getAttribute('data-uppy-src'); s.onload = resolve; s.onerror = reject;
            document.head.appendChild(s);
          });
        }
        const answer = await fetch('/ui/upload-token', {method: 'POST', credentials: 'same-origin',
          headers: {'X-CSRFToken': document.body.getAttribute('data-csrf')}});
        const token = (await answer.json()).token;
        const uppy = new Uppy.Uppy({autoProceed: false});
        uppy.use(Uppy.AwsS3, {endpoint: location.origin + '/api/v1', shouldUseMultipart: true,
                              headers: {Authorization: 'Bearer ' + token}});
        const bytes = new Uint8Array(6 * 1024 * 1024 + 5).map((_, i) => i % 251);
        const id = uppy.addFile({name: 'liar.bin', type: 'application/octet-stream',
          data: new Blob([bytes]), meta: {sha256: '0'.repeat(64), size: bytes.length}});
        const result = await uppy.upload();
        if (result.failed.length) throw new Error('upload failed: ' + result.failed[0].error);
        return result.successful[0].response.body.uploadId;
    }""")
    token = stack.token("GardenUser")
    status = {}
    for _ in range(60):
        status = upload_status(stack, token, upload_id)
        if status["status"] not in ("PROCESSING", "UPLOADING", "INITIATED"):
            break
        time.sleep(0.5)
    assert status["status"] == "FAILED" and "SHA-256 mismatch" in status["message"]
    assert "sha256" not in status  # no stored file
    listed = s3_client(moto).list_objects_v2(Bucket=stack.bucket, Prefix="blobs/direct/")
    assert not [o["Key"] for o in listed.get("Contents", []) if upload_id in o["Key"]]
