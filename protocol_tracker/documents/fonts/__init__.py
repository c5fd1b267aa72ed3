"""The fonts every generated PDF embeds (Noto Sans SC: Chinese and Latin; see README.md)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from reportlab.lib.fonts import addMapping
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

FONT_DIR = Path(__file__).resolve().parent
REGULAR = "NotoSansSC"
BOLD = "NotoSansSC-Bold"


@cache
def register_fonts() -> tuple[str, str]:
    """Register the embedded fonts with reportlab once; returns (regular, bold) font names."""
    pdfmetrics.registerFont(TTFont(REGULAR, str(FONT_DIR / "NotoSansSC-Regular.ttf")))
    pdfmetrics.registerFont(TTFont(BOLD, str(FONT_DIR / "NotoSansSC-Bold.ttf")))
    addMapping(REGULAR, 0, 0, REGULAR)
    addMapping(REGULAR, 1, 0, BOLD)
    addMapping(REGULAR, 0, 1, REGULAR)
    addMapping(REGULAR, 1, 1, BOLD)
    return REGULAR, BOLD
