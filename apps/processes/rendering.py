"""A :class:`~apps.processes.registry.Report` as PDF, HTML or CSV (``report-type``).

HTML and PDF come from one Django template (``processes/report.html``); the PDF is that HTML laid
out by ReportLab (:mod:`apps.processes.pdf`). CSV has one line per detail row, raw values (no
thousands separators), and cells that a spreadsheet would run as a formula are prefixed with ``'``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.template.loader import render_to_string

from apps.processes.pdf import html_to_pdf
from apps.processes.printing import money
from apps.processes.registry import Report

REPORT_TYPES = {
    "PDF": ("application/pdf", "pdf"),
    "HTML": ("text/html; charset=utf-8", "html"),
    "CSV": ("text/csv; charset=utf-8", "csv"),
}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class RenderedReport:
    content: bytes
    content_type: str
    extension: str


def _display(value: Any, *, money_column: bool) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, Decimal):
        return money(value) if money_column else f"{value.normalize():f}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _raw(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Y" if value else "N"
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _cells(report: Report, row: dict[str, Any] | None) -> list[dict[str, Any]]:
    row = row or {}
    return [
        {"text": _display(row.get(c.key), money_column=c.money), "numeric": c.numeric}
        for c in report.columns
    ]


def report_html(report: Report) -> str:
    return render_to_string("processes/report.html", {
        "report": report,
        "columns": report.columns,
        "groups": [
            {
                "heading": group.heading,
                "rows": [_cells(report, row) for row in group.rows],
                "total": _cells(report, group.total) if group.total else None,
            }
            for group in report.groups
        ],
        "total": _cells(report, report.total) if report.total else None,
    })


def report_csv(report: Report) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([c.key for c in report.columns])
    for group in report.groups:
        for row in group.rows:
            writer.writerow([_raw(row.get(c.key)) for c in report.columns])
    return buffer.getvalue().encode("utf-8")


def report_render(report: Report, report_type: str) -> RenderedReport:
    content_type, extension = REPORT_TYPES[report_type]
    if report_type == "CSV":
        content = report_csv(report)
    elif report_type == "HTML":
        content = report_html(report).encode("utf-8")
    else:
        content = html_to_pdf(report_html(report), title=report.title)
    return RenderedReport(content=content, content_type=content_type, extension=extension)
