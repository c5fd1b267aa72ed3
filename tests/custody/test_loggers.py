"""Data-logger exports read and judged: the common export quirks are tolerated and said so; a
file that cannot be read says which row and why. Plain Python."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from protocol_tracker.custody.loggers import LoggerFileError, downsample, judge, parse

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _csv(values, *, header="time,temperature_c", step=5, fmt=None, start=T0) -> bytes:
    rows = [header]
    for i, value in enumerate(values):
        moment = start + timedelta(minutes=step * i)
        rows.append(f"{fmt(moment) if fmt else moment.isoformat()},{value}")
    return ("\n".join(rows) + "\n").encode()


def test_a_clean_file_in_range():
    record = parse(_csv([4.0, 5.0, 6.0, 5.5]), zone=SHANGHAI)
    judged = judge(record, min_c=2, max_c=8)
    assert (len(record.readings), record.notes, judged.in_range, judged.minutes_outside) == (
        4, [], True, 0
    )  # fmt: skip


def test_the_common_quirks_are_read_and_noted():
    data = (
        "\ufeffLogger TL-42 export\nSerial;12345\n"
        "Date/Time;Temperature (°C)\n"
        "02.03.2026 08:00:00;4,5\n"
        "02.03.2026 08:10:00;5,5\n"
        "02.03.2026 08:05:00;5,0\n"
        "02.03.2026 08:05:00;5,0\n"
        "02.03.2026 08:15:00;\n"
    ).encode()

    record = parse(data, zone=SHANGHAI)

    assert [(t.astimezone(UTC).strftime("%H:%M"), v) for t, v in record.readings] == [
        ("00:00", 4.5), ("00:05", 5.0), ("00:10", 5.5),
    ]  # fmt: skip
    assert record.notes == [
        "byte-order mark ignored",
        "delimiter ';'",
        "2 preamble line(s) before the header skipped",
        "5 time(s) without a zone read in Asia/Shanghai",
        "1 row(s) without a reading skipped",
        "rows were not in time order: sorted",
        "1 repeated row(s) dropped",
    ]


@pytest.mark.parametrize(
    "stamp",
    ["2026-03-02T08:00:00Z", "2026-03-02 16:00:00+08:00", "2026-03-02 16:00:00+0800",
     "2026-03-02 08:00:00 UTC"],
)  # fmt: skip
def test_time_zone_suffixes(stamp):
    record = parse(f"time,temp\n{stamp},5\n".encode(), zone=SHANGHAI)
    assert record.readings[0][0] == T0


def test_fahrenheit_is_converted_when_the_header_says_so():
    record = parse(_csv([39.2, 46.4], header="Time,Temp (°F)"), zone=UTC)
    assert [round(v, 2) for _t, v in record.readings] == [4.0, 8.0]
    assert record.notes == ["converted from °F"]


def test_an_excursion_and_its_minutes():
    record = parse(_csv([5, 5, 9, 10, 9.5, 5, 5, 1.5, 5]), zone=UTC)
    judged = judge(record, min_c=2, max_c=8)

    assert [(e.minutes, e.min_c, e.max_c) for e in judged.excursions] == [
        (15.0, 9.0, 10.0), (5.0, 1.5, 1.5),
    ]  # fmt: skip
    assert judged.minutes_outside == 20.0
    assert not judged.in_range


def test_an_excursion_that_never_ends_runs_to_the_last_reading():
    judged = judge(parse(_csv([5, 9, 9]), zone=UTC), min_c=2, max_c=8)  # 0, 5, 10 min
    assert judged.minutes_outside == 5.0


def test_a_gap_in_the_readings_is_flagged():
    data = _csv([5] * 10).decode().splitlines()
    del data[4:8]  # 20 minutes of readings missing
    judged = judge(parse(("\n".join(data) + "\n").encode(), zone=UTC), min_c=2, max_c=8)
    assert [g.minutes for g in judged.gaps] == [25.0]
    assert judged.excursions == [] and not judged.in_range


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file is empty"),
        (b"a,b\n1,2\n", "no header row with a time and a temperature"),
        (b"time,temp\n", "holds no readings"),
        (b"time,temp\n03/04/2026 08:00,5\n", "is ambiguous (day/month or month/day?)"),
        (b"time,temp\nyesterday,5\n", "row 2: 'yesterday' is not a date and time"),
        (b"time,temp\n2026-02-30 08:00,5\n", "is not a date and time"),
        (b"time,temp\n2026-03-02 08:00,warm\n", "row 2: temperature 'warm' is not a number"),
        (b"time,temp\n2026-03-02 08:00,nan\n", "is not a finite number"),
        (b"time,temp\n2026-03-02 08:00,500\n", "outside what a logger reads"),
        (b"time,temp (K)\n2026-03-02 08:00,277\n", "is in kelvin"),
        (b"time,temp\n2026-03-02 08:00,5\n2026-03-02 08:00,6\n", "two different readings"),
        (b"time;temp;x\n2026-03-02 08:00\n", "row 2: 1 column(s), expected 2"),
    ],
)
def test_unreadable_files_say_which_row_and_why(data, message):
    with pytest.raises(
        LoggerFileError, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")
    ):
        parse(data, zone=UTC)


def test_100k_rows_are_judged_and_the_plot_keeps_the_extremes():
    values = [5.0] * 100_000
    values[54_321] = 12.0
    record = parse(_csv(values, step=1), zone=UTC)
    judged = judge(record, min_c=2, max_c=8)
    series = downsample(record)

    assert len(record.readings) == 100_000
    assert [e.minutes for e in judged.excursions] == [1.0]
    assert len(series) <= 600 and max(v for _t, v in series) == 12.0
