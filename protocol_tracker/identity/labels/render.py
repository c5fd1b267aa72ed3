"""Rendering labels: PDF (reportlab, fonts embedded) and ZPL II.

The barcodes come from reportlab's encoders: QR (ISO/IEC 18004, error correction M; our
payloads fit its alphanumeric mode, so a 26-character payload is a 25 × 25 version 2 symbol)
and Code 128 (ISO/IEC 15417, automatic subset switching). The PDF is byte-for-byte the same for
the same input (``invariant``), which the tests and the print record's SHA-256 rely on. In ZPL
the printer draws the symbols itself (``^BQ``, ``^BC``) from the same payload.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass

from reportlab.graphics.barcode import code128, qrencoder
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from protocol_tracker.documents.fonts import register_fonts
from protocol_tracker.identity.labels.content import LabelContent
from protocol_tracker.identity.labels.templates import MM, LabelTemplate, template

OUTPUTS = ("pdf", "zpl")
SHEETS = ("roll", "a4")
QUIET_MODULES = 2  # around the QR code (the label's own margin adds to it)
SHEET_MARGIN_MM = 10
SHEET_GAP_MM = 2


@dataclass(frozen=True)
class Document:
    content: bytes
    content_type: str
    extension: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def render(
    *,
    template: str,
    labels: Sequence[LabelContent],
    output: str = "pdf",
    copies: int = 1,
    sheet: str = "roll",
) -> Document:
    """``labels`` (each ``copies`` times) with ``template``: a PDF (``sheet`` "roll": one label a
    page, the page the label's size; "a4": labels tiled on A4) or ZPL (one format per label,
    ``^PQ`` copies)."""
    tpl = _template(template)
    if output == "zpl":
        return Document(zpl(tpl, labels, copies).encode(), "text/plain; charset=utf-8", "zpl")
    if output != "pdf":
        raise ValueError(f"output must be one of {OUTPUTS}")
    if sheet not in SHEETS:
        raise ValueError(f"sheet must be one of {SHEETS}")
    return Document(pdf(tpl, labels, copies, sheet=sheet), "application/pdf", "pdf")


def _template(key: str) -> LabelTemplate:
    return template(key)


# --- PDF ----------------------------------------------------------------------------------


def _qr_matrix(payload: str) -> list[list[bool]]:
    qr = qrencoder.QRCode(None, qrencoder.QRErrorCorrectLevel.M)
    qr.addData(payload)
    qr.make()
    n = qr.getModuleCount()
    return [[bool(qr.isDark(r, c)) for c in range(n)] for r in range(n)]


# ISO/IEC 18004 alphanumeric-mode capacity at error correction M, versions 1-10.
_ALPHANUMERIC = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
_ALPHANUMERIC_M = (20, 38, 61, 90, 122, 154, 178, 221, 262, 311)


def _qr_modules(payload: str) -> int:
    """The QR code's width in modules (the printer draws it: no need to encode it here)."""
    if set(payload) <= _ALPHANUMERIC:
        for version, capacity in enumerate(_ALPHANUMERIC_M, start=1):
            if len(payload) <= capacity:
                return 17 + 4 * version
    return len(_qr_matrix(payload))


def _draw_qr(canvas: Canvas, matrix: list[list[bool]], x: float, y: float, size: float) -> None:
    """The QR code in a ``size`` square at (x, y) (bottom left), quiet zone included."""
    n = len(matrix)
    module = size / (n + 2 * QUIET_MODULES)
    ox, oy = x + QUIET_MODULES * module, y + QUIET_MODULES * module
    path = canvas.beginPath()
    for r, row in enumerate(matrix):
        c = 0
        while c < n:
            if row[c]:
                start = c
                while c < n and row[c]:
                    c += 1
                path.rect(
                    ox + start * module, oy + (n - 1 - r) * module, (c - start) * module, module
                )
            else:
                c += 1
    canvas.drawPath(path, stroke=0, fill=1)


def _fit(text: str, font: str, size: float, width: float) -> str:
    if stringWidth(text, font, size) <= width:
        return text
    while text and stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…"


def _draw_label(canvas: Canvas, tpl: LabelTemplate, label: LabelContent, x0: float, y0: float):
    regular, bold = register_fonts()
    width, height = tpl.size_pt
    m = tpl.margin_mm * MM
    canvas.setFillColorRGB(0, 0, 0)
    bar_h = 0.0
    if tpl.code128:
        bar_h = 11 * MM
        modules = code128.Code128Auto(label.payload, barWidth=1, quiet=0).width
        # 10 modules of quiet zone each side (ISO/IEC 15417), bars at most 0.5 mm wide.
        module = min((width - 2 * m) / (modules + 20), 0.5 * MM)
        barcode = code128.Code128Auto(label.payload, barWidth=module, barHeight=bar_h, quiet=0)
        bx = x0 + (width - barcode.width) / 2
        barcode.drawOn(canvas, bx, y0 + m + tpl.font_pt + 1)
        canvas.setFont(regular, tpl.font_pt)
        canvas.drawCentredString(x0 + width / 2, y0 + m, label.payload)
        bar_h += tpl.font_pt + 2
    top = y0 + height - m
    qr_size = min(height - 2 * m - bar_h, (width - 2 * m) * 0.45)
    qr_x = x0 + m if not tpl.code128 else x0 + width - m - qr_size
    _draw_qr(canvas, _qr_matrix(label.payload), qr_x, top - qr_size, qr_size)
    text_x = x0 + m + (qr_size + m if not tpl.code128 else 0)
    text_w = (x0 + width - m - text_x) if not tpl.code128 else (qr_x - m - text_x)
    y = top
    rows: list[tuple[str, str, float]] = []
    if label.banner:
        rows.append((label.banner, bold, tpl.font_pt))
    if label.mark:
        rows.append((label.mark, bold, tpl.font_pt))
    rows.append((label.title, bold, tpl.title_pt))
    rows += [(line, regular, tpl.font_pt) for line in (*label.lines, *label.private_lines)]
    for index, (text, font, size) in enumerate(
        rows[: tpl.max_lines + 1 + bool(label.banner) + bool(label.mark)]
    ):
        if index == 0 and label.banner:
            # The banner is a required statement: it shrinks to fit, it is never cut.
            while size > 3 and stringWidth(text, font, size) > text_w:
                size -= 0.2
        y -= size * 1.15
        if y < y0 + m + bar_h - 1:
            break
        canvas.setFont(font, size)
        canvas.drawString(text_x, y, _fit(text, font, size, text_w))


def pdf(tpl: LabelTemplate, labels: Sequence[LabelContent], copies: int, *, sheet: str) -> bytes:
    buffer = io.BytesIO()
    width, height = tpl.size_pt
    page = (width, height) if sheet == "roll" else A4
    canvas = Canvas(buffer, pagesize=page, invariant=1, pageCompression=1)
    canvas.setTitle(f"Labels ({tpl.key})")
    canvas.setCreator("protocol_tracker")
    items = [label for label in labels for _ in range(copies)]
    if sheet == "roll":
        for label in items:
            _draw_label(canvas, tpl, label, 0, 0)
            canvas.showPage()
    else:
        margin, gap = SHEET_MARGIN_MM * MM, SHEET_GAP_MM * MM
        cols = max(1, int((A4[0] - 2 * margin + gap) // (width + gap)))
        rows = max(1, int((A4[1] - 2 * margin + gap) // (height + gap)))
        per_page = cols * rows
        for index, label in enumerate(items):
            slot = index % per_page
            if index and slot == 0:
                canvas.showPage()
            col, row = slot % cols, slot // cols
            x = margin + col * (width + gap)
            y = A4[1] - margin - (row + 1) * height - row * gap
            canvas.setStrokeColorRGB(0.8, 0.8, 0.8)
            canvas.setLineWidth(0.2)
            canvas.rect(x, y, width, height, stroke=1, fill=0)
            _draw_label(canvas, tpl, label, x, y)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


# --- ZPL ----------------------------------------------------------------------------------


def zpl_text(text: str) -> str:
    """``text`` for a ``^FH_`` field: ``_``, ``^`` and ``~`` as hex escapes (``^CI28``: UTF-8)."""
    return text.replace("_", "_5F").replace("^", "_5E").replace("~", "_7E")


def zpl(tpl: LabelTemplate, labels: Sequence[LabelContent], copies: int) -> str:
    dots = tpl.dpi / 25.4

    def d(mm: float) -> int:
        return round(mm * dots)

    def pt(points: float) -> int:
        return round(points / 72 * tpl.dpi)

    w, h, m = d(tpl.width_mm), d(tpl.height_mm), d(tpl.margin_mm)
    blocks = []
    for label in labels:
        modules = _qr_modules(label.payload) + 2 * QUIET_MODULES
        bar = d(11) + pt(tpl.font_pt) + 4 if tpl.code128 else 0
        qr_dots = min(h - 2 * m - bar, int((w - 2 * m) * 0.45))
        magnification = max(1, min(10, qr_dots // modules))
        qr_x = m if not tpl.code128 else w - m - magnification * modules
        lines = [
            f"^XA^CI28^PW{w}^LL{h}^LH0,0",
            f"^FO{qr_x},{m}^BQN,2,{magnification}^FH_^FDMA,{zpl_text(label.payload)}^FS",
        ]
        text_x = m + (magnification * modules + m if not tpl.code128 else 0)
        y = m
        rows: list[tuple[str, int]] = []
        if label.banner:
            rows.append((label.banner, pt(tpl.font_pt)))
        if label.mark:
            rows.append((label.mark, pt(tpl.font_pt)))
        rows.append((label.title, pt(tpl.title_pt)))
        rows += [(line, pt(tpl.font_pt)) for line in (*label.lines, *label.private_lines)]
        for text, size in rows[: tpl.max_lines + 1 + bool(label.banner) + bool(label.mark)]:
            if y + size > h - m - bar:
                break
            lines.append(f"^FO{text_x},{y}^A0N,{size},{size}^FH_^FD{zpl_text(text)}^FS")
            y += round(size * 1.15)
        if tpl.code128:
            lines.append(
                f"^FO{m},{h - m - bar}^BY2^BCN,{d(11)},N,N,N,A^FH_^FD{zpl_text(label.payload)}^FS"
            )
            lines.append(
                f"^FO{m},{h - m - pt(tpl.font_pt)}^A0N,{pt(tpl.font_pt)},{pt(tpl.font_pt)}"
                f"^FB{w - 2 * m},1,0,C^FH_^FD{zpl_text(label.payload)}^FS"
            )
        lines.append(f"^PQ{copies}^XZ")
        blocks.append("\n".join(lines))
    return "\n".join(blocks) + "\n"
