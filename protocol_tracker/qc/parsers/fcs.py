"""FCS (Flow Cytometry Standard 2.0-3.2) metadata parsing and acceptance checks.

The HEADER and TEXT segments are read and cross-checked with ``flowio``. The DATA segment is
not decoded; instead, its size is checked against ``$TOT`` x the bytes per event. The TEXT
keywords are also tokenised here so that values keep every character (flowio strips ``$``
from values and lower-cases keys).
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from datetime import datetime

import flowio
from flowio.exceptions import MultipleDataSetsError

from protocol_tracker.qc.parsers import ParseError
from protocol_tracker.qc.parsers.fcs_dates import acquired_at

MAX_FCS_BYTES = 100 * 1024 * 1024
"""Largest FCS upload accepted by :func:`parse_fcs`."""

HEADER_BYTES = 58
SUPPORTED_VERSIONS = ("2.0", "3.0", "3.1", "3.2")
# HEADER offsets are 8 ASCII digits; segments past this limit have "0" in the HEADER.
_HEADER_OFFSET_LIMIT = 99_999_999
_MAX_INT_DIGITS = 18

_MAGIC_HINTS = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (e.g. XLSX)"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
)


@dataclass(frozen=True)
class FcsMetadata:
    """Metadata of one FCS data set.

    ``acquired_at`` is naive (instrument local time, no zone) when built from ``$DATE`` +
    ``$BTIM``; it is timezone-aware only if FCS 3.2 ``$BEGINDATETIME`` carries an offset.
    ``keywords`` maps every TEXT keyword, upper-cased and with its ``$`` prefix kept
    (``"$TOT"``, ``"CREATOR"``), to its value exactly as written. ``warnings`` lists
    irregularities that were tolerated (e.g. HEADER/TEXT offset disagreement).
    """

    version: str
    event_count: int
    parameter_count: int
    parameters: tuple[tuple[str, str], ...]
    cytometer: str
    serial: str
    software: str
    acquired_at: datetime | None
    sample_id: str
    sha256: str
    size_bytes: int
    keywords: dict[str, str]
    warnings: tuple[str, ...] = ()


def parse_fcs(data: bytes) -> FcsMetadata:
    """Parse and check an FCS file; raise :class:`ParseError` if it is not a sound FCS file."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"parse_fcs() expects bytes, not {type(data).__name__}")
    data = bytes(data)
    try:
        return _parse(data)
    except ParseError:
        raise
    except Exception as exc:  # safety net: callers only ever see ParseError
        raise ParseError(f"FCS file could not be parsed: {type(exc).__name__}: {exc}") from exc


def fcs_check(
    meta: FcsMetadata, *, min_events: int | None = None, expected_serial: str | None = None
) -> list[str]:
    """Return acceptance problems (an empty list means the file passes)."""
    problems: list[str] = []
    if min_events is not None and meta.event_count < min_events:
        problems.append(
            f"event count {meta.event_count} is below the minimum of {min_events} events"
        )
    if expected_serial is not None:
        expected = expected_serial.strip()
        if not meta.serial:
            problems.append(
                f"instrument serial number missing: expected {expected!r} "
                "but the file has no $CYTSN"
            )
        elif meta.serial.casefold() != expected.casefold():
            problems.append(
                f"instrument serial number mismatch: expected {expected!r}, "
                f"the file has {meta.serial!r}"
            )
    return problems


def _parse(data: bytes) -> FcsMetadata:
    size = len(data)
    if size == 0:
        raise ParseError("empty file: 0 bytes, not an FCS file")
    if size > MAX_FCS_BYTES:
        raise ParseError(f"FCS file too large: {size} bytes (the limit is {MAX_FCS_BYTES} bytes)")
    if not data.startswith(b"FCS"):
        raise ParseError(f"not an FCS file: header does not start with 'FCS'{_sniff(data)}")
    if size < HEADER_BYTES:
        raise ParseError(
            f"truncated FCS file: the HEADER needs {HEADER_BYTES} bytes "
            f"but the file has {size} bytes"
        )
    version = data[3:6].decode("latin-1")
    if version not in SUPPORTED_VERSIONS:
        raise ParseError(
            f"unsupported FCS version {version!r} (supported: {', '.join(SUPPORTED_VERSIONS)})"
        )

    notes: list[str] = []
    text_start = _header_offset(data, 10, "TEXT start")
    text_stop = _header_offset(data, 18, "TEXT end")
    header_data = (_header_offset(data, 26, "DATA start"), _header_offset(data, 34, "DATA end"))
    if text_start < HEADER_BYTES or text_stop < text_start:
        raise ParseError(
            f"corrupt FCS HEADER: invalid TEXT segment offsets {text_start}-{text_stop}"
        )
    if text_stop >= size:
        raise ParseError(
            f"truncated FCS file: TEXT segment ends at byte {text_stop} "
            f"but the file has {size} bytes"
        )

    keywords = _parse_text(data[text_start : text_stop + 1], notes)
    par = _int_keyword(keywords, "$PAR")
    tot = _int_keyword(keywords, "$TOT")
    if par < 1:
        raise ParseError("corrupt FCS TEXT: $PAR is 0, the file has no parameters")
    for required in ("$DATATYPE", "$BYTEORD"):
        if not keywords.get(required, "").strip():
            raise ParseError(f"FCS TEXT segment lacks the required keyword {required}")
    nextdata = _int_keyword(keywords, "$NEXTDATA", default=0)
    if nextdata:
        raise ParseError(
            f"FCS file holds more than one data set ($NEXTDATA={nextdata}); "
            "only single data set files are accepted"
        )
    mode = keywords.get("$MODE", "L").strip().upper()
    if mode != "L":
        raise ParseError(f"unsupported $MODE {mode!r}: only list mode data ('L') is accepted")
    parameters = _parameters(keywords, par)
    bytes_per_event = _bytes_per_event(keywords, par)

    data_range, flowio_options = _choose_data_offsets(
        version,
        header_data,
        keywords,
        size=size,
        text_range=(text_start, text_stop),
        tot=tot,
        bytes_per_event=bytes_per_event,
        notes=notes,
    )
    problem, off_by_one = _data_problem(
        data_range,
        size=size,
        text_range=(text_start, text_stop),
        tot=tot,
        bytes_per_event=bytes_per_event,
    )
    if problem:
        raise ParseError(problem)
    if off_by_one:
        notes.append(
            f"DATA end offset {data_range[1]} is one byte past the data "
            "(a common writer bug); the data itself is complete"
        )

    _cross_check_with_flowio(data, version=version, par=par, tot=tot, notes=notes, **flowio_options)

    return FcsMetadata(
        version=version,
        event_count=tot,
        parameter_count=par,
        parameters=parameters,
        cytometer=_first(keywords, "$CYT"),
        serial=_first(keywords, "$CYTSN", "CYTNUM"),
        software=_first(keywords, "CREATOR", "$CREATOR", "APPLICATION", "SOFTWARE"),
        acquired_at=acquired_at(keywords),
        sample_id=_first(keywords, "$SMNO", "TUBE NAME", "TUBE_NAME", "$FIL"),
        sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=size,
        keywords=keywords,
        warnings=tuple(notes),
    )


def _sniff(data: bytes) -> str:
    """Describe what a non-FCS upload looks like, for the error message."""
    for magic, description in _MAGIC_HINTS:
        if data.startswith(magic):
            return f" (it looks like {description})"
    head = data[:512]
    if head and all(b in b"\t\r\n" or 32 <= b < 127 or b >= 128 for b in head):
        try:
            head.decode("utf-8")
        except UnicodeDecodeError:
            return ""
        return " (it looks like a text file, e.g. a CSV export)"
    return ""


def _header_offset(data: bytes, start: int, what: str) -> int:
    raw = data[start : start + 8]
    digits = raw.strip(b" ")
    if not digits.isdigit():
        raise ParseError(
            f"corrupt FCS HEADER: {what} offset (bytes {start}-{start + 7}) "
            f"is not a number: {raw.decode('latin-1')!r}"
        )
    return int(digits)


def _parse_text(raw: bytes, notes: list[str]) -> dict[str, str]:
    """Split a TEXT segment into keywords (upper-cased) and values (unchanged)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
        notes.append("TEXT segment is not valid UTF-8; it was read as Latin-1")
    delimiter = text[0]
    if delimiter.isalnum() or delimiter in " \x00":
        raise ParseError(
            f"corrupt FCS TEXT: it must start with a delimiter character, not {delimiter!r}"
        )
    tokens = _split_tokens(text, delimiter)
    if len(tokens) % 2:
        raise ParseError(
            f"corrupt FCS TEXT: keyword {tokens[-1][:40]!r} has no value "
            "(odd number of delimited fields)"
        )
    keywords: dict[str, str] = {}
    for key_raw, value in zip(tokens[::2], tokens[1::2], strict=True):
        key = key_raw.upper()
        if not key.strip():
            raise ParseError("corrupt FCS TEXT: empty keyword name")
        if key in keywords and keywords[key] != value:
            notes.append(f"keyword {key} appears twice; the last value {value!r} is used")
        keywords[key] = value
    if not keywords:
        raise ParseError("corrupt FCS TEXT: no keywords found")
    return keywords


def _split_tokens(text: str, delimiter: str) -> list[str]:
    """Split on the delimiter; a doubled delimiter is a literal one, except at the very end."""
    tokens: list[str] = []
    buffer: list[str] = []
    i, n = 1, len(text)
    while i < n:
        j = text.find(delimiter, i)
        if j == -1:
            buffer.append(text[i:])
            break
        buffer.append(text[i:j])
        if j + 2 < n and text[j + 1] == delimiter:
            buffer.append(delimiter)
            i = j + 2
        else:
            tokens.append("".join(buffer))
            buffer = []
            i = j + 1
    rest = "".join(buffer)
    if rest.strip(" \x00\r\n\t"):  # last value without a closing delimiter
        tokens.append(rest)
    return tokens


def _int_keyword(keywords: dict[str, str], key: str, *, default: int | None = None) -> int:
    raw = keywords.get(key)
    if raw is None:
        if default is not None:
            return default
        raise ParseError(f"FCS TEXT segment lacks the required keyword {key}")
    value = raw.strip()
    if not value.isascii() or not value.isdigit() or len(value) > _MAX_INT_DIGITS:
        raise ParseError(f"corrupt FCS TEXT: {key} is not a whole number: {raw[:40]!r}")
    return int(value)


def _parameters(keywords: dict[str, str], par: int) -> tuple[tuple[str, str], ...]:
    parameters = []
    for n in range(1, par + 1):
        name = keywords.get(f"$P{n}N", "").strip()
        if not name:
            raise ParseError(
                f"FCS TEXT segment lacks $P{n}N (the name of parameter {n} of $PAR={par})"
            )
        parameters.append((name, keywords.get(f"$P{n}S", "").strip()))
    return tuple(parameters)


def _bytes_per_event(keywords: dict[str, str], par: int) -> int | None:
    """Bytes per event in DATA, or None where it cannot be computed (delimited ASCII)."""
    datatype = keywords["$DATATYPE"].strip().upper()
    if datatype == "F":
        return 4 * par
    if datatype == "D":
        return 8 * par
    if datatype not in ("I", "A"):
        raise ParseError(f"unsupported $DATATYPE {datatype!r} (expected I, F, D or A)")
    widths = []
    for n in range(1, par + 1):
        raw = keywords.get(f"$P{n}B", "").strip()
        if raw == "*" and datatype == "A":
            return None  # delimited ASCII: variable length
        if not raw.isascii() or not raw.isdigit() or len(raw) > 4 or int(raw) == 0:
            raise ParseError(f"corrupt FCS TEXT: $P{n}B is not a valid bit width: {raw[:40]!r}")
        widths.append(int(raw))
    if datatype == "A":
        return sum(widths)  # $PnB is a character count for ASCII data
    if any(width % 8 for width in widths):
        return None  # bit-packed integers: not byte aligned, skip the size check
    return sum(widths) // 8


def _choose_data_offsets(
    version: str,
    header_data: tuple[int, int],
    keywords: dict[str, str],
    *,
    size: int,
    text_range: tuple[int, int],
    tot: int,
    bytes_per_event: int | None,
    notes: list[str],
) -> tuple[tuple[int, int], dict[str, bool]]:
    """Pick the DATA offsets (HEADER or TEXT) and the matching flowio options."""
    if version == "2.0":
        return header_data, {}  # FCS 2.0 defines the offsets in the HEADER only
    if "$BEGINDATA" not in keywords and "$ENDDATA" not in keywords:
        notes.append("TEXT has no $BEGINDATA/$ENDDATA; the HEADER offsets were used")
        return header_data, {"use_header_offsets": True}
    text_data = (_int_keyword(keywords, "$BEGINDATA"), _int_keyword(keywords, "$ENDDATA"))
    if text_data == header_data:
        return text_data, {}
    if header_data == (0, 0) and text_data[1] > _HEADER_OFFSET_LIMIT:
        return text_data, {}  # large file: the HEADER cannot hold the offsets
    text_problem, _ = _data_problem(
        text_data, size=size, text_range=text_range, tot=tot, bytes_per_event=bytes_per_event
    )
    header_problem, _ = _data_problem(
        header_data, size=size, text_range=text_range, tot=tot, bytes_per_event=bytes_per_event
    )
    discrepancy = (
        f"HEADER and TEXT disagree on the DATA segment: HEADER says bytes "
        f"{header_data[0]}-{header_data[1]}, TEXT says {text_data[0]}-{text_data[1]}"
    )
    if not text_problem:
        notes.append(f"{discrepancy}; the TEXT offsets fit the data and were used")
        return text_data, {"ignore_offset_discrepancy": True}
    if not header_problem:
        notes.append(f"{discrepancy}; the HEADER offsets fit the data and were used")
        return header_data, {"use_header_offsets": True}
    raise ParseError(f"{text_problem} ({discrepancy}, and neither fits)")


def _data_problem(
    data_range: tuple[int, int],
    *,
    size: int,
    text_range: tuple[int, int],
    tot: int,
    bytes_per_event: int | None,
) -> tuple[str | None, bool]:
    """Return (problem or None, whether the end offset is off by one) for a DATA range."""
    start, stop = data_range
    if tot == 0 and stop <= start:
        return None, False  # no events, no DATA segment
    expected = None if bytes_per_event is None else tot * bytes_per_event
    actual = stop - start + 1
    off_by_one = expected is not None and actual == expected + 1
    if stop >= size and not (off_by_one and stop == size):
        return (
            f"truncated FCS file: DATA segment ends at byte {stop} but the file has {size} bytes",
            False,
        )
    if start < HEADER_BYTES or stop < start:
        return f"corrupt FCS file: invalid DATA segment offsets {start}-{stop}", False
    if start <= text_range[1] and stop >= text_range[0]:
        return (
            f"corrupt FCS file: DATA segment (bytes {start}-{stop}) overlaps the TEXT "
            f"segment (bytes {text_range[0]}-{text_range[1]})",
            False,
        )
    if expected is not None and actual != expected and not off_by_one:
        return (
            f"event count does not match the DATA segment: $TOT={tot} events x "
            f"{bytes_per_event} bytes per event = {expected} bytes, but the DATA segment "
            f"(bytes {start}-{stop}) holds {actual} bytes",
            False,
        )
    return None, off_by_one


def _cross_check_with_flowio(
    data: bytes,
    *,
    version: str,
    par: int,
    tot: int,
    notes: list[str],
    ignore_offset_discrepancy: bool = False,
    use_header_offsets: bool = False,
) -> None:
    """Let flowio read HEADER and TEXT too; any flowio error or disagreement is a ParseError."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            flow = flowio.FlowData(
                io.BytesIO(data),
                ignore_offset_discrepancy=ignore_offset_discrepancy,
                use_header_offsets=use_header_offsets,
                only_text=True,
            )
        except MultipleDataSetsError as exc:
            raise ParseError("FCS file holds more than one data set") from exc
        except KeyError as exc:
            key = str(exc.args[0]).upper() if exc.args else "?"
            raise ParseError(f"FCS TEXT segment lacks the required keyword ${key}") from exc
        except Exception as exc:
            raise ParseError(f"FCS file could not be parsed: {exc}") from exc
    notes.extend(f"flowio: {warning.message}" for warning in caught)
    found = (flow.version, flow.channel_count, flow.event_count, len(flow.pnn_labels))
    if found != (version, par, tot, par):
        raise ParseError(
            "corrupt FCS TEXT: ambiguous keywords (version, $PAR, $TOT, number of $PnN): "
            f"{(version, par, tot, par)} here, but flowio reads {found}"
        )


def _first(keywords: dict[str, str], *keys: str) -> str:
    """The first non-blank value among ``keys``, stripped, or ""."""
    for key in keys:
        value = keywords.get(key, "").strip()
        if value:
            return value
    return ""
