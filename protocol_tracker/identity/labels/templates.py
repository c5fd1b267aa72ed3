"""Label sizes. Sizes are common thermal-transfer stocks; a lab adds its own here.

- ``cryovial``: 38.1 × 12.7 mm (1.5" × 0.5"), wraps a 1-2 mL cryovial: a QR code and three
  short lines (a Code 128 of the full payload would need 0.1 mm bars here: not printable).
- ``tube``: 50.8 × 25.4 mm (2" × 1"): blood tubes, sample tubes, flasks: QR and five lines.
- ``bag``: 101.6 × 76.2 mm (4" × 3"): infusion bags and shippers: banner, QR, eight lines and a
  Code 128 of the payload across the bottom.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

MM = 72 / 25.4  # PDF points per millimetre


@dataclass(frozen=True)
class LabelTemplate:
    key: str
    name: object  # lazily translated
    width_mm: float
    height_mm: float
    margin_mm: float
    max_lines: int
    font_pt: float
    title_pt: float
    code128: bool
    dpi: int  # ZPL: the printer's resolution this layout is laid out for

    @property
    def size_pt(self) -> tuple[float, float]:
        return self.width_mm * MM, self.height_mm * MM


TEMPLATES: dict[str, LabelTemplate] = {
    t.key: t
    for t in (
        LabelTemplate(
            key="cryovial",
            name=_("Cryovial 38 × 13 mm"),
            width_mm=38.1,
            height_mm=12.7,
            margin_mm=0.8,
            max_lines=3,
            font_pt=4.6,
            title_pt=5.6,
            code128=False,
            dpi=300,
        ),
        LabelTemplate(
            key="tube",
            name=_("Tube or flask 51 × 25 mm"),
            width_mm=50.8,
            height_mm=25.4,
            margin_mm=1.5,
            max_lines=5,
            font_pt=5.5,
            title_pt=7.5,
            code128=False,
            dpi=300,
        ),
        LabelTemplate(
            key="bag",
            name=_("Bag or shipper 102 × 76 mm"),
            width_mm=101.6,
            height_mm=76.2,
            margin_mm=3,
            max_lines=8,
            font_pt=8,
            title_pt=11,
            code128=True,
            dpi=300,
        ),
    )
}


def template(key: str) -> LabelTemplate:
    try:
        return TEMPLATES[key]
    except KeyError:
        raise KeyError(f"no label template {key!r} (one of: {', '.join(TEMPLATES)})") from None
