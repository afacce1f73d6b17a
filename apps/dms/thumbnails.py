"""Making preview images, bounded: Pillow for images, pypdfium2 for the first page of a PDF.

Every render runs in a child process of its own (``render_isolated``): this module, run as a
script with ``python -I``, under an address-space limit (``RLIMIT_AS``), a CPU limit and a
wall-clock limit kept by the parent, which kills it when the time is up. Whatever the file does to
Pillow or pdfium, the worker that asked only learns that there is no thumbnail.

Inside the child, nothing is decoded before its size is known to fit: an image's size is read from
its header (a JPEG is decoded at 1/2 to 1/8 scale through ``Image.draft`` when that is enough), and
more pixels than ``max_pixels`` are refused; a PDF page's scale is chosen so that the bitmap fits,
whatever its MediaBox, and pages outside PDF's own size limits are refused.

Run as the child, this module imports nothing of Django or of the project: keep it that way.
"""

from __future__ import annotations

import base64
import io
import json
import math
import os
import subprocess
import sys
import tempfile
import warnings
from dataclasses import asdict, dataclass, field
from typing import IO, Any

from PIL import Image

# Index → longest side in pixels. Index 0 is the one Twake clients show.
THUMBNAIL_SIDES = (256,)
# Pillow formats a thumbnail is made from (never EPS and friends, which would run Ghostscript).
IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF", "ICO")
# A JPEG can be decoded at 1/8 scale: its header may say up to 64 times the pixel budget.
DRAFT_FACTOR = 64
# ISO 32000-1 Annex C.2: a page is 3 to 14,400 units a side; anything far outside is not a page.
PDF_MAX_PAGE_POINTS = 14_400.0
PDF_MIN_PAGE_POINTS = 1.0
# What the child may print: its JSON answer with the PNGs (a few hundred KiB at most).
CHILD_OUTPUT_LIMIT = 16 * 1024 * 1024


@dataclass(frozen=True)
class RenderLimits:
    """The bounds of one render: pixels decoded, wall-clock seconds, bytes of address space."""

    max_pixels: int = 40_000_000
    max_seconds: float = 20.0
    memory_limit: int = 512 * 1024 * 1024

    @classmethod
    def from_settings(cls) -> RenderLimits:
        from django.conf import settings

        return cls(
            max_pixels=int(getattr(settings, "THUMBNAIL_MAX_PIXELS", cls.max_pixels)),
            max_seconds=float(getattr(settings, "THUMBNAIL_MAX_SECONDS", cls.max_seconds)),
            memory_limit=int(getattr(settings, "THUMBNAIL_MEMORY_LIMIT", cls.memory_limit)),
        )


@dataclass(frozen=True)
class RenderedThumbnail:
    index: int
    data: bytes
    width: int
    height: int
    content_type: str = "image/png"


@dataclass
class RenderOutcome:
    """What a child render gave: thumbnails, or why there are none (``refused``), and what the
    child cost: ``peak_rss``, its peak resident set in bytes (``VmHWM``, which the child reports
    as it ends and the parent reads before killing it on time-out; None when a signal ended it:
    its address-space limit still held). ``wait4``'s ``ru_maxrss`` would not do: across ``exec``
    it keeps the forking worker's own peak."""

    thumbnails: list[RenderedThumbnail] = field(default_factory=list)
    refused: str = ""
    peak_rss: int | None = None
    exit_code: int | None = None

    @property
    def rendered(self) -> bool:
        return not self.refused


class RenderRefused(Exception):
    """The file gets no thumbnail: over a budget, unreadable, or its render was stopped."""


def thumbnail_supported(content_type: str) -> bool:
    return (content_type.startswith("image/") and content_type != "image/svg+xml") or (
        content_type == "application/pdf"
    )


# --- the parent: spool, start the child, wait with a deadline, read its answer --------------------


def _local_path(handle: IO[bytes]) -> str | None:
    """The path of a handle over a local file (no copy needed: stored bytes never change)."""
    name = getattr(handle, "name", None)
    if isinstance(name, str) and os.path.isabs(name) and os.path.isfile(name):
        return name
    return None


def thumbnails_render(
    handle: IO[bytes], content_type: str, limits: RenderLimits | None = None,
) -> list[RenderedThumbnail]:
    """PNG previews of the content in ``handle``, rendered in a bounded child process; raises
    ``RenderRefused`` (with the reason) when there is none to make. Reading ``handle`` may raise
    ``OSError`` (storage), which is the caller's to retry."""
    outcome = thumbnails_render_outcome(handle, content_type, limits)
    if outcome.refused:
        raise RenderRefused(outcome.refused)
    return outcome.thumbnails


def thumbnails_render_outcome(
    handle: IO[bytes], content_type: str, limits: RenderLimits | None = None,
) -> RenderOutcome:
    limits = limits or RenderLimits.from_settings()
    path = _local_path(handle)
    if path is not None:
        return render_isolated(path, content_type, limits)
    # pdfium and Pillow want random access: spool the stream to a temporary file in pieces.
    with tempfile.NamedTemporaryFile(prefix="thumbnail-", suffix=".src") as spool:
        while piece := handle.read(1024 * 1024):
            spool.write(piece)
        spool.flush()
        return render_isolated(spool.name, content_type, limits)


def _peak_rss_of(pid: int) -> int | None:
    """A live process's peak RSS in bytes (``VmHWM``), or None when it cannot be read."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def render_isolated(path: str, content_type: str, limits: RenderLimits) -> RenderOutcome:
    """Render ``path`` in a child process under ``limits``; never raises for what the file does."""
    command = [sys.executable, "-I", os.path.abspath(__file__), path, content_type,
               json.dumps(asdict(limits))]
    timed_out, peak_rss = False, None
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.DEVNULL,
            close_fds=True,
        )
        try:
            exit_code = process.wait(timeout=limits.max_seconds)
        except subprocess.TimeoutExpired:
            timed_out, peak_rss = True, _peak_rss_of(process.pid)
            process.kill()
            exit_code = process.wait()
        out.seek(0)
        raw = out.read(CHILD_OUTPUT_LIMIT)
    outcome = RenderOutcome(peak_rss=peak_rss, exit_code=exit_code)
    if timed_out:
        outcome.refused = f"the render took longer than {limits.max_seconds:g} s"
        return outcome
    try:
        answer = json.loads(raw or b"{}")
    except ValueError:
        answer = {}
    if isinstance(answer, dict) and isinstance(answer.get("peak_rss"), int):
        outcome.peak_rss = answer["peak_rss"]
    if exit_code != 0 or not isinstance(answer, dict) or "thumbnails" not in answer:
        reason = answer.get("refused") if isinstance(answer, dict) else None
        if not reason and exit_code is not None and exit_code < 0:
            reason = f"the render was stopped by signal {-exit_code}"
        outcome.refused = str(reason or f"the render failed (exit code {exit_code})")
        return outcome
    outcome.thumbnails = [
        RenderedThumbnail(
            index=int(item["index"]), data=base64.b64decode(item["png"]),
            width=int(item["width"]), height=int(item["height"]),
        )
        for item in answer["thumbnails"]
    ]
    return outcome


# --- the child: limits first, then a render that checks sizes before decoding ---------------------


def _limit_self(limits: RenderLimits) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_limit, limits.memory_limit))
    cpu = math.ceil(limits.max_seconds) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))  # an orphaned child stops too
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (CHILD_OUTPUT_LIMIT, CHILD_OUTPUT_LIMIT))
    try:  # pdfium aborts when an allocation fails: no core dump, even through a core_pattern pipe
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0
    except (OSError, AttributeError):
        pass


def _pdf_first_page(path: str, limits: RenderLimits) -> Image.Image:
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(path)
    try:
        if len(document) < 1:
            raise RenderRefused("the PDF has no page")
        page = document[0]
        try:
            width, height = page.get_size()
            sides_ok = all(PDF_MIN_PAGE_POINTS <= side <= PDF_MAX_PAGE_POINTS for side in (width, height))
            if not sides_ok:
                raise RenderRefused(f"the first page is {width:g} x {height:g} points, not a page size")
            # The bitmap fits both the largest thumbnail and the pixel budget, whatever the page.
            scale = min(
                max(THUMBNAIL_SIDES) / max(width, height),
                math.sqrt(limits.max_pixels / (width * height)),
            )
            return page.render(scale=scale).to_pil()
        finally:
            page.close()
    finally:
        document.close()


def _first_frame(path: str, limits: RenderLimits) -> Image.Image:
    Image.init()  # every plugin registered, so that ``formats`` below can name them
    # Pillow's own check stays as a net at what a JPEG draft can bring down; ours comes after it.
    Image.MAX_IMAGE_PIXELS = limits.max_pixels * DRAFT_FACTOR
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(path, formats=IMAGE_FORMATS)  # reads the header only
        except Image.DecompressionBombError as error:
            raise RenderRefused(f"the image is over the budget of {limits.max_pixels} pixels") from error
    # A JPEG decodes at 1/2, 1/4 or 1/8 scale when the thumbnail needs no more.
    image.draft(image.mode, (max(THUMBNAIL_SIDES), max(THUMBNAIL_SIDES)))
    width, height = image.size
    if width * height > limits.max_pixels:
        raise RenderRefused(
            f"the image is {width} x {height} pixels, over the budget of {limits.max_pixels}"
        )
    image.load()
    return image


def _resizable(image: Image.Image) -> Image.Image:
    """The image in a mode Pillow resizes well: palette and bilevel images are expanded, 16-bit
    and float ones go to 32-bit integers (made 8-bit once small, in ``_displayable``)."""
    if image.mode in ("P", "PA", "1"):
        return image.convert("RGBA" if image.has_transparency_data else "L")
    if image.mode.startswith("I;16") or image.mode == "F":
        return image.convert("I")
    return image


def _displayable(image: Image.Image) -> Image.Image:
    if image.mode == "I":  # stretch its range to 8 bits (a 16-bit scan would be all white)
        low, high = image.getextrema()
        factor = 255 / (high - low) if high > low else 0
        return image.point(lambda value: (value - low) * factor).convert("L")
    if image.mode not in ("RGB", "RGBA", "L", "LA"):
        return image.convert("RGBA" if "A" in image.getbands() else "RGB")
    return image


def render_file(path: str, content_type: str, limits: RenderLimits) -> list[RenderedThumbnail]:
    """The thumbnails of the file at ``path``, in this process (the child's work)."""
    if content_type == "application/pdf":
        source = _pdf_first_page(path, limits)
    else:
        source = _first_frame(path, limits)
    source = _resizable(source)
    rendered = []
    for index, side in sorted(enumerate(THUMBNAIL_SIDES), key=lambda pair: -pair[1]):
        # Largest first, each reduced in place from the previous one: one full-size image at most.
        source.thumbnail((side, side))
        image = _displayable(source)
        out = io.BytesIO()
        image.save(out, format="PNG", optimize=True)
        rendered.append(RenderedThumbnail(index, out.getvalue(), image.width, image.height))
    return sorted(rendered, key=lambda item: item.index)


def _child_main(argv: list[str]) -> int:
    path, content_type, limits_json = argv[1:4]
    limits = RenderLimits(**json.loads(limits_json))
    _limit_self(limits)
    answer: dict[str, Any]
    try:
        rendered = render_file(path, content_type, limits)
        answer = {"thumbnails": [
            {"index": item.index, "width": item.width, "height": item.height,
             "png": base64.b64encode(item.data).decode("ascii")}
            for item in rendered
        ]}
    except RenderRefused as refusal:
        answer = {"refused": str(refusal)}
    except MemoryError:
        answer = {"refused": f"the render needed more than {limits.memory_limit} bytes"}
    except Exception as error:  # noqa: BLE001 - whatever the decoder says, there is no thumbnail
        answer = {"refused": f"the file could not be read ({type(error).__name__}: {error})"[:500]}
    answer["peak_rss"] = _peak_rss_of(os.getpid())
    sys.stdout.write(json.dumps(answer))
    sys.stdout.flush()
    return 0 if "thumbnails" in answer else 2


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv))
