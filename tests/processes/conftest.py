"""Fixtures of the processes, reports, print and webhooks tests (the whole demo: load_demo)."""

from __future__ import annotations

import pypdfium2 as pdfium
import pytest

from apps.accounts.models import Client
from apps.erp.demo import LARGE_ORDER, SMALL_ORDER
from apps.erp.models import Order


def pdf_text(content: bytes) -> str:
    """All the text of a PDF, read back with pdfium (as a reader would)."""
    pdf = pdfium.PdfDocument(content)
    try:
        return "\n".join(pdf[index].get_textpage().get_text_range() for index in range(len(pdf)))
    finally:
        pdf.close()


@pytest.fixture
def garden(demo) -> Client:
    return Client.objects.get(value="GardenWorld")


@pytest.fixture
def large_order(garden) -> Order:
    return Order.objects.get(client=garden, description=LARGE_ORDER)


@pytest.fixture
def small_order(garden) -> Order:
    return Order.objects.get(client=garden, description=SMALL_ORDER)
