"""Temperature data-logger exports (CSV: time, temperature), read and judged. Pure Python.

Tolerated, and said so in ``notes``: a UTF-8 byte-order mark, ``;`` or tab delimiters, decimal
commas, preamble lines before the header, separate date and time columns, a time-zone suffix
(``Z``, ``+08:00``, ``+0800``, `` UTC``) or none (then the given zone applies), unsorted rows
(sorted), repeated rows with the same reading (dropped), rows without a reading (skipped), a
file in °F (converted; the header must say so). Refused with a message naming the row: no time
or temperature column, an unreadable or ambiguous date (``03/04/2026``), a temperature that is
not a finite number or is outside −200…100 °C, the same time with two different readings,
kelvin.

Judged against [min, max] °C: an *excursion* runs from the first reading outside the range to
the first reading back inside it (or the last reading); its minutes add up to
``minutes_outside``. A *gap* is an interval between readings longer than three times the usual
(median) interval and at least 10 minutes: nothing is known about the temperature then.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from itertools import pairwise
from statistics import median

MAX_ROWS = 500_000
MIN_C, MAX_C = -200.0, 100.0
GAP_FACTOR = 3
GAP_MIN = timedelta(minutes=10)
SERIES_POINTS = 600

_TIME_WORDS = ("time", "date", "timestamp", "zeit", "datum", "时间", "日期")
_TEMP_WORDS = ("temp", "°c", "°f", "degc", "degf", "温度", "value", "reading")
_ZONE_SUFFIX = re.compile(r"\s*(?:UTC|GMT)\s*$", re.IGNORECASE)
_COMPACT_OFFSET = re.compile(r"([+-]\d{2})(\d{2})$")
_DOTTED = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?$")
_SLASHED_YMD = re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?$")
_SLASHED_DMY = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?$")


class LoggerFileError(ValueError):
    """The file cannot be read as a logger export; the message names the row and the rule."""


@dataclass(frozen=True)
class Excursion:
    start: datetime
    end: datetime
    minutes: float
    min_c: float
    max_c: float


@dataclass(frozen=True)
class Gap:
    start: datetime
    end: datetime
    minutes: float


@dataclass
class LoggerRecord:
    readings: list[tuple[datetime, float]]
    notes: list[str] = field(default_factory=list)

    @property
    def first_at(self) -> datetime:
        return self.readings[0][0]

    @property
    def last_at(self) -> datetime:
        return self.readings[-1][0]


@dataclass
class Judgement:
    excursions: list[Excursion]
    gaps: list[Gap]
    minutes_outside: float
    min_c: float
    max_c: float

    @property
    def in_range(self) -> bool:
        return not self.excursions and not self.gaps


def _decode(data: bytes) -> tuple[str, list[str]]:
    notes = []
    if data.startswith(b"\xef\xbb\xbf"):
        notes.append("byte-order mark ignored")
    try:
        return data.decode("utf-8-sig"), notes
    except UnicodeDecodeError:
        notes.append("read as Windows-1252 (not UTF-8)")
        return data.decode("cp1252", errors="replace"), notes


def _delimiter(lines: list[str]) -> str:
    sample = "\n".join(lines[:20])
    counts = {d: sample.count(d) for d in (";", "\t", ",")}
    if counts[";"] and counts[";"] >= counts[","] / 2:
        return ";"
    if counts["\t"] and counts["\t"] >= counts[","]:
        return "\t"
    return ","


def _unit(header: str) -> str:
    text = header.lower().replace(" ", "")
    if "°f" in text or "degf" in text or "fahrenheit" in text or text.endswith(("(f)", "[f]")):
        return "F"
    if "kelvin" in text or text.endswith(("(k)", "[k]")):
        raise LoggerFileError(f"column {header!r} is in kelvin; export in °C or °F")
    return "C"


def _columns(header: list[str]) -> tuple[int, int | None, int, str]:
    """(time column, separate time-of-day column or None, temperature column, unit)."""
    lowered = [h.strip().lower() for h in header]
    date_col = next(
        (i for i, h in enumerate(lowered) if "date" in h or "datum" in h or "日期" in h), None
    )
    time_col = next(
        (
            i
            for i, h in enumerate(lowered)
            if ("time" in h or "zeit" in h or "时间" in h) and "zone" not in h
        ),
        None,
    )
    temp_col = next((i for i, h in enumerate(lowered) if any(w in h for w in _TEMP_WORDS)), None)
    if temp_col is None or (date_col is None and time_col is None):
        raise LoggerFileError(
            "no time and temperature columns found: the header needs a time (or date) column "
            "and a temperature column"
        )
    if date_col is not None and time_col is not None and date_col != time_col:
        return date_col, time_col, temp_col, _unit(header[temp_col])
    stamp_col = date_col if date_col is not None else time_col
    assert stamp_col is not None  # one of them was found above
    return stamp_col, None, temp_col, _unit(header[temp_col])


def _parse_time(text: str, zone: tzinfo, row: int) -> tuple[datetime, bool]:
    """(aware time, had a zone of its own)."""
    raw = text.strip()
    if not raw:
        raise LoggerFileError(f"row {row}: no time")
    try:  # the common case: ISO 8601, with or without a zone
        moment = datetime.fromisoformat(raw)
    except ValueError:
        pass
    else:
        if moment.tzinfo is None:
            return moment.replace(tzinfo=zone), False
        return moment, True
    utc = bool(_ZONE_SUFFIX.search(raw))
    if utc:
        raw = _ZONE_SUFFIX.sub("", raw) + "+00:00"
    raw = _COMPACT_OFFSET.sub(r"\1:\2", raw) if re.search(r"\d[+-]\d{4}$", raw) else raw
    parsed: datetime | None
    try:
        parsed = datetime.fromisoformat(raw.replace("/", "-") if re.match(r"^\d{4}/", raw) else raw)
    except ValueError:
        parsed = None
    if parsed is not None:
        moment = parsed
    else:
        for pattern, order in ((_DOTTED, "dmy"), (_SLASHED_YMD, "ymd")):
            match = pattern.match(raw)
            if match:
                a, b, c, hh, mm, ss = match.groups()
                year, month, day = (
                    (int(c), int(b), int(a)) if order == "dmy" else (int(a), int(b), int(c))
                )
                try:
                    moment = datetime(year, month, day, int(hh), int(mm), int(ss or 0))  # noqa: DTZ001
                except ValueError:
                    raise LoggerFileError(
                        f"row {row}: {text!r} is not a real date and time"
                    ) from None
                break
        else:
            if _SLASHED_DMY.match(raw):
                raise LoggerFileError(
                    f"row {row}: {text!r} is ambiguous (day/month or month/day?); export the "
                    "times as ISO 8601 (2026-03-02 08:15:00)"
                )
            raise LoggerFileError(f"row {row}: {text!r} is not a date and time")
    if moment.tzinfo is None:
        return moment.replace(tzinfo=zone), False
    return moment, True


def _parse_value(text: str, decimal_comma: bool, unit: str, row: int) -> float | None:
    raw = text.strip().replace("\u2212", "-")
    if not raw:
        return None
    if decimal_comma:
        raw = raw.replace(",", ".")
    raw = raw.removesuffix("°C").removesuffix("°F").strip()
    try:
        value = float(raw)
    except ValueError:
        raise LoggerFileError(f"row {row}: temperature {text!r} is not a number") from None
    if not math.isfinite(value):
        raise LoggerFileError(f"row {row}: temperature {text!r} is not a finite number")
    if unit == "F":
        value = (value - 32) * 5 / 9
    if not MIN_C <= value <= MAX_C:
        raise LoggerFileError(
            f"row {row}: {value:.1f} °C is outside what a logger reads ({MIN_C:g} to {MAX_C:g} °C)"
        )
    return value


def parse(data: bytes, *, zone: tzinfo) -> LoggerRecord:
    """The readings of a logger export, sorted by time, as (aware time, °C)."""
    text, notes = _decode(data)
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        raise LoggerFileError("the file is empty")
    delimiter = _delimiter(lines)
    if delimiter != ",":
        notes.append(f"delimiter {'tab' if delimiter == chr(9) else delimiter!r}")
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header: list[str] | None = None
    start_row = 0
    for number, row in enumerate(reader, start=1):
        cells = [c.strip().lower() for c in row]
        if any(any(w in c for w in _TIME_WORDS) for c in cells) and any(
            any(w in c for w in _TEMP_WORDS) for c in cells
        ):
            header, start_row = row, number
            break
        if number > 50:
            break
    if header is None:
        raise LoggerFileError(
            "no header row with a time and a temperature column in the first 50 lines"
        )
    if start_row > 1:
        notes.append(f"{start_row - 1} preamble line(s) before the header skipped")
    time_col, tod_col, temp_col, unit = _columns(header)
    if unit == "F":
        notes.append("converted from °F")
    decimal_comma = delimiter != ","
    readings: list[tuple[datetime, float]] = []
    skipped = 0
    zoned = naive = 0
    width = max(time_col, temp_col, tod_col or 0)
    for number, row in enumerate(reader, start=start_row + 1):
        if not row or not any(cell.strip() for cell in row):
            continue
        if len(row) <= width:
            raise LoggerFileError(f"row {number}: {len(row)} column(s), expected {width + 1}")
        stamp = (
            row[time_col] if tod_col is None else f"{row[time_col].strip()} {row[tod_col].strip()}"
        )
        moment, had_zone = _parse_time(stamp, zone, number)
        zoned += had_zone
        naive += not had_zone
        value = _parse_value(row[temp_col], decimal_comma, unit, number)
        if value is None:
            skipped += 1
            continue
        readings.append((moment, value))
        if len(readings) > MAX_ROWS:
            raise LoggerFileError(f"more than {MAX_ROWS} readings")
    if not readings:
        raise LoggerFileError("the file holds no readings")
    if naive:
        notes.append(f"{naive} time(s) without a zone read in {zone}")
    if skipped:
        notes.append(f"{skipped} row(s) without a reading skipped")
    if any(readings[i][0] > readings[i + 1][0] for i in range(len(readings) - 1)):
        readings.sort(key=lambda r: r[0])
        notes.append("rows were not in time order: sorted")
    unique: list[tuple[datetime, float]] = [readings[0]]
    duplicates = 0
    for moment, value in readings[1:]:
        last_moment, last_value = unique[-1]
        if moment == last_moment:
            if value != last_value:
                raise LoggerFileError(
                    f"{moment.isoformat()} has two different readings ({last_value:g} and "
                    f"{value:g} °C)"
                )
            duplicates += 1
            continue
        unique.append((moment, value))
    if duplicates:
        notes.append(f"{duplicates} repeated row(s) dropped")
    return LoggerRecord(readings=unique, notes=notes)


def judge(record: LoggerRecord, *, min_c: float, max_c: float) -> Judgement:
    readings = record.readings
    excursions: list[Excursion] = []
    start = None
    lo = hi = 0.0
    for moment, value in readings:
        outside = value < min_c or value > max_c
        if outside:
            if start is None:
                start, lo, hi = moment, value, value
            else:
                lo, hi = min(lo, value), max(hi, value)
        elif start is not None:
            excursions.append(
                Excursion(start, moment, (moment - start).total_seconds() / 60, lo, hi)
            )
            start = None
    if start is not None:
        end = readings[-1][0]
        excursions.append(Excursion(start, end, (end - start).total_seconds() / 60, lo, hi))
    gaps: list[Gap] = []
    if len(readings) > 2:
        steps = [(b[0] - a[0]) for a, b in pairwise(readings)]
        usual = timedelta(seconds=median(step.total_seconds() for step in steps))
        limit = max(usual * GAP_FACTOR, GAP_MIN)
        gaps = [
            Gap(readings[i][0], readings[i + 1][0], step.total_seconds() / 60)
            for i, step in enumerate(steps)
            if step > limit
        ]
    values = [value for _moment, value in readings]
    return Judgement(
        excursions=excursions,
        gaps=gaps,
        minutes_outside=round(sum(e.minutes for e in excursions), 2),
        min_c=min(values),
        max_c=max(values),
    )


def downsample(record: LoggerRecord, points: int = SERIES_POINTS) -> list[tuple[datetime, float]]:
    """At most ``points`` readings for a plot, keeping each bucket's lowest and highest."""
    readings = record.readings
    if len(readings) <= points:
        return list(readings)
    size = math.ceil(len(readings) / (points // 2))
    out: list[tuple[datetime, float]] = []
    for i in range(0, len(readings), size):
        bucket = readings[i : i + size]
        low = min(bucket, key=lambda r: r[1])
        high = max(bucket, key=lambda r: r[1])
        out.extend(sorted({low, high}, key=lambda r: r[0]))
    return out
