"""Thumbnail rendering bounds (issue 23): what each hostile file costs the process that renders it.

    python -m benchmarks.thumbnails [--memory-limit 512M] [--max-pixels 40000000]
                                    [--max-seconds 20] [--only NAME ...] [--keep DIR]

Each file is rendered as the thumbnail task renders it (``apps.dms.thumbnails.render_isolated``: a
child process under ``RLIMIT_AS``, killed past the wall-clock limit). For each one the run prints
the outcome (the thumbnail's size, or why there is none), the child's peak RSS (``VmHWM``) and its
ratio to the bound (``THUMBNAIL_MEMORY_LIMIT``), and the seconds it took; then this process's own
peak RSS before and after (the process that asks never decodes anything). It exits 1 when a child
went over the bound, or this process grew by more than 64 MiB.

The files are built here, in bounded memory (PNG rows are streamed through zlib), and the tests of
``tests/dms/test_thumbnail_bounds.py`` use the same builders.

- ``mediabox-400000.pdf``: 199 bytes, ``/MediaBox [0 0 400000 400000]`` (took a worker from 625 MiB
  to 3.1 GiB before);
- ``rgba-9999.png``: 9999 x 9999 RGBA, 388 KB (just under Pillow's own limit; +1.1 GiB before);
- ``bilevel-50000.png``: a decompression bomb, 50000 x 50000 1-bit pixels in 300 KB;
- ``jpeg-header-30000.jpg``: a small JPEG whose header says 30000 x 30000;
- ``nested-100000.pdf``: a page dictionary nested 100,000 arrays deep;
- ``page-14400.pdf``: the largest page PDF allows (14,400 points a side), filled;
- ``flate-bomb.pdf``: a page whose content stream inflates to 1 GiB (pdfium aborts when the limit
  refuses it memory: "stopped", no peak reported, the address-space limit held);
- ``rgba-at-budget.png``: a legitimate image at the pixel budget (the dearest accepted render).
"""

from __future__ import annotations

import argparse
import io
import os
import struct
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path

GIB = 1024**3
MIB = 1024**2


# --- builders (also used by the tests) ------------------------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_stream(path: Path, width: int, height: int, *, color_type: int, bit_depth: int = 8) -> Path:
    """A valid PNG of blank rows, written row by row: a huge image in little memory and space."""
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[color_type]
    row = b"\x00" + bytes((width * channels * bit_depth + 7) // 8)
    compressor = zlib.compressobj(9)
    with open(path, "wb") as out:
        out.write(b"\x89PNG\r\n\x1a\n")
        out.write(_png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)))
        pending = bytearray()
        batch = max(1, (4 * MIB) // len(row))
        for start in range(0, height, batch):
            pending += compressor.compress(row * min(batch, height - start))
            if len(pending) > MIB:
                out.write(_png_chunk(b"IDAT", bytes(pending)))
                pending.clear()
        pending += compressor.flush()
        out.write(_png_chunk(b"IDAT", bytes(pending)))
        out.write(_png_chunk(b"IEND", b""))
    return path


def pdf_document(page: bytes, content: bytes = b"", *, content_filter: bytes = b"") -> bytes:
    """A one-page PDF with a correct cross-reference table: catalog, pages, ``page``, content."""
    stream_dict = b"<</Length %d%s>>" % (len(content), b"/Filter/" + content_filter if content_filter else b"")
    objects = [
        b"<</Type/Catalog/Pages 2 0 R>>",
        b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
        b"<</Type/Page/Parent 2 0 R/Contents 4 0 R" + page + b">>",
        stream_dict + b"\nstream\n" + content + b"\nendstream",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def mediabox_pdf(path: Path, side: int = 400_000) -> Path:
    """The issue's file: a bare page with an absurd MediaBox (no content, no xref: pdfium repairs)."""
    path.write_bytes(
        b"%%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
        b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 %d %d]>>endobj\n"
        b"trailer<</Root 1 0 R>>\n%%%%EOF\n" % (side, side)
    )
    return path


def nested_pdf(path: Path, depth: int = 100_000) -> Path:
    path.write_bytes(pdf_document(b"/MediaBox[0 0 612 792]/Nest " + b"[" * depth + b"]" * depth,
                                  b"0 0 1 rg 0 0 612 792 re f"))
    return path


def big_page_pdf(path: Path, side: int = 14_400) -> Path:
    path.write_bytes(pdf_document(b"/MediaBox[0 0 %d %d]" % (side, side),
                                  b"1 0 0 rg 0 0 %d %d re f" % (side, side)))
    return path


def flate_bomb_pdf(path: Path, inflated: int = GIB) -> Path:
    """A page whose content stream is ``inflated`` bytes of spaces, deflated to about 1/1000."""
    compressor = zlib.compressobj(9)
    block = b" " * (16 * MIB)
    parts = [compressor.compress(block) for _ in range(inflated // len(block))]
    parts.append(compressor.flush())
    path.write_bytes(pdf_document(b"/MediaBox[0 0 612 792]", b"".join(parts), content_filter=b"FlateDecode"))
    return path


def jpeg_header_bomb(path: Path, side: int = 30_000) -> Path:
    """A small JPEG whose frame header (SOF0) claims ``side`` x ``side`` pixels."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 64), "purple").save(out, format="JPEG")
    data = bytearray(out.getvalue())
    sof = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, side, side)  # height, width
    path.write_bytes(bytes(data))
    return path


def bomb_builders(max_pixels: int = 40_000_000) -> dict[str, tuple[Callable[[Path], Path], str]]:
    side = int(max_pixels**0.5)
    return {
        "mediabox-400000.pdf": (mediabox_pdf, "application/pdf"),
        "rgba-9999.png": (lambda p: png_stream(p, 9999, 9999, color_type=6), "image/png"),
        "bilevel-50000.png": (lambda p: png_stream(p, 50_000, 50_000, color_type=0, bit_depth=1), "image/png"),
        "jpeg-header-30000.jpg": (jpeg_header_bomb, "image/jpeg"),
        "nested-100000.pdf": (nested_pdf, "application/pdf"),
        "page-14400.pdf": (big_page_pdf, "application/pdf"),
        "flate-bomb.pdf": (flate_bomb_pdf, "application/pdf"),
        "rgba-at-budget.png": (lambda p: png_stream(p, side, side, color_type=6), "image/png"),
    }


# --- the run ----------------------------------------------------------------------------------------


def _own_peak_rss() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def _size(text: str) -> int:
    units = {"K": 1024, "M": MIB, "G": GIB}
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def main(argv: list[str] | None = None) -> int:
    from apps.dms.thumbnails import RenderLimits, render_isolated

    defaults = RenderLimits()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--memory-limit", type=_size,
                        default=_size(os.environ.get("THUMBNAIL_MEMORY_LIMIT", str(defaults.memory_limit))))
    parser.add_argument("--max-pixels", type=int,
                        default=int(os.environ.get("THUMBNAIL_MAX_PIXELS", defaults.max_pixels)))
    parser.add_argument("--max-seconds", type=float,
                        default=float(os.environ.get("THUMBNAIL_MAX_SECONDS", defaults.max_seconds)))
    parser.add_argument("--only", nargs="*", help="render only these files")
    parser.add_argument("--keep", help="build the files in this folder and keep them")
    args = parser.parse_args(argv)
    limits = RenderLimits(max_pixels=args.max_pixels, max_seconds=args.max_seconds,
                          memory_limit=args.memory_limit)
    print(f"bound: {limits.memory_limit / MIB:.0f} MiB of address space per render, "
          f"{limits.max_pixels} pixels, {limits.max_seconds:g} s")
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-thumbnails-"))
    folder.mkdir(parents=True, exist_ok=True)
    failures = 0
    own_before = _own_peak_rss()
    print(f"{'file':24} {'bytes':>10} {'peak RSS':>10} {'/ bound':>8} {'seconds':>8}  outcome")
    try:
        for name, (build, content_type) in bomb_builders(limits.max_pixels).items():
            if args.only and name not in args.only:
                continue
            path = build(folder / name)
            own_before = max(own_before, _own_peak_rss())  # building is not rendering
            started = time.monotonic()
            outcome = render_isolated(str(path), content_type, limits)
            seconds = time.monotonic() - started
            if outcome.thumbnails:
                shown = "thumbnail " + ", ".join(f"{t.width}x{t.height}" for t in outcome.thumbnails)
            else:
                shown = f"no thumbnail: {outcome.refused}"
            peak = outcome.peak_rss
            peak_text = f"{peak / MIB:8.1f}Mi" if peak is not None else " stopped"
            ratio = f"{peak / limits.memory_limit:8.3f}" if peak is not None else "     n/a"
            print(f"{name:24} {path.stat().st_size:>10} {peak_text:>10} {ratio:>8} {seconds:8.2f}  {shown[:90]}")
            if peak is not None and peak > limits.memory_limit:
                failures += 1
            if not args.keep:
                path.unlink()
    finally:
        if not args.keep:
            for leftover in folder.iterdir():
                leftover.unlink()
            folder.rmdir()
    own_after = _own_peak_rss()
    grew = own_after - own_before
    print(f"this process: peak RSS {own_before / MIB:.1f} MiB before the renders, "
          f"{own_after / MIB:.1f} MiB after (+{grew / MIB:.1f} MiB)")
    if grew > 64 * MIB:
        failures += 1
    print("OK: every render stayed under its bound" if not failures else f"FAILED: {failures}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
