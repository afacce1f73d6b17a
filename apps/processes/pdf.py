"""HTML (a small subset, as our Django templates write it) → PDF with ReportLab's platypus.

Why ReportLab and not WeasyPrint: ReportLab is a pip wheel with no system libraries, so the
``python:3.11-slim`` image, ``make run`` and CI need nothing more; WeasyPrint needs Pango,
HarfBuzz and fontconfig from the system (``apt-get install libpango-1.0-0 libpangoft2-1.0-0`` and
fonts, about 40 MB more in the image). Our documents are headings, paragraphs and tables, which
platypus lays out exactly; full CSS fidelity is what WeasyPrint would add. (docs/processes.md.)

The templates stay HTML, so the same template serves the HTML report and the PDF: this module
reads ``h1``-``h3``, ``p``/``div``, ``table`` (``thead``/``tbody``/``tfoot``, ``tr``, ``th``,
``td``; ``class="num"`` right-aligns, ``class="total"`` bolds a row, ``width="30%"`` on a first-row
cell sets its column), inline ``b``/``strong``/``i``/``em``/``br``/``span``, and skips ``head``,
``style`` and ``script``. Text is escaped again for ReportLab's paragraph markup.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

_SPACES = re.compile(r"\s+")
VOID = {"br", "meta", "link", "img", "hr", "col", "input"}
SKIPPED = {"head", "style", "script", "title"}
INLINE = {"b": "b", "strong": "b", "i": "i", "em": "i"}
BLOCKS = {"h1", "h2", "h3", "p", "div"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[Node | str] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("root")
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag, attrs):
        self.stack[-1].children.append(Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag):
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def parse_html(html: str) -> Node:
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


def _markup(node: Node | str) -> str:
    """ReportLab paragraph markup of ``node``'s inline content (text escaped, whitespace folded)."""
    if isinstance(node, str):
        return escape(_SPACES.sub(" ", node))
    if node.tag in SKIPPED:
        return ""
    if node.tag == "br":
        return "<br/>"
    inner = "".join(_markup(child) for child in node.children)
    tag = INLINE.get(node.tag)
    return f"<{tag}>{inner}</{tag}>" if tag and inner.strip() else inner


class _Styles:
    def __init__(self) -> None:
        sheet = getSampleStyleSheet()
        self.block = {
            "h1": sheet["Heading1"],
            "h2": sheet["Heading2"],
            "h3": sheet["Heading3"],
            "p": sheet["BodyText"],
            "div": sheet["BodyText"],
        }
        self.cell = ParagraphStyle("cell", parent=sheet["BodyText"], fontSize=8.5, leading=10.5)
        self.cell_right = ParagraphStyle("cell-right", parent=self.cell, alignment=TA_RIGHT)
        self.right = ParagraphStyle("right", parent=sheet["BodyText"], alignment=TA_RIGHT)


def _rows(table: Node) -> tuple[list[tuple[Node, str]], int]:
    """(row, section) in document order, and how many header rows lead."""
    found: list[tuple[Node, str]] = []

    def walk(node: Node, section: str) -> None:
        for child in node.children:
            if isinstance(child, Node):
                if child.tag == "tr":
                    found.append((child, section))
                elif child.tag in ("thead", "tbody", "tfoot"):
                    walk(child, child.tag)

    walk(table, "tbody")
    header = 0
    for _, section in found:
        if section != "thead":
            break
        header += 1
    return found, header


def _span(cell: Node) -> int:
    span = cell.attrs.get("colspan", "").strip()
    return min(int(span), 100) if span.isascii() and span.isdigit() and int(span) > 0 else 1


def _table(node: Node, styles: _Styles, width: float) -> Table | None:
    rows, header = _rows(node)
    if not rows:
        return None
    data: list[list[Paragraph]] = []
    commands: list[tuple] = [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]
    if header:
        commands.append(("LINEBELOW", (0, header - 1), (-1, header - 1), 0.6, colors.black))
    ncols = max(sum(_span(c) for c in row.children if isinstance(c, Node) and c.tag in ("td", "th")) for row, _ in rows)
    widths: list[float | None] = [None] * ncols
    for index, (row, section) in enumerate(rows):
        cells = [c for c in row.children if isinstance(c, Node) and c.tag in ("td", "th")]
        line: list[Paragraph] = []
        for cell in cells:
            col = len(line)
            text = _markup(cell).strip()
            if cell.tag == "th" or {"total", "group"} & row.classes or section == "tfoot":
                text = f"<b>{text}</b>" if text else text
            style = styles.cell_right if "num" in cell.classes else styles.cell
            line.append(Paragraph(text, style))
            share = cell.attrs.get("width", "").strip()
            if index == 0 and share.endswith("%") and share[:-1].isascii() and share[:-1].isdigit():
                widths[col] = width * int(share[:-1]) / 100
            if _span(cell) > 1 and col + _span(cell) <= ncols:
                line += [Paragraph("", styles.cell)] * (_span(cell) - 1)
                commands.append(("SPAN", (col, index), (col + _span(cell) - 1, index)))
        line = line[:ncols]
        line += [Paragraph("", styles.cell)] * (ncols - len(line))
        data.append(line)
        if "total" in row.classes or section == "tfoot":
            commands.append(("LINEABOVE", (0, index), (-1, index), 0.6, colors.black))
        if "group" in row.classes:
            commands.append(("BACKGROUND", (0, index), (-1, index), colors.HexColor("#eeeeee")))
    free = width - sum(w for w in widths if w)
    unset = [i for i, w in enumerate(widths) if not w]
    for i in unset:
        widths[i] = max(free, 0) / len(unset)
    table = Table(data, colWidths=widths, repeatRows=header)
    table.setStyle(TableStyle(commands))
    return table


def _flowables(node: Node, styles: _Styles, width: float, out: list) -> None:
    for child in node.children:
        if isinstance(child, str):
            if child.strip():
                out.append(Paragraph(_markup(child), styles.block["p"]))
            continue
        if child.tag in SKIPPED:
            continue
        if child.tag == "table":
            table = _table(child, styles, width)
            if table is not None:
                out.append(table)
                out.append(Spacer(1, 4 * mm))
        elif child.tag in BLOCKS:
            nested = any(isinstance(c, Node) and (c.tag in BLOCKS or c.tag == "table") for c in child.children)
            if nested:
                _flowables(child, styles, width, out)
            else:
                text = _markup(child).strip()
                if text:
                    style = styles.right if "num" in child.classes else styles.block[child.tag]
                    out.append(Paragraph(text, style))
        else:
            _flowables(child, styles, width, out)


def html_to_pdf(html: str, *, title: str = "", author: str = "Ledgerdoc") -> bytes:
    """The PDF of ``html`` (A4, 15 mm margins) as bytes."""
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm,
        bottomMargin=15 * mm, title=title, author=author,
    )
    story: list = []
    _flowables(parse_html(html), _Styles(), doc.width, story)
    if not story:
        story.append(Spacer(1, 1))
    doc.build(story)
    return buffer.getvalue()
