"""The embedded CJK font: Chinese and Latin text print, the font travels inside the PDF."""

from __future__ import annotations

import io

import pypdf
from reportlab.pdfgen import canvas

from protocol_tracker.documents.fonts import register_fonts

TEXT = "批次记录 Batch record: 放行 仅供自体使用 ≥ 90 % µL °C ±"


def _pdf(text: str, font: str) -> bytes:
    out = io.BytesIO()
    page = canvas.Canvas(out)
    page.setFont(font, 11)
    page.drawString(72, 720, text)
    page.save()
    return out.getvalue()


def test_chinese_and_latin_round_trip_with_the_font_embedded():
    regular, bold = register_fonts()

    for font in (regular, bold):
        reader = pypdf.PdfReader(io.BytesIO(_pdf(TEXT, font)))
        page = reader.pages[0]
        assert page.extract_text().strip() == TEXT
        fonts = [f.get_object() for f in page["/Resources"]["/Font"].values()]
        # reportlab embeds TrueType subsets of 256 glyphs each, every one with its font file.
        ours = [f for f in fonts if "NotoSansSC" in str(f["/BaseFont"])]
        assert ours, "the text must be set in the embedded font"
        for f in ours:
            assert "/FontFile2" in f["/FontDescriptor"].get_object(), f["/BaseFont"]
        expected = "NotoSansSC-Bold" if font == bold else "NotoSansSC-Regular"
        assert all(str(f["/BaseFont"]).endswith(expected) for f in ours)


def test_registering_twice_is_harmless():
    assert register_fonts() == register_fonts() == ("NotoSansSC", "NotoSansSC-Bold")
