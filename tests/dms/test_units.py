"""Pure helpers: Range parsing, Content-Disposition, names, sniffing, thumbnails rendering."""

import io

import pytest

from apps.core.errors import BadRequest
from apps.dms.content import content_type_sniff, file_name_sanitize
from apps.dms.downloads import content_disposition, parse_range
from apps.dms.thumbnails import thumbnails_render

from .conftest import pdf_bytes, png_bytes


@pytest.mark.parametrize(("header", "size", "expected"), [
    ("bytes=0-9", 100, (0, 9)),
    ("bytes=90-", 100, (90, 99)),
    ("bytes=-10", 100, (90, 99)),
    ("bytes=-500", 100, (0, 99)),
    ("bytes=95-200", 100, (95, 99)),
    ("bytes=100-", 100, False),
    ("bytes=-0", 100, False),
    ("bytes=5-2", 100, None),
    ("bytes=0-1,5-6", 100, None),
    ("items=0-1", 100, None),
])
def test_parse_range(header, size, expected):
    assert parse_range(header, size) == expected


def test_content_disposition_is_rfc6266():
    value = content_disposition('Fac"ture été.pdf')
    assert value.startswith('attachment; filename="Fac_ture _t_.pdf"')
    assert "filename*=UTF-8''Fac%22ture%20%C3%A9t%C3%A9.pdf" in value
    assert content_disposition("a.png", inline=True).startswith("inline;")


def test_file_names_are_sanitized():
    assert file_name_sanitize("../../etc/passwd") == "passwd"
    assert file_name_sanitize("C:\\dir\\a\x00b\x1f.txt") == "ab.txt"
    assert len(file_name_sanitize("x" * 500 + ".pdf")) == 200
    assert file_name_sanitize("x" * 500 + ".pdf").endswith(".pdf")
    with pytest.raises(BadRequest):
        file_name_sanitize("  /  ")


def test_content_type_is_sniffed_not_trusted():
    assert content_type_sniff(png_bytes(), "fake.pdf") == "image/png"
    assert content_type_sniff(pdf_bytes(), "x.bin") == "application/pdf"
    assert content_type_sniff(b"a,b\n1,2\n", "t.csv") == "text/csv"
    assert content_type_sniff(b"\x00\x01\x02\xff", "t.txt") == "application/octet-stream"


def test_thumbnails_render_png_and_pdf():
    [thumb] = thumbnails_render(io.BytesIO(png_bytes(600, 300)), "image/png")
    assert (thumb.width, thumb.height) == (256, 128)
    [page] = thumbnails_render(io.BytesIO(pdf_bytes()), "application/pdf")
    assert max(page.width, page.height) <= 256 and page.data.startswith(b"\x89PNG")
