"""What a label's barcodes hold, and reading a scan back.

- An **item id** names one labelled thing (a blood tube, a vial, a bag...): a kind letter, a
  six-digit number unique in the lab and an ISO 7064 MOD 37,36 check character,
  ``V-000123-7``. A mistyped item id is refused like a mistyped COI.
- A **scan payload** is what the 2D symbol (and the Code 128 where the label is wide enough)
  holds: ``<COI>/<item id>``, e.g. ``DEMO-26-00017-K/V-000123-7``, or the COI alone on a label
  that names no item (a document, the patient's record). A USB scanner types it, then Enter.

Both are printed as text under the symbols too, for a person to read and, failing a scanner, to
type (the manual entry, which needs a witness).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from protocol_tracker.identity.checks import check_character, is_valid
from protocol_tracker.identity.layouts import CoiFormatError, ParsedCoi, parse_coi

SEPARATOR = "/"
MAX_SCAN_CHARS = 512
_ITEM_RE = re.compile(r"^([A-Z])-([0-9]{6,9})-([0-9A-Z])$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class ScanUnreadable(ValueError):
    """The scanned text is no label of ours, or is mistyped (the message says which)."""


@dataclass(frozen=True)
class ParsedScan:
    coi: ParsedCoi
    item_id: str  # "" when the label names no item


def item_id_format(kind_letter: str, number: int) -> str:
    body = f"{kind_letter}{number:06d}"
    return f"{kind_letter}-{number:06d}-{check_character(body)}"


def item_id_parse(text: str) -> str:
    value = (text or "").strip().upper()
    match = _ITEM_RE.match(value)
    if match is None:
        raise ScanUnreadable(f"{text!r} is not an item id of the form K-NNNNNN-C")
    letter, number, check = match.groups()
    if not is_valid(f"{letter}{number}{check}"):
        raise ScanUnreadable(f"item id {value} fails its check character: mistyped or misread")
    return value


def scan_payload(coi: str, item_id: str = "") -> str:
    return f"{coi}{SEPARATOR}{item_id}" if item_id else coi


def printable(scanned: str) -> str:
    """``scanned`` with control characters spelt out (``\\x1d``), for the audit trail."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", scanned)


def scan_parse(scanned: str) -> ParsedScan:
    """The COI and item id a scan holds, or ScanUnreadable saying why (shape, check character).

    Surrounding spaces and a trailing carriage return are forgiven; letters are read as
    capitals (a keyboard wedge with Caps Lock on)."""
    text = (scanned or "").strip()
    if not text:
        raise ScanUnreadable("nothing was scanned")
    if len(text) > MAX_SCAN_CHARS or _CONTROL.search(text):
        raise ScanUnreadable("the scan holds characters no label of ours prints")
    coi_text, _sep, item_text = text.partition(SEPARATOR)
    try:
        coi = parse_coi(coi_text)
    except CoiFormatError as exc:
        raise ScanUnreadable(str(exc)) from None
    item_id = item_id_parse(item_text) if item_text else ""
    return ParsedScan(coi=coi, item_id=item_id)
