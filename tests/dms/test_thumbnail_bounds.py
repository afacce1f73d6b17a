"""Thumbnail rendering is bounded: hostile files get no thumbnail (or a small one) from a child
process that never maps more than THUMBNAIL_MEMORY_LIMIT, checked before anything is decoded; the
process that asks (a worker) never decodes, so it never dies of a file; a failed render marks the
file "no thumbnail" once and is never tried again, and a redelivered task does not loop.

``make bench-thumbnails`` (benchmarks/thumbnails.py) prints each bomb's peak as a ratio to the bound.
"""

import os

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.accounts.models import Client
from apps.dms import services as dms_services
from apps.dms.models import DMSFile, Thumbnail, ThumbnailRender
from apps.dms.tasks import thumbnails_make
from apps.dms.thumbnails import (
    THUMBNAIL_SIDES,
    RenderLimits,
    RenderRefused,
    render_isolated,
    thumbnails_render,
)
from benchmarks.thumbnails import (
    MIB,
    big_page_pdf,
    flate_bomb_pdf,
    jpeg_header_bomb,
    mediabox_pdf,
    nested_pdf,
    png_stream,
)

from .conftest import png_bytes

BOUND = 512 * MIB


@pytest.fixture(scope="module")
def bombs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bombs")
    return {
        "mediabox-400000.pdf": (mediabox_pdf(folder / "mediabox.pdf"), "application/pdf"),
        "rgba-9999.png": (png_stream(folder / "rgba.png", 9999, 9999, color_type=6), "image/png"),
        "bilevel-50000.png": (png_stream(folder / "bilevel.png", 50_000, 50_000, color_type=0, bit_depth=1),
                              "image/png"),
        "jpeg-header-30000.jpg": (jpeg_header_bomb(folder / "header.jpg"), "image/jpeg"),
        "nested-100000.pdf": (nested_pdf(folder / "nested.pdf"), "application/pdf"),
        "page-14400.pdf": (big_page_pdf(folder / "page.pdf"), "application/pdf"),
        "flate-bomb-256M.pdf": (flate_bomb_pdf(folder / "flate.pdf", 256 * MIB), "application/pdf"),
    }


def test_the_default_bounds_are_the_settings(settings):
    limits = RenderLimits.from_settings()
    assert limits.memory_limit == settings.THUMBNAIL_MEMORY_LIMIT == BOUND
    assert limits.max_pixels == settings.THUMBNAIL_MAX_PIXELS < 89_478_485 // 2  # Pillow's default
    assert limits.max_seconds == settings.THUMBNAIL_MAX_SECONDS


# What each file must give under the default bounds: refused before decoding, or a small thumbnail.
EXPECTED = {
    "mediabox-400000.pdf": "not a page size",
    "rgba-9999.png": "over the budget",
    "bilevel-50000.png": "over the budget",
    "jpeg-header-30000.jpg": None,  # decoded at 1/8 scale: within the budget; a thumbnail or none
    "nested-100000.pdf": None,
    "page-14400.pdf": "thumbnail",
    "flate-bomb-256M.pdf": None,
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_bomb_file_gets_no_thumbnail_or_a_small_one_within_the_bound(bombs, name):
    path, content_type = bombs[name]
    outcome = render_isolated(str(path), content_type, RenderLimits.from_settings())
    expected = EXPECTED[name]
    if expected == "thumbnail":
        assert outcome.rendered, outcome.refused
    elif expected is not None:
        assert not outcome.rendered and expected in outcome.refused
    for thumbnail in outcome.thumbnails:
        assert max(thumbnail.width, thumbnail.height) <= max(THUMBNAIL_SIDES)
        assert thumbnail.data.startswith(b"\x89PNG")
    if outcome.peak_rss is not None:  # the child reported it (a signal may have ended it)
        assert 0 < outcome.peak_rss <= BOUND
    if expected in ("not a page size", "over the budget"):  # refused from the header
        assert outcome.peak_rss is not None and outcome.peak_rss < 64 * MIB


def test_a_render_over_the_memory_limit_is_stopped_and_answers_no_thumbnail(bombs):
    """With the pixel budget out of the way, decoding 9999 x 9999 RGBA (400 MB) meets the child's
    address-space limit: the child fails, this process does not, and there is no thumbnail."""
    path, content_type = bombs["rgba-9999.png"]
    limit = 96 * MIB
    limits = RenderLimits(max_pixels=10**9, max_seconds=60, memory_limit=limit)
    outcome = render_isolated(str(path), content_type, limits)
    assert not outcome.rendered and outcome.thumbnails == []
    assert "needed more than" in outcome.refused or "signal" in outcome.refused
    if outcome.peak_rss is not None:
        assert outcome.peak_rss <= limit
    with pytest.raises(RenderRefused), open(path, "rb") as handle:
        thumbnails_render(handle, content_type, limits)


def test_a_pdf_that_inflates_past_the_limit_is_stopped(bombs):
    path, content_type = bombs["flate-bomb-256M.pdf"]
    limits = RenderLimits(max_pixels=40_000_000, max_seconds=60, memory_limit=128 * MIB)
    outcome = render_isolated(str(path), content_type, limits)
    assert outcome.refused or all(max(t.width, t.height) <= 256 for t in outcome.thumbnails)
    if outcome.peak_rss is not None:
        assert outcome.peak_rss <= 128 * MIB


def test_a_render_past_the_wall_clock_limit_is_killed(bombs):
    """No interpreter starts in a millisecond: the parent kills the child when time is up."""
    path, content_type = bombs["page-14400.pdf"]
    outcome = render_isolated(str(path), content_type, RenderLimits(max_seconds=0.001))
    assert not outcome.rendered and "took longer than" in outcome.refused
    assert outcome.exit_code is not None and outcome.exit_code < 0  # killed by a signal


def test_the_asking_process_never_decodes(bombs):
    """The 400000-point MediaBox took a worker from 625 MiB to 3.1 GiB: the worker now only
    starts a child, so its own peak does not move."""
    def own_peak() -> int:
        with open(f"/proc/{os.getpid()}/status") as status:
            return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))

    before = own_peak()
    for name in ("mediabox-400000.pdf", "rgba-9999.png", "bilevel-50000.png", "page-14400.pdf"):
        path, content_type = bombs[name]
        render_isolated(str(path), content_type, RenderLimits.from_settings())
    assert own_peak() - before < 32 * MIB


# --- the service and the task: "no thumbnail" once, never a loop ------------------------------------


def _twake_upload(api, data: bytes, name: str) -> DMSFile:
    garden = Client.objects.get(name="GardenWorld")
    response = api.post(f"/internal/services/files/v1/companies/{garden.pk}/files?thumbnail_sync=1",
                        {"file": SimpleUploadedFile(name, data, "image/png")}, format="multipart")
    assert response.status_code == 200, response.content
    return DMSFile.objects.get(uid=response.json()["resource"]["id"])


@pytest.fixture
def render_calls(monkeypatch):
    calls = []
    real = dms_services.thumbnails_render_outcome

    def counted(*args, **kwargs):
        calls.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(dms_services, "thumbnails_render_outcome", counted)
    return calls


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("storage", ["local"], indirect=True)
def test_a_bomb_uploaded_through_twake_is_marked_no_thumbnail_once(
    garden_user, bombs, storage, render_calls,
):
    path, _ = bombs["rgba-9999.png"]
    dms_file = _twake_upload(garden_user, path.read_bytes(), "bomb.png")
    assert dms_file.thumbnails_status == "error"
    assert render_calls == ["image/png"]
    render = ThumbnailRender.objects.get(stored_file_id=dms_file.stored_file_id)
    assert (render.state, render.attempts) == ("failed", 1)
    assert "over the budget" in render.detail and render.peak_rss < BOUND
    base = f"/internal/services/files/v1/companies/{dms_file.client_id}/files/{dms_file.uid}"
    resource = garden_user.get(base).json()["resource"]
    assert resource["metadata"]["thumbnails_status"] == "error" and resource["thumbnails"] == []
    missing = garden_user.get(base + "/thumbnails/0")
    assert missing.status_code == 404 and missing.json()["status"] == 404

    # A redelivered task, and the same bytes placed again, do not render again.
    thumbnails_make.delay(dms_file.stored_file_id)
    again = _twake_upload(garden_user, path.read_bytes(), "bomb-again.png")
    assert again.stored_file_id == dms_file.stored_file_id and again.thumbnails_status == "error"
    assert render_calls == ["image/png"]
    render.refresh_from_db()
    assert (render.state, render.attempts) == ("failed", 1)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("storage", ["local"], indirect=True)
def test_a_render_whose_worker_died_is_tried_again_then_given_up(
    garden_user, storage, render_calls, settings,
):
    """acks_late redelivers the task of a worker that died mid-render; the attempt recorded before
    that render counts, so the file is rendered THUMBNAIL_MAX_ATTEMPTS times at most."""
    assert settings.THUMBNAIL_MAX_ATTEMPTS == 2
    dms_file = _twake_upload(garden_user, png_bytes(300, 200, "green"), "ok.png")
    assert dms_file.thumbnails_status == "done" and len(render_calls) == 1
    stored_file_id = dms_file.stored_file_id

    # The first attempt "died": its row says rendering, its thumbnails never came.
    Thumbnail.objects.filter(stored_file_id=stored_file_id).delete()
    ThumbnailRender.objects.filter(stored_file_id=stored_file_id).update(state="rendering", attempts=1)
    thumbnails_make.delay(stored_file_id)  # the redelivery: the second and last attempt
    assert len(render_calls) == 2
    assert Thumbnail.objects.filter(stored_file_id=stored_file_id).count() == 1
    assert ThumbnailRender.objects.get(stored_file_id=stored_file_id).state == "done"

    # Both attempts "died": the next delivery gives up without rendering.
    Thumbnail.objects.filter(stored_file_id=stored_file_id).delete()
    ThumbnailRender.objects.filter(stored_file_id=stored_file_id).update(state="rendering", attempts=2)
    thumbnails_make.delay(stored_file_id)
    assert len(render_calls) == 2
    render = ThumbnailRender.objects.get(stored_file_id=stored_file_id)
    assert render.state == "failed" and "never came back" in render.detail
    assert DMSFile.objects.get(pk=dms_file.pk).thumbnails_status == "error"
