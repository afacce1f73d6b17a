"""apps.core.downloads: the one streaming download helper (Range, ETag, Content-Disposition),
over a storage key on local storage and on S3, or over an opener."""

from __future__ import annotations

import hashlib
import io

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.test import RequestFactory

from apps.core import downloads

DATA = bytes(range(256)) * 40  # 10 240 bytes
SHA = hashlib.sha256(DATA).hexdigest()


def _body(response) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


@pytest.fixture
def stored(storage):
    backend = storages["default"]
    key = backend.save("downloads-test/blob.bin", ContentFile(DATA))
    return backend, key


def _get(method: str = "GET", **headers):
    return getattr(RequestFactory(), method.lower())("/file", **headers)


def _answer(stored_pair, request, **kwargs):
    storage, key = stored_pair
    return downloads.file_response(
        request, storage=storage, key=key, size=len(DATA), sha256=SHA,
        file_name="résumé.bin", **kwargs,
    )


def test_whole_file_streams(stored):
    response = _answer(stored, _get())
    assert response.status_code == 200 and response.streaming
    assert _body(response) == DATA
    assert response["ETag"] == f'"{SHA}"'
    assert response["Content-Length"] == str(len(DATA))
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith('attachment; filename="r_sum_.bin"')


@pytest.mark.parametrize(("header", "start", "end"), [
    ("bytes=0-0", 0, 0), ("bytes=5000-5099", 5000, 5099), ("bytes=10000-", 10000, 10239),
    ("bytes=-1", 10239, 10239),
])
def test_ranges(stored, header, start, end):
    response = _answer(stored, _get(HTTP_RANGE=header))
    assert response.status_code == 206
    assert _body(response) == DATA[start:end + 1]
    assert response["Content-Range"] == f"bytes {start}-{end}/{len(DATA)}"


def test_unsatisfiable_and_not_modified(stored):
    response = _answer(stored, _get(HTTP_RANGE="bytes=10240-"))
    assert response.status_code == 416 and response["Content-Range"] == "bytes */10240"
    response = _answer(stored, _get(HTTP_IF_NONE_MATCH=f'"{SHA}"'))
    assert response.status_code == 304 and response["ETag"] == f'"{SHA}"'


def test_head_opens_nothing(stored, monkeypatch):
    monkeypatch.setattr(downloads, "open_storage_range", lambda *a, **k: pytest.fail("opened"))
    response = _answer(stored, _get("HEAD"), inline=True)
    assert response.status_code == 200 and response["Content-Length"] == str(len(DATA))
    assert response["Content-Disposition"].startswith("inline;")


def test_ranged_reads_ask_storage_for_the_range_only(stored):
    storage, key = stored
    handle = downloads.open_storage_range(storage, key, 1000, 10, len(DATA))
    try:
        assert handle.read(10) == DATA[1000:1010]
    finally:
        handle.close()
    if downloads.is_s3(storage):
        # A ranged GetObject: the body holds the range only, not the rest of the object.
        handle = downloads.open_storage_range(storage, key, 1000, 10, len(DATA))
        assert handle.read() == DATA[1000:1010]
        handle.close()


def test_presigned_redirect_only_on_s3_when_enabled(stored, settings):
    storage, _key = stored
    settings.DOWNLOAD_REDIRECT_TO_S3 = True
    response = _answer(stored, _get())
    if downloads.is_s3(storage):
        assert response.status_code == 302
        assert "X-Amz-Signature" in response["Location"]
        assert _answer(stored, _get(), redirect=False).status_code == 200
    else:
        assert response.status_code == 200


def test_opener_is_used_and_positioned():
    calls = []

    def opener(start: int, length: int):
        calls.append((start, length))
        handle = io.BytesIO(DATA)
        handle.seek(start)
        return handle

    response = downloads.file_response(
        _get(HTTP_RANGE="bytes=100-199"), size=len(DATA), sha256=SHA, file_name="a.bin",
        opener=opener,
    )
    assert response.status_code == 206 and _body(response) == DATA[100:200]
    assert calls == [(100, 100)]
    with pytest.raises(ValueError):
        downloads.file_response(_get(), size=1, sha256=SHA, file_name="a")


def test_content_disposition_neutralizes_control_characters():
    value = downloads.content_disposition('a"b\\c\r\nd\x00e\x7f.txt')
    assert value.startswith('attachment; filename="a_b_c__d_e_.txt"')
    assert "\r" not in value and "\n" not in value and "\x00" not in value
    assert "filename*=UTF-8''a%22b%5Cc%0D%0Ad%00e%7F.txt" in value
    assert downloads.content_disposition("") == "attachment; filename=\"download\"; filename*=UTF-8''"


def test_dms_module_re_exports_core():
    from apps.dms import downloads as dms_downloads

    assert dms_downloads.content_disposition is downloads.content_disposition
    assert dms_downloads.parse_range is downloads.parse_range
    assert dms_downloads.READ_PIECE == downloads.READ_PIECE


@pytest.mark.parametrize(("stored_type", "served"), [
    ("text/plain\r\nX-Injected: 1", "application/octet-stream"),
    ("text/plain\n", "application/octet-stream"),
    ("no-subtype", "application/octet-stream"),
    ("tëxt/plain", "application/octet-stream"),
    ("", "application/octet-stream"),
    ("Text/Plain; charset=UTF-8", "text/plain; charset=UTF-8"),
])
def test_a_stored_content_type_that_is_no_media_type_is_served_as_octet_stream(stored_type, served):
    """Rows written before content types were checked must not turn a download into a 500."""
    response = downloads.file_response(
        _get(), size=len(DATA), sha256=SHA, file_name="a.bin", content_type=stored_type,
        opener=lambda start, length: io.BytesIO(DATA),
    )
    assert response.status_code == 200
    assert response["Content-Type"] == served
    assert "X-Injected" not in response


def test_media_type_normalize():
    normalize = downloads.media_type_normalize
    assert normalize(" IMAGE/Png ") == "image/png"
    assert normalize('multipart/mixed; boundary="a \\"b\\";c"') == 'multipart/mixed; boundary="a \\"b\\";c"'
    assert normalize("text/plain;") == "text/plain;"
    for bad in ("text/plain\r\n", "text/pl ain", "a/b/c", 'a/b; c="d', "a/b; c", None, 5,
                "a/b" + "; c=d" * 60):
        assert normalize(bad) is None
    # Bounded work on hostile input.
    import time

    started = time.monotonic()
    assert normalize("a/b" + " ;" * 120 + "!") is None
    assert time.monotonic() - started < 0.5


@pytest.mark.parametrize("header", ["bytes=٠-٩", "bytes=０-９", "bytes=-٩", "bytes=①-"])
def test_a_range_in_other_digits_is_no_range(header):
    """Python's ``\\d`` reads Arabic-Indic or full-width digits; a Range in them is not one (the
    whole file answers, as for any other unreadable Range)."""
    response = downloads.file_response(
        _get(HTTP_RANGE=header), opener=lambda start, length: io.BytesIO(DATA[start:start + length]),
        size=len(DATA), sha256=SHA, file_name="a.bin",
    )
    assert response.status_code == 200
    assert _body(response) == DATA
