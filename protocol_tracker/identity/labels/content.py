"""What one label says: plain data, from any caller."""

from __future__ import annotations

from dataclasses import dataclass, field

# 21 CFR 1271.90(c): an autologous HCT/P is labelled "FOR AUTOLOGOUS USE ONLY" (reference §6.3).
AUTOLOGOUS_BANNER = "FOR AUTOLOGOUS USE ONLY"


@dataclass(frozen=True)
class LabelContent:
    """``payload`` is what the barcodes encode (``identity.codes.scan_payload``); ``title`` the
    big line (an item id, a lot number); ``lines`` the rest in print order (COI, donor, run,
    product, expiry...); ``private_lines`` the patient identifiers, printed but never stored
    with the print record; ``banner`` a line in bold at the top."""

    payload: str
    title: str
    lines: tuple[str, ...] = ()
    private_lines: tuple[str, ...] = ()
    banner: str = ""
    mark: str = field(default="", compare=False)  # e.g. "REPRINT", set by the print service

    def record(self) -> dict:
        """The label as the print record keeps it (no patient identifiers)."""
        return {
            "payload": self.payload,
            "title": self.title,
            "lines": list(self.lines),
            "banner": self.banner,
        }
