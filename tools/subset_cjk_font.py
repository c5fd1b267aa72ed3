"""Subset Noto Sans SC for the generated PDFs (see protocol_tracker/documents/fonts/README.md).

usage: python tools/subset_cjk_font.py SOURCE.ttf DEST.ttf
"""

from __future__ import annotations

import contextlib
import sys

from fontTools import subset

RANGES = [
    (0x20, 0x7E),  # ASCII
    (0xA0, 0x17F),  # Latin-1, Latin Extended-A
    (0x370, 0x3FF),  # Greek (µ, α, β)
    (0x2000, 0x206F),  # general punctuation
    (0x2070, 0x209F),  # super- and subscripts
    (0x20A0, 0x20CF),  # currency
    (0x2100, 0x214F),  # letterlike symbols
    (0x2150, 0x218F),  # number forms
    (0x2190, 0x21FF),  # arrows
    (0x2200, 0x22FF),  # mathematical operators (≤ ≥ ±)
    (0x2300, 0x23FF),  # technical
    (0x2460, 0x24FF),  # enclosed alphanumerics
    (0x2500, 0x25FF),  # box drawing, geometric shapes
    (0x2600, 0x26FF),  # symbols
    (0x3000, 0x303F),  # CJK symbols and punctuation
    (0xFF00, 0xFFEF),  # full-width forms
]


def gb2312_hanzi() -> set[int]:
    """Every character of GB 2312 (rows 0xA1-0xF7), as code points."""
    chars: set[int] = set()
    for hi in range(0xA1, 0xF8):
        for lo in range(0xA1, 0xFF):
            with contextlib.suppress(UnicodeDecodeError):
                chars.add(ord(bytes([hi, lo]).decode("gb2312")))
    return chars


def main(source: str, dest: str) -> None:
    codepoints = gb2312_hanzi()
    for first, last in RANGES:
        codepoints.update(range(first, last + 1))
    options = subset.Options()
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.hinting = False
    font = subset.load_font(source, options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=codepoints)
    subsetter.subset(font)
    subset.save_font(font, dest, options)
    print(f"{dest}: {len(codepoints)} code points")


if __name__ == "__main__":
    main(*sys.argv[1:3])
