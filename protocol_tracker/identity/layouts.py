"""COI layouts: how a lab's chain-of-identity identifiers look, are issued and are checked.

A layout turns (prefix, year, sequence number) into the printed identifier and reads one back,
refusing a mistyped one (wrong shape or a check character that does not check) before anything is
looked up. The built-in layout is ``PT``: ``PREFIX-YY-NNNNN-C``, e.g. ``DEMO-26-00017-K``, with
an ISO 7064 MOD 37,36 check character (:mod:`.checks`) over ``PREFIXYYNNNNN``.

A lab that holds an ICCBBA licence can plug in an ISBT 128 layout (e.g. the CoI Identifier of
ST-028): subclass :class:`CoiLayout`, list its dotted path in the ``IDENTITY_COI_LAYOUTS``
setting and choose it in the lab's COI settings. No ISBT 128 tables ship here (reference §6.3,
[Q8]-[Q10]: using ISBT 128 needs registration and a licence).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from protocol_tracker.identity.checks import check_character, is_valid

PREFIX_RE = re.compile(r"^[A-Z][A-Z0-9]{1,5}$")


class CoiFormatError(ValueError):
    """Not a COI of this layout: the message says what is wrong (shape, check character)."""


@dataclass(frozen=True)
class ParsedCoi:
    value: str  # canonical (as printed)
    prefix: str
    year: int
    sequence: int


class CoiLayout:
    """One way of writing COIs. ``key`` is stored on every COI issued with it."""

    key = ""
    name = ""

    def format(self, *, prefix: str, year: int, sequence: int) -> str:
        raise NotImplementedError

    def parse(self, text: str) -> ParsedCoi:
        """The COI ``text`` stands for (case and surrounding spaces forgiven), or
        CoiFormatError."""
        raise NotImplementedError


class PtLayout(CoiLayout):
    """``PREFIX-YY-NNNNN-C``: a prefix of 2-6 capitals and digits, the two-digit year of issue,
    a sequence of at least five digits and an ISO 7064 MOD 37,36 check character."""

    key = "pt"
    name = "PREFIX-YY-NNNNN-C (ISO 7064 MOD 37,36)"
    _RE = re.compile(r"^([A-Z][A-Z0-9]{1,5})-([0-9]{2})-([0-9]{5,9})-([0-9A-Z])$")

    def format(self, *, prefix: str, year: int, sequence: int) -> str:
        if not PREFIX_RE.match(prefix):
            raise CoiFormatError(f"prefix {prefix!r} must be 2-6 capitals or digits")
        body = f"{prefix}{year % 100:02d}{sequence:05d}"
        return f"{prefix}-{year % 100:02d}-{sequence:05d}-{check_character(body)}"

    def parse(self, text: str) -> ParsedCoi:
        value = (text or "").strip().upper()
        match = self._RE.match(value)
        if match is None:
            raise CoiFormatError(
                f"{text!r} is not a COI of the form PREFIX-YY-NNNNN-C (e.g. DEMO-26-00017-K)"
            )
        prefix, yy, number, check = match.groups()
        if not is_valid(f"{prefix}{yy}{number}{check}"):
            raise CoiFormatError(
                f"{value} fails its check character: mistyped or misread (check every character)"
            )
        return ParsedCoi(value=value, prefix=prefix, year=2000 + int(yy), sequence=int(number))


BUILT_IN: tuple[type[CoiLayout], ...] = (PtLayout,)
DEFAULT_LAYOUT = PtLayout.key


@cache
def _registry(extra: tuple[str, ...]) -> dict[str, CoiLayout]:
    layouts: dict[str, CoiLayout] = {}
    for cls in (*BUILT_IN, *(import_string(path) for path in extra)):
        layout = cls()
        if not layout.key or layout.key in layouts:
            raise ValueError(f"COI layout {cls.__name__} needs a unique key")
        layouts[layout.key] = layout
    return layouts


def layouts() -> dict[str, CoiLayout]:
    """Every installed layout by key (the built-in ones and ``IDENTITY_COI_LAYOUTS``)."""
    return _registry(tuple(getattr(settings, "IDENTITY_COI_LAYOUTS", ())))


def layout(key: str) -> CoiLayout:
    try:
        return layouts()[key]
    except KeyError:
        raise CoiFormatError(f"no COI layout {key!r} is installed") from None


def parse_coi(text: str) -> ParsedCoi:
    """``text`` read by the first installed layout that accepts it, or the built-in layout's
    error (the most specific one: shape or check character)."""
    errors = []
    for candidate in layouts().values():
        try:
            return candidate.parse(text)
        except CoiFormatError as exc:
            errors.append(exc)
    raise errors[0]
