"""The content of a generated document as plain data: sections of headings, text, field lists
and tables.

Any app (at any layer: this is a leaf) can contribute a section of the batch record by returning
a :class:`Section`; ``protocol_tracker.outcomes.documents`` lays them out as PDF pages (reportlab,
the embedded fonts) and they stay independent of the page layout. Text is plain (no markup):
the renderer escapes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Text:
    text: str
    style: str = "body"  # body | small | muted | warning


@dataclass(frozen=True)
class Fields:
    """Label: value pairs, two columns."""

    items: Sequence[tuple[str, str]]


@dataclass(frozen=True)
class Table:
    """A table: ``header`` then ``rows`` of text; ``widths`` are relative column widths."""

    header: Sequence[str]
    rows: Sequence[Sequence[str]]
    widths: Sequence[float] | None = None
    repeat_header: bool = True


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2  # 2 within a section, 3 below


Block = Text | Fields | Table | Heading


@dataclass(frozen=True)
class Section:
    """A titled part of a document; ``new_page`` starts it on a fresh page."""

    title: str
    blocks: Sequence[Block] = field(default_factory=tuple)
    new_page: bool = False
    key: str = ""


__all__ = ["Block", "Fields", "Heading", "Section", "Table", "Text"]
