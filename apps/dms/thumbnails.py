"""Making preview images: Pillow for images, pypdfium2 for the first page of a PDF."""

from __future__ import annotations

import io
import shutil
import tempfile
from dataclasses import dataclass
from typing import IO

from PIL import Image

# Index → longest side in pixels. Index 0 is the one Twake clients show.
THUMBNAIL_SIDES = (256,)
MAX_SOURCE_PIXELS = 50_000_000


@dataclass(frozen=True)
class RenderedThumbnail:
    index: int
    data: bytes
    width: int
    height: int
    content_type: str = "image/png"


def thumbnail_supported(content_type: str) -> bool:
    return (content_type.startswith("image/") and content_type != "image/svg+xml") or (
        content_type == "application/pdf"
    )


def _pdf_first_page(handle: IO[bytes]) -> Image.Image:
    import pypdfium2 as pdfium

    # pypdfium2 wants random access: spool the stream to a temporary file in bounded pieces.
    with tempfile.NamedTemporaryFile(suffix=".pdf") as spool:
        shutil.copyfileobj(handle, spool, 1024 * 1024)
        spool.flush()
        document = pdfium.PdfDocument(spool.name)
        try:
            page = document[0]
            width, height = page.get_size()
            scale = max(THUMBNAIL_SIDES) / max(width, height, 1)
            image = page.render(scale=max(scale, 0.05)).to_pil()
            page.close()
        finally:
            document.close()
    return image


def _source_image(handle: IO[bytes], content_type: str) -> Image.Image:
    if content_type == "application/pdf":
        return _pdf_first_page(handle)
    Image.MAX_IMAGE_PIXELS = MAX_SOURCE_PIXELS
    seekable = getattr(handle, "seekable", lambda: False)()
    with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as spool:
        if not seekable:  # an S3 body: Pillow needs random access
            shutil.copyfileobj(handle, spool, 1024 * 1024)
            spool.seek(0)
            handle = spool
        image = Image.open(handle)
        image.seek(0)
        image.load()
    return image


def thumbnails_render(handle: IO[bytes], content_type: str) -> list[RenderedThumbnail]:
    """PNG previews of the content in ``handle``; raises on bytes Pillow/pdfium cannot read."""
    source = _source_image(handle, content_type)
    if source.mode not in ("RGB", "RGBA", "L", "LA"):
        source = source.convert("RGBA" if "A" in source.getbands() else "RGB")
    rendered = []
    for index, side in enumerate(THUMBNAIL_SIDES):
        image = source.copy()
        image.thumbnail((side, side))
        out = io.BytesIO()
        image.save(out, format="PNG", optimize=True)
        rendered.append(RenderedThumbnail(index, out.getvalue(), image.width, image.height))
    return rendered
