"""Laying out :mod:`protocol_tracker.documents.blocks` as PDF pages (reportlab, A4).

Every page carries the document title, "page X of Y", the record's hash and the generation time
(the footer is drawn after the whole document is laid out, so Y is known). Text is set in the
embedded Noto Sans SC (:func:`protocol_tracker.documents.fonts.register_fonts`), Latin and
Chinese alike; the fonts travel inside the PDF as subsets. reportlab writes no PDF/A; the
document carries its title, subject and author in its metadata instead.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas as pdfcanvas
from reportlab.platypus import (
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    TableStyle,
)
from reportlab.platypus import Table as RLTable

from protocol_tracker.documents.blocks import Block, Fields, Heading, Section, Table, Text
from protocol_tracker.documents.fonts import register_fonts

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 16 * mm
FRAME_WIDTH = PAGE_WIDTH - 2 * MARGIN
# A table row cannot break across pages: a cell holds at most this much text (the rest is in
# the system, and the stage sections give the full lists as paragraphs, which do break).
MAX_CELL_CHARS = 1500


@dataclass(frozen=True)
class Footer:
    """What every page shows at its foot (the labels already in the document's language)."""

    title: str
    page_label: str  # "Page %(page)s of %(pages)s"
    record_hash: str
    hash_label: str  # "Record SHA-256"
    generated_at: datetime
    generated_label: str  # "Generated"
    banner: str = ""  # e.g. "Preview: not a released record"


def _styles() -> dict[str, ParagraphStyle]:
    regular, bold = register_fonts()
    base = ParagraphStyle(
        "body", fontName=regular, fontSize=8.5, leading=11, alignment=TA_LEFT, wordWrap="CJK"
    )
    return {
        "body": base,
        "small": ParagraphStyle("small", parent=base, fontSize=7, leading=8.6),
        "muted": ParagraphStyle("muted", parent=base, fontSize=7.5, textColor=colors.grey),
        "warning": ParagraphStyle("warning", parent=base, textColor=colors.HexColor("#9a3412")),
        "cell": ParagraphStyle("cell", parent=base, fontSize=7, leading=8.6),
        "head": ParagraphStyle("head", parent=base, fontName=bold, fontSize=7, leading=8.6),
        "label": ParagraphStyle("label", parent=base, fontName=bold),
        "h1": ParagraphStyle("h1", parent=base, fontName=bold, fontSize=15, leading=19,
                             spaceAfter=4),
        "h2": ParagraphStyle("h2", parent=base, fontName=bold, fontSize=11.5, leading=15,
                             spaceBefore=8, spaceAfter=3),
        "h3": ParagraphStyle("h3", parent=base, fontName=bold, fontSize=9.5, leading=12,
                             spaceBefore=5, spaceAfter=2),
    }  # fmt: skip


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text or "").replace("\n", "<br/>"), style)


_GRID = TableStyle(
    [
        ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#9ca3af")),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e5e7eb")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 2.5),
        ("RIGHTPADDING", (0, 0), (-1, -1), 2.5),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
    ]
)
_FIELDS = TableStyle(
    [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 0),
        ("TOPPADDING", (0, 0), (-1, -1), 1),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
        ("LINEBELOW", (0, 0), (-1, -1), 0.2, colors.HexColor("#e5e7eb")),
    ]
)


def _font_style() -> TableStyle:
    # Tables set their cell font even around paragraphs: make it the embedded one.
    return TableStyle([("FONTNAME", (0, 0), (-1, -1), register_fonts()[0])])


def _clip(text: str) -> str:
    return text if len(text) <= MAX_CELL_CHARS else text[: MAX_CELL_CHARS - 1] + "…"


def _widths(table: Table) -> list[float]:
    n = len(table.header)
    weights = list(table.widths or [1.0] * n)
    total = sum(weights)
    return [FRAME_WIDTH * w / total for w in weights]


def _flowables(block: Block, styles: dict[str, ParagraphStyle]) -> list:
    if isinstance(block, Heading):
        return [_p(block.text, styles["h2" if block.level <= 2 else "h3"])]
    if isinstance(block, Text):
        return [_p(block.text, styles.get(block.style, styles["body"])), Spacer(1, 2)]
    if isinstance(block, Fields):
        rows = [[_p(k, styles["label"]), _p(v, styles["body"])] for k, v in block.items]
        if not rows:
            return []
        table = RLTable(rows, colWidths=[FRAME_WIDTH * 0.3, FRAME_WIDTH * 0.7])
        table.setStyle(_FIELDS)
        table.setStyle(_font_style())
        return [table, Spacer(1, 4)]
    if isinstance(block, Table):
        header = [_p(h, styles["head"]) for h in block.header]
        rows = [[_p(_clip(str(c)), styles["cell"]) for c in row] for row in block.rows]
        table = RLTable(
            [header, *rows],
            colWidths=_widths(block),
            repeatRows=1 if block.repeat_header else 0,
            splitByRow=1,
        )
        table.setStyle(_GRID)
        table.setStyle(_font_style())
        return [table, Spacer(1, 5)]
    raise TypeError(f"unknown block {block!r}")


def _numbered_canvas(footer: Footer, fonts: tuple[str, str]):
    regular, bold = fonts

    class NumberedCanvas(pdfcanvas.Canvas):
        """Keeps each page until the end so that the footer can say "page X of Y"."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._pages: list[dict] = []

        def showPage(self):
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self):
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                self._draw_footer(total)
                super().showPage()
            super().save()

        def _draw_footer(self, total: int) -> None:
            self.saveState()
            self.setFont(regular, 7)
            self.setFillColor(colors.HexColor("#374151"))
            y = 9 * mm
            self.drawString(MARGIN, y + 9, footer.title)
            self.drawRightString(
                PAGE_WIDTH - MARGIN,
                y + 9,
                footer.page_label % {"page": self._pageNumber, "pages": total},
            )
            self.drawString(MARGIN, y, f"{footer.hash_label}: {footer.record_hash}")
            self.drawRightString(
                PAGE_WIDTH - MARGIN,
                y,
                f"{footer.generated_label} {footer.generated_at:%Y-%m-%d %H:%M:%S %Z}",
            )
            self.setStrokeColor(colors.HexColor("#9ca3af"))
            self.setLineWidth(0.3)
            self.line(MARGIN, y + 17, PAGE_WIDTH - MARGIN, y + 17)
            if footer.banner:
                self.setFont(bold, 8)
                self.setFillColor(colors.HexColor("#9a3412"))
                self.drawCentredString(PAGE_WIDTH / 2, PAGE_HEIGHT - 9 * mm, footer.banner)
            self.restoreState()

    return NumberedCanvas


def render_pdf(
    sections: Sequence[Section], *, heading: str, footer: Footer, subject: str, author: str
) -> tuple[bytes, int]:
    """The sections as an A4 PDF; returns (bytes, number of pages)."""
    fonts = register_fonts()
    styles = _styles()
    story: list = [_p(heading, styles["h1"])]
    for index, section in enumerate(sections):
        if section.new_page and index > 0:
            story.append(PageBreak())
        title = _p(section.title, styles["h2"])
        body: list = []
        for block in section.blocks:
            body.extend(_flowables(block, styles))
        # Keep a section's title with its first block.
        if body:
            story.append(KeepTogether([title, body[0]]))
            story.extend(body[1:])
        else:
            story.append(title)
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=14 * mm,
        bottomMargin=22 * mm,
        title=footer.title,
        subject=subject,
        author=author,
        creator="protocol_tracker",
        invariant=1,
        # The page's initial font too is the embedded one: no unembedded Helvetica.
        initialFontName=fonts[0],
    )
    canvas_class = _numbered_canvas(footer, fonts)
    doc.build(story, canvasmaker=canvas_class)
    return out.getvalue(), doc.page
