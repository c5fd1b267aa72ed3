"""Acquisition date and time from an FCS file's TEXT keywords ($BEGINDATETIME, $DATE, $BTIM).

FCS writers spell dates many ways; these are the ones the standard and common instruments use.
Times are local to the instrument, with no zone (the caller applies the lab's).
"""

from __future__ import annotations

import re
from datetime import datetime

_MONTHS = (
    "JANUARY",
    "FEBRUARY",
    "MARCH",
    "APRIL",
    "MAY",
    "JUNE",
    "JULY",
    "AUGUST",
    "SEPTEMBER",
    "OCTOBER",
    "NOVEMBER",
    "DECEMBER",
)
_DATE_DAY_MONTH_YEAR = re.compile(r"(\d{1,2})[-/ .]([A-Za-z]{3,9})[-/ .](\d{4}|\d{2})")
_DATE_ISO = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")
_TIME = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2})(?:([.:])(\d{1,6}))?)?")


def acquired_at(keywords: dict[str, str]) -> datetime | None:
    """Acquisition start from $BEGINDATETIME (FCS 3.2) or $DATE + $BTIM; None if unknown."""
    begin = keywords.get("$BEGINDATETIME", "").strip()
    if begin:
        try:
            return datetime.fromisoformat(begin)
        except ValueError:
            pass
    day = parse_date(keywords.get("$DATE", ""))
    clock = parse_time(keywords.get("$BTIM", ""))
    if day is None or clock is None:
        return None
    try:
        return datetime(*day, *clock)  # noqa: DTZ001 - FCS times are local, with no zone
    except ValueError:
        return None


def parse_date(raw: str) -> tuple[int, int, int] | None:
    """Parse "05-JAN-2015", "18-May-05" or "2015-01-05" into (year, month, day)."""
    value = raw.strip()
    if match := _DATE_DAY_MONTH_YEAR.fullmatch(value):
        day, month_name, year_text = match.groups()
        month_name = month_name.upper()
        months = [i for i, name in enumerate(_MONTHS, 1) if name.startswith(month_name)]
        if len(months) != 1:
            return None
        year = int(year_text)
        if len(year_text) == 2:
            year += 2000 if year < 69 else 1900  # same pivot as strptime's %y
        return year, months[0], int(day)
    if match := _DATE_ISO.fullmatch(value):
        year, month, day = (int(part) for part in match.groups())
        return year, month, day
    return None


def parse_time(raw: str) -> tuple[int, int, int, int] | None:
    """Parse "hh:mm[:ss[.cc]]" or FCS 2.0/3.0 "hh:mm:ss:tt" (tt in 1/60 s)."""
    match = _TIME.fullmatch(raw.strip())
    if not match:
        return None
    hour, minute, second, separator, fraction = match.groups()
    microsecond = 0
    if fraction:
        if separator == ":":
            ticks = int(fraction)
            if ticks >= 60:
                return None
            microsecond = round(ticks * 1_000_000 / 60)
        else:
            microsecond = int(fraction.ljust(6, "0"))
    return int(hour), int(minute), int(second or 0), microsecond
