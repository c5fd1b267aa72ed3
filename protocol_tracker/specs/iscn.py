"""A karyotype written in ISCN (An International System for Human Cytogenomic Nomenclature,
2020/2024): cells counted, clones, and the clonal abnormalities ISCN defines.

What is read: one or more clones separated by ``/`` (``mos``/``chi`` prefixes allowed), each
``<chromosome count>,<sex chromosomes>[,<aberration>...][<cells>]``, e.g. ``46,XY[20]``,
``47,XY,+12[3]/46,XY[17]``, ``46,XX,t(9;22)(q34;q11.2)[2]/46,XX[18]``, ``45,X[4]/46,XX[16]``.
An aberration is a numerical gain (``+12``, ``+X``, ``+mar``), a numerical loss (``-7``,
``-X``) or a structural rearrangement (``del``, ``dup``, ``t``, ``inv``, ``i``, ``der``, ``add``,
``ins``, ``r``, ``dic``, ``idic``, ``hsr``, ``fra``, ``trp``...) with its bands. A sex-chromosome
count away from two in a 45/47-chromosome clone is a loss or a gain of that clone.

ISCN's clone rule: **at least two cells with the same gain or structural aberration, or at
least three cells with the same loss**, is a clone; fewer is a non-clonal (single-cell)
finding, reported but not an abnormal karyotype. (ISCN 2020 §11.1; ISCBI's seed-stock
guidance asks for 20 G-banded metaphases.)
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

__all__ = ["ISCNError", "Karyotype", "parse_iscn"]


class ISCNError(ValueError):
    """Text that is not an ISCN karyotype this parser reads."""


_CELLS = re.compile(r"^(?P<body>.*?)\[(?P<cells>\d{1,4})\]$")
_COUNT = re.compile(r"^\d{2}(?:~\d{2})?(?:<\dn>)?$")
_SEX = re.compile(r"^[XY]{1,5}$")
_NUMERICAL = re.compile(r"^(?P<sign>[+-])(?P<what>[1-9]|1\d|2[0-2]|X|Y|mar\d*)(?P<c>c?)$")
_STRUCTURAL = re.compile(
    r"^(?:[+-])?(?:del|dup|t|inv|i|der|add|ins|r|dic|idic|hsr|fra|trp|qdp|rob|tas|psu|"
    r"ider|idem|dmin|h|e|min|neo|pat|mat|rec|sdl|tel|tr|upd)\([^()]+\)(?:\([^()]*\))*$"
)


@dataclass(frozen=True)
class Clone:
    text: str
    cells: int
    aberrations: tuple[str, ...]
    sex: str = ""

    @property
    def normal(self) -> bool:
        return not self.aberrations


@dataclass
class Karyotype:
    text: str
    clones: list[Clone]
    metaphases: int
    normal_cells: int
    clonal: list[str] = field(default_factory=list)  # clonal aberrations (abnormal karyotype)
    non_clonal: list[str] = field(default_factory=list)  # single-cell findings

    @property
    def normal(self) -> bool:
        return not self.clonal


def _kind(aberration: str) -> str:
    """ "gain", "loss" or "structural"."""
    m = _NUMERICAL.match(aberration)
    if m:
        return "gain" if m["sign"] == "+" else "loss"
    return "structural"


def _clone(text: str) -> Clone:
    raw = text.strip()
    raw = re.sub(r"^(?:mos|chi)\s+", "", raw)
    m = _CELLS.match(raw)
    if not m:
        raise ISCNError(f"'{text.strip()}' gives no cell count in square brackets, e.g. 46,XY[20]")
    cells = int(m["cells"])
    parts = [p.strip() for p in m["body"].split(",")]
    if len(parts) < 2 or not _COUNT.match(parts[0]):
        raise ISCNError(f"'{text.strip()}' does not start with a chromosome count such as 46,")
    if not _SEX.match(parts[1]):
        raise ISCNError(f"'{parts[1]}' is not a sex-chromosome complement (XX, XY, X, XXY...)")
    aberrations: list[str] = []
    for part in parts[2:]:
        if not (_NUMERICAL.match(part) or _STRUCTURAL.match(part)):
            raise ISCNError(f"'{part}' is not an ISCN aberration")
        if part.endswith("c") and _NUMERICAL.match(part):
            continue  # constitutional (c): present in the donor, not acquired in culture
        aberrations.append(part)
    return Clone(text=raw, cells=cells, aberrations=tuple(aberrations), sex=parts[1])


def _with_sex_changes(clones: list[Clone]) -> list[Clone]:
    """A clone whose sex chromosomes differ from the karyotype's own (the 46-chromosome
    clone's, else XX or XY) without an explicit +X/-Y... has gained or lost them."""
    reference = next((c.sex for c in clones if len(c.sex) == 2), None)
    if reference is None:
        reference = "XY" if any("Y" in c.sex for c in clones) else "XX"
    out = []
    for clone in clones:
        have, want = Counter(clone.sex), Counter(reference)
        written = set(clone.aberrations)
        extra = [f"+{x}" for x in (have - want).elements() if f"+{x}" not in written]
        missing = [f"-{x}" for x in (want - have).elements() if f"-{x}" not in written]
        out.append(
            Clone(clone.text, clone.cells, (*clone.aberrations, *extra, *missing), clone.sex)
        )
    return out


def parse_iscn(text: str) -> Karyotype:
    """Read ``text`` (ISCN); raise :class:`ISCNError` naming what could not be read."""
    if not isinstance(text, str) or not text.strip():
        raise ISCNError("an ISCN karyotype is required, e.g. 46,XY[20]")
    # ".ish ..." / ".arr ..." (FISH, array) follow-ups are not read; bands keep their dots.
    body = re.split(r"\.(?=(?:ish|arr|nuc|rsa|seq)\b)", text.strip(), maxsplit=1)[0]
    clones = [_clone(part) for part in body.split("/") if part.strip()]
    clones = _with_sex_changes(clones)
    cells_with: dict[str, int] = {}
    for clone in clones:
        for aberration in set(clone.aberrations):
            cells_with[aberration] = cells_with.get(aberration, 0) + clone.cells
    clonal: list[str] = []
    non_clonal: list[str] = []
    for aberration, cells in sorted(cells_with.items()):
        needed = 3 if _kind(aberration) == "loss" else 2
        (clonal if cells >= needed else non_clonal).append(f"{aberration} in {cells} cells")
    return Karyotype(
        text=text.strip(),
        clones=clones,
        metaphases=sum(c.cells for c in clones),
        normal_cells=sum(c.cells for c in clones if c.normal),
        clonal=clonal,
        non_clonal=non_clonal,
    )
