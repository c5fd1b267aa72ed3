"""Tests for protocol_tracker.qc.parsers.fcs: real FCS files, generated files, corruption."""

from __future__ import annotations

import hashlib
import io
from datetime import datetime, timedelta, timezone
from pathlib import Path

import flowio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol_tracker.qc.parsers import MAX_FCS_BYTES, FcsMetadata, ParseError, fcs_check, parse_fcs
from protocol_tracker.qc.parsers import fcs as fcs_module
from tests.builders import FCS_DIR

DEFAULT_METADATA = {
    "$CYT": "Attune NxT",
    "$CYTSN": "SN-001",
    "$DATE": "05-JAN-2015",
    "$BTIM": "10:20:30",
    "$SMNO": "S-42",
    "$FIL": "tube1.fcs",
    "CREATOR": "TestWriter 1.0",
}
HYPOTHESIS = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def make_fcs(
    n_events: int = 100,
    channels: tuple[str, ...] = ("FSC-A", "SSC-A", "FL1-A"),
    labels: tuple[str, ...] | None = ("", "", "CD73"),
    metadata: dict[str, str] | None = None,
) -> bytes:
    """Write an FCS 3.1 file (float data) with flowio and return its bytes."""
    buffer = io.BytesIO()
    events = [float(i % 1000) for i in range(n_events * len(channels))]
    flowio.create_fcs(
        buffer,
        events,
        list(channels),
        opt_channel_names=list(labels) if labels is not None else None,
        metadata_dict=DEFAULT_METADATA if metadata is None else metadata,
    )
    return buffer.getvalue()


def patch(data: bytes, old: bytes, new: bytes) -> bytes:
    """Replace one occurrence of ``old`` with ``new`` of the same length (offsets stay valid)."""
    assert len(old) == len(new), (old, new)
    assert data.count(old) == 1, old
    return data.replace(old, new)


def patch_header(data: bytes, start: int, value: bytes) -> bytes:
    """Overwrite one 8-byte HEADER offset field starting at ``start``."""
    return data[:start] + value.rjust(8) + data[start + 8 :]


@pytest.fixture
def fcs_dir() -> Path:
    """The real FCS files, in the repo (tests/data/fcs, with their licence)."""
    return FCS_DIR


@pytest.fixture
def generated_fcs() -> bytes:
    """A small FCS 3.1 file: 100 events x 3 float channels, written by flowio."""
    return make_fcs()


# --- real files -----------------------------------------------------------------------------

REAL_FILES = [
    # name, version, events, parameters, size, sha256
    (
        "G11.fcs",
        "3.1",
        5785,
        12,
        285872,
        "40ed9f6d4293a87077cab07a34c68b2497d4d69988adcb64a5f718098f48b56f",
    ),
    (
        "3FITC_4PE_004.fcs",
        "2.0",
        94569,
        4,
        757929,
        "240e76eba7e04c7e9116c8c3ad8388ccb2faf58105d21b831d122764a3621e53",
    ),
    (
        "data1.fcs",
        "2.0",
        13367,
        8,
        216432,
        "cba7812f5bbce700786d22d97cf9858c1301878aa840c64eadcd263a3a0a5508",
    ),
    (
        "variable_int_example.fcs",
        "3.0",
        2,
        26,
        6189,
        "88d2933d52686b061f36d8596e0826c9d2e75eb3d654d570f4ad3f1153f9beb2",
    ),
    (
        "data_start_offset_discrepancy_example.fcs",
        "3.0",
        2,
        26,
        6263,
        "414fdccae26a65996324261ab028fb1c762e448313ebcf6207894b4dc43eef47",
    ),
]


@pytest.mark.parametrize(("name", "version", "events", "params", "size", "sha256"), REAL_FILES)
def test_real_file_basics(
    fcs_dir: Path, name: str, version: str, events: int, params: int, size: int, sha256: str
) -> None:
    data = (fcs_dir / name).read_bytes()
    meta = parse_fcs(data)
    assert isinstance(meta, FcsMetadata)
    assert meta.version == version
    assert meta.event_count == events
    assert meta.parameter_count == params
    assert len(meta.parameters) == params
    assert meta.size_bytes == size == len(data)
    assert meta.sha256 == sha256 == hashlib.sha256(data).hexdigest()
    assert meta.keywords["$TOT"].lstrip("0") == str(events)
    assert meta.keywords["$PAR"] == str(params)


def test_g11_fcs31_attune(fcs_dir: Path) -> None:
    meta = parse_fcs((fcs_dir / "G11.fcs").read_bytes())
    assert meta.parameters == (
        ("Time", "Time"),
        ("FSC-A", "FSC-A"),
        ("SSC-A", "SSC-A"),
        ("BL1-A", "GFP-A"),
        ("YL2-A", "mCherry-A"),
        ("VL1-A", "Alexa Fluor™ 405-A"),
        ("FSC-H", "FSC-H"),
        ("SSC-H", "SSC-H"),
        ("VL1-H", "Alexa Fluor™ 405-H"),
        ("FSC-W", "FSC-W"),
        ("SSC-W", "SSC-W"),
        ("VL1-W", "Alexa Fluor™ 405-W"),
    )
    assert meta.cytometer == "4486521 Attune NxT Acoustic Focusing Cytometer (Lasers: BRVY)"
    assert meta.serial == "2AFC210070815"
    assert meta.software == ""
    assert meta.acquired_at == datetime(2020, 3, 2, 9, 50, 15)
    assert meta.acquired_at.tzinfo is None
    assert meta.sample_id == "Plate 1"
    assert meta.warnings == ()
    assert len(meta.keywords) == 157
    assert meta.keywords["$DATE"] == "02-Mar-2020"
    assert meta.keywords["$FIL"] == "G11.fcs"
    assert meta.keywords["$SYS"] == "OPTIXE2 Microsoft Windows 7 Professional "  # unchanged
    assert meta.keywords["#PTRESULT"] == "Pass"
    assert meta.keywords["$BEGINDATA"] == "000000008192"


def test_3fitc_fcs20_facscan(fcs_dir: Path) -> None:
    meta = parse_fcs((fcs_dir / "3FITC_4PE_004.fcs").read_bytes())
    assert meta.parameters == (("FSC-H", ""), ("SSC-H", ""), ("FL1-H", ""), ("FL2-H", ""))
    assert meta.cytometer == "FACScan"
    assert meta.serial == "82058"  # BD CYTNUM: FCS 2.0 has no $CYTSN
    assert meta.software == "CELLQuestª 3.3"  # Mac Roman "™", read as Latin-1
    assert meta.acquired_at == datetime(2005, 5, 18, 17, 54, 22)  # "18-May-05"
    assert meta.sample_id == "3FITC-4PEB.004.fcs"  # $FIL
    assert meta.keywords["SAMPLE ID"] == "CD3 FITC"
    assert meta.warnings == ("TEXT segment is not valid UTF-8; it was read as Latin-1",)


def test_data1_fcs20_facscalibur(fcs_dir: Path) -> None:
    meta = parse_fcs((fcs_dir / "data1.fcs").read_bytes())
    assert meta.parameters == (
        ("FSC-H", "FSC-Height"),
        ("SSC-H", "SSC-Height"),
        ("FL1-H", "CD4 FITC"),
        ("FL2-H", "CD8 B PE"),
        ("FL3-H", "CD3 PerCP"),
        ("FL2-A", ""),
        ("FL4-H", "CD8 APC"),
        ("Time", "Time (102.40 sec.)"),
    )
    assert meta.cytometer == "FACSCalibur"
    assert meta.serial == "E3820"
    assert meta.software == "CELLQuestª 3.3"
    assert meta.acquired_at == datetime(2002, 8, 23, 16, 31, 33)  # "23-Aug-02"
    assert meta.sample_id == "B07"
    assert len(meta.keywords) == 146
    # "\" is the delimiter here: a doubled "\\" is a literal "\", values keep their spaces.
    key = "&5DATA FILE PREFIX PART #1\\&6DATA FILE PREFIX PART #2\\&7DATA FILE PREFIX PART #3"
    assert meta.keywords[key + "\\&8ACQUISITION DOC."] == "LYMPH SUBSET ACQ"
    assert meta.keywords["&10PATIENT ID"] == " FJ#192659"
    assert meta.keywords["&13ANALYSIS DOC."] == ""


def test_variable_int_example(fcs_dir: Path) -> None:
    meta = parse_fcs((fcs_dir / "variable_int_example.fcs").read_bytes())
    assert meta.parameters[0] == ("FSC LogH", "FSC LogH")
    assert meta.parameters[8] == ("488/552nm PECy5.5 (710/40) LogH", "xxxxxxxxxxx")
    assert meta.parameters[-1] == ("Time", "Time")
    assert [meta.keywords[f"$P{n}B"] for n in range(1, 27)] == ["16"] * 25 + ["32"]
    assert meta.cytometer == "S1400EXi"
    assert meta.serial == "S1417EXiBRVY01052015-45"
    assert meta.software == "xxxxxxxxxxxxxxxxxxxxxxxxxxxxx xxxxxxxxxx"
    # $BTIM "17:29:39:51": the 4th field is in 1/60 s (FCS 3.0)
    assert meta.acquired_at == datetime(2019, 6, 28, 17, 29, 39, 850000)
    assert meta.sample_id == "xxxxxxxx xxxxx"  # TUBE_NAME
    assert meta.warnings == ()


def test_data_start_offset_discrepancy_example(fcs_dir: Path) -> None:
    data = (fcs_dir / "data_start_offset_discrepancy_example.fcs").read_bytes()
    with pytest.raises(flowio.exceptions.DataOffsetDiscrepancyError):
        flowio.FlowData(io.BytesIO(data))  # flowio's default refuses the file
    meta = parse_fcs(data)
    reference = parse_fcs((fcs_dir / "variable_int_example.fcs").read_bytes())
    assert meta.event_count == reference.event_count == 2
    assert meta.parameters == reference.parameters
    assert meta.keywords == reference.keywords
    assert meta.warnings == (
        "HEADER and TEXT disagree on the DATA segment: HEADER says bytes 5555-6188, "
        "TEXT says 6081-6188; the TEXT offsets fit the data and were used",
    )


@pytest.mark.parametrize(
    ("length", "message"),
    [
        (0, "empty file: 0 bytes, not an FCS file"),
        (3, "truncated FCS file: the HEADER needs 58 bytes but the file has 3 bytes"),
        (57, "truncated FCS file: the HEADER needs 58 bytes but the file has 57 bytes"),
        (58, "truncated FCS file: TEXT segment ends at byte 8191 but the file has 58 bytes"),
        (4000, "truncated FCS file: TEXT segment ends at byte 8191 but the file has 4000 bytes"),
        (8192, "truncated FCS file: DATA segment ends at byte 285871 but the file has 8192 bytes"),
        (
            10000,
            "truncated FCS file: DATA segment ends at byte 285871 but the file has 10000 bytes",
        ),
        (
            285871,
            "truncated FCS file: DATA segment ends at byte 285871 but the file has 285871 bytes",
        ),
    ],
)
def test_real_file_truncated(fcs_dir: Path, length: int, message: str) -> None:
    data = (fcs_dir / "G11.fcs").read_bytes()
    with pytest.raises(ParseError) as excinfo:
        parse_fcs(data[:length])
    assert str(excinfo.value) == message


@pytest.mark.parametrize("name", [row[0] for row in REAL_FILES])
def test_real_files_truncated_anywhere(fcs_dir: Path, name: str) -> None:
    data = (fcs_dir / name).read_bytes()
    data_end = int(parse_fcs(data).keywords.get("$ENDDATA") or data[34:42])  # inclusive
    for length in (1, 30, 58, 80, len(data) // 2, data_end - 1, data_end):
        with pytest.raises(ParseError):
            parse_fcs(data[:length])


# --- generated files ------------------------------------------------------------------------


def test_generated_file(generated_fcs: bytes) -> None:
    meta = parse_fcs(generated_fcs)
    assert meta.version == "3.1"
    assert meta.event_count == 100
    assert meta.parameter_count == 3
    assert meta.parameters == (("FSC-A", ""), ("SSC-A", ""), ("FL1-A", "CD73"))
    assert meta.cytometer == "Attune NxT"
    assert meta.serial == "SN-001"
    assert meta.software == "TestWriter 1.0"
    assert meta.acquired_at == datetime(2015, 1, 5, 10, 20, 30)
    assert meta.sample_id == "S-42"
    assert meta.size_bytes == len(generated_fcs) == 1878
    assert meta.sha256 == hashlib.sha256(generated_fcs).hexdigest()
    assert meta.warnings == ()
    assert meta.keywords["$TOT"] == "100"
    assert meta.keywords["CREATOR"] == "TestWriter 1.0"
    assert all(key == key.upper() for key in meta.keywords)


def test_metadata_is_frozen(generated_fcs: bytes) -> None:
    meta = parse_fcs(generated_fcs)
    with pytest.raises(AttributeError):
        meta.event_count = 1  # type: ignore[misc]


def test_keyword_values_are_kept_verbatim() -> None:
    data = make_fcs(metadata={"$COM": "Cost $5 / 2 runs ", "Tube Name": "Tube_001"})
    meta = parse_fcs(data)
    assert meta.keywords["$COM"] == "Cost $5 / 2 runs "  # "$", case, doubled "/" and space kept
    assert meta.keywords["TUBE NAME"] == "Tube_001"
    assert meta.sample_id == "Tube_001"
    assert meta.cytometer == meta.serial == meta.software == ""
    assert meta.acquired_at is None


def test_sample_id_falls_back_to_fil() -> None:
    meta = parse_fcs(make_fcs(metadata={"$FIL": "Specimen_001.fcs"}))
    assert meta.sample_id == "Specimen_001.fcs"


def test_accepts_bytearray_and_memoryview(generated_fcs: bytes) -> None:
    expected = parse_fcs(generated_fcs)
    assert parse_fcs(bytearray(generated_fcs)) == expected
    assert parse_fcs(memoryview(generated_fcs)) == expected


def test_rejects_non_bytes_with_type_error(generated_fcs: bytes) -> None:
    with pytest.raises(TypeError):
        parse_fcs(generated_fcs.decode("latin-1"))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("date", "btim", "expected"),
    [
        ("05-JAN-2015", "10:20:30", datetime(2015, 1, 5, 10, 20, 30)),
        ("05-Jan-2015", "10:20:30", datetime(2015, 1, 5, 10, 20, 30)),
        ("2015-01-05", "10:20:30", datetime(2015, 1, 5, 10, 20, 30)),
        ("5-jan-15", "10:20", datetime(2015, 1, 5, 10, 20, 0)),
        ("05-Jan-99", "10:20:30", datetime(1999, 1, 5, 10, 20, 30)),
        ("05-JANUARY-2015", "10:20:30", datetime(2015, 1, 5, 10, 20, 30)),
        ("05-JAN-2015", "10:20:30.25", datetime(2015, 1, 5, 10, 20, 30, 250000)),
        ("05-JAN-2015", "10:20:30:30", datetime(2015, 1, 5, 10, 20, 30, 500000)),
        ("05-JAN-2015", "10:20:30:75", None),  # ticks are 1/60 s
        ("01/05/2015", "10:20:30", None),  # day/month order unknown
        ("31-FEB-2015", "10:20:30", None),
        ("05-JAN-2015", "25:00:00", None),
        ("05-XYZ-2015", "10:20:30", None),
        ("yesterday", "noon", None),
    ],
)
def test_acquired_at_from_date_and_btim(date: str, btim: str, expected: datetime | None) -> None:
    meta = parse_fcs(make_fcs(metadata={"$DATE": date, "$BTIM": btim}))
    assert meta.acquired_at == expected


def test_acquired_at_needs_both_date_and_time() -> None:
    assert parse_fcs(make_fcs(metadata={"$DATE": "05-JAN-2015"})).acquired_at is None
    assert parse_fcs(make_fcs(metadata={"$BTIM": "10:20:30"})).acquired_at is None


def _with_begindatetime(value: str) -> bytes:
    # flowio writes unknown keywords without "$"; swap in the FCS 3.2 name (same length).
    data = make_fcs(metadata={**DEFAULT_METADATA, "XBEGINDATETIME": value})
    return patch(data, b"/XBEGINDATETIME/", b"/$BEGINDATETIME/")


def test_begindatetime_with_offset_is_aware() -> None:
    meta = parse_fcs(_with_begindatetime("2020-03-02T09:50:15+01:00"))
    assert meta.acquired_at == datetime(2020, 3, 2, 9, 50, 15, tzinfo=timezone(timedelta(hours=1)))


def test_begindatetime_without_offset_is_naive() -> None:
    meta = parse_fcs(_with_begindatetime("2020-03-02T09:50:15"))
    assert meta.acquired_at == datetime(2020, 3, 2, 9, 50, 15)
    assert meta.acquired_at.tzinfo is None


def test_invalid_begindatetime_falls_back_to_date_and_btim() -> None:
    meta = parse_fcs(_with_begindatetime("not a timestamp"))
    assert meta.acquired_at == datetime(2015, 1, 5, 10, 20, 30)


def test_fcs32_header_version(generated_fcs: bytes) -> None:
    assert parse_fcs(patch(generated_fcs, b"FCS3.1", b"FCS3.2")).version == "3.2"


def test_fcs20_header_version_uses_header_offsets(generated_fcs: bytes) -> None:
    meta = parse_fcs(patch(generated_fcs, b"FCS3.1", b"FCS2.0"))
    assert meta.version == "2.0"
    assert meta.event_count == 100


def test_unsupported_version(generated_fcs: bytes) -> None:
    with pytest.raises(ParseError, match=r"^unsupported FCS version '9\.9' \(supported: "):
        parse_fcs(patch(generated_fcs, b"FCS3.1", b"FCS9.9"))


def test_zero_events() -> None:
    meta = parse_fcs(make_fcs(n_events=0))
    assert meta.event_count == 0
    assert meta.parameter_count == 3


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty file: 0 bytes, not an FCS file"),
        (
            b"\x89PNG\r\n\x1a\n" + bytes(200),
            "not an FCS file: header does not start with 'FCS' (it looks like a PNG image)",
        ),
        (
            b"Sample,Viability (%)\nA1,95.2\n",
            "not an FCS file: header does not start with 'FCS' "
            "(it looks like a text file, e.g. a CSV export)",
        ),
        (
            b"%PDF-1.7\n",
            "not an FCS file: header does not start with 'FCS' (it looks like a PDF document)",
        ),
        (bytes(100), "not an FCS file: header does not start with 'FCS'"),
        (b"FCS", "truncated FCS file: the HEADER needs 58 bytes but the file has 3 bytes"),
    ],
)
def test_not_fcs(data: bytes, message: str) -> None:
    with pytest.raises(ParseError) as excinfo:
        parse_fcs(data)
    assert str(excinfo.value) == message
    assert isinstance(excinfo.value, ValueError)


def test_size_limit(monkeypatch: pytest.MonkeyPatch, generated_fcs: bytes) -> None:
    assert MAX_FCS_BYTES == 100 * 1024 * 1024
    monkeypatch.setattr(fcs_module, "MAX_FCS_BYTES", 1000)
    with pytest.raises(ParseError, match=r"^FCS file too large: 1878 bytes \(the limit is 1000"):
        parse_fcs(generated_fcs)


def test_generated_truncated_at_each_segment(generated_fcs: bytes) -> None:
    text_start, text_stop = 256, generated_fcs.index(b"/", 256)
    text_stop = int(generated_fcs[18:26])
    cases = {
        20: "truncated FCS file: the HEADER needs 58 bytes but the file has 20 bytes",
        58: f"truncated FCS file: TEXT segment ends at byte {text_stop} but the file has 58 bytes",
        text_start + 40: f"truncated FCS file: TEXT segment ends at byte {text_stop} "
        f"but the file has {text_start + 40} bytes",
        text_stop + 200: "truncated FCS file: DATA segment ends at byte 1877 "
        f"but the file has {text_stop + 200} bytes",
        1877: "truncated FCS file: DATA segment ends at byte 1877 but the file has 1877 bytes",
    }
    for length, message in cases.items():
        with pytest.raises(ParseError) as excinfo:
            parse_fcs(generated_fcs[:length])
        assert str(excinfo.value) == message


def test_extra_bytes_after_data_are_allowed(generated_fcs: bytes) -> None:
    assert parse_fcs(generated_fcs + b"\x00" * 16).event_count == 100


def test_tot_not_matching_data_segment(generated_fcs: bytes) -> None:
    with pytest.raises(ParseError) as excinfo:
        parse_fcs(patch(generated_fcs, b"/$TOT/100/", b"/$TOT/101/"))
    assert str(excinfo.value) == (
        "event count does not match the DATA segment: $TOT=101 events x 12 bytes per event "
        "= 1212 bytes, but the DATA segment (bytes 678-1877) holds 1200 bytes"
    )


def test_end_offset_off_by_one_is_tolerated_with_warning(generated_fcs: bytes) -> None:
    data = patch(generated_fcs, b"/$ENDDATA/1877/", b"/$ENDDATA/1878/")
    data = patch_header(data, 34, b"1878")
    meta = parse_fcs(data)
    assert meta.event_count == 100
    assert meta.warnings == (
        "DATA end offset 1878 is one byte past the data (a common writer bug); "
        "the data itself is complete",
    )


def test_header_text_discrepancy_uses_the_offsets_that_fit(generated_fcs: bytes) -> None:
    wrong_header = patch_header(generated_fcs, 26, b"300")
    assert parse_fcs(wrong_header).warnings == (
        "HEADER and TEXT disagree on the DATA segment: HEADER says bytes 300-1877, "
        "TEXT says 678-1877; the TEXT offsets fit the data and were used",
    )
    wrong_text = patch(generated_fcs, b"/$BEGINDATA/678/", b"/$BEGINDATA/679/")
    meta = parse_fcs(wrong_text)
    assert meta.event_count == 100
    assert meta.warnings == (
        "HEADER and TEXT disagree on the DATA segment: HEADER says bytes 678-1877, "
        "TEXT says 679-1877; the HEADER offsets fit the data and were used",
    )
    both_wrong = patch_header(wrong_text, 26, b"680")
    with pytest.raises(ParseError, match=r"and neither fits\)$"):
        parse_fcs(both_wrong)


@pytest.mark.parametrize(
    ("offset", "value", "message"),
    [
        (
            10,
            b"abcd",
            "corrupt FCS HEADER: TEXT start offset (bytes 10-17) is not a number: '    abcd'",
        ),
        (18, b"", "corrupt FCS HEADER: TEXT end offset (bytes 18-25) is not a number: '        '"),
        (
            26,
            b"-1",
            "corrupt FCS HEADER: DATA start offset (bytes 26-33) is not a number: '      -1'",
        ),
        (10, b"0", "corrupt FCS HEADER: invalid TEXT segment offsets 0-677"),
        (18, b"100", "corrupt FCS HEADER: invalid TEXT segment offsets 256-100"),
        (
            18,
            b"99999999",
            "truncated FCS file: TEXT segment ends at byte 99999999 but the file has ",
        ),
    ],
)
def test_corrupt_header_offsets(
    generated_fcs: bytes, offset: int, value: bytes, message: str
) -> None:
    with pytest.raises(ParseError) as excinfo:
        parse_fcs(patch_header(generated_fcs, offset, value))
    assert str(excinfo.value).startswith(message)


@pytest.mark.parametrize("offset", range(0, 58))
def test_flipped_header_byte_is_a_parse_error_or_harmless(
    generated_fcs: bytes, offset: int
) -> None:
    data = bytearray(generated_fcs)
    data[offset] ^= 0xFF
    try:
        meta = parse_fcs(bytes(data))
    except ParseError:
        return
    assert meta.event_count == 100  # e.g. bytes 6-9 are padding only


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (b"/$PAR/3/", b"/$PAX/3/", "FCS TEXT segment lacks the required keyword $PAR"),
        (b"/$TOT/100/", b"/$TOT/1x0/", "corrupt FCS TEXT: $TOT is not a whole number: '1x0'"),
        (b"/$P2N/SSC-A/", b"/$P2X/SSC-A/", "FCS TEXT segment lacks $P2N (the name of parameter 2"),
        (b"/$P3R/262144/", b"/$P3X/262144/", "FCS TEXT segment lacks the required keyword $P3R"),
        (b"/$DATATYPE/F/", b"/$DATATYPE/Q/", "unsupported $DATATYPE 'Q' (expected I, F, D or A)"),
        (b"/$MODE/L/", b"/$MODE/C/", "unsupported $MODE 'C': only list mode data ('L')"),
        (b"/$NEXTDATA/0/", b"/$NEXTDATA/9/", "FCS file holds more than one data set ($NEXTDATA=9)"),
        (b"/$PAR/3/", b"/$PAR/0/", "corrupt FCS TEXT: $PAR is 0, the file has no parameters"),
        (b"/$PAR/3/", b"/$PAR/2/", "event count does not match the DATA segment: $TOT=100"),
        (b"/$P1E/0,0/", b"/$P1E/0;0/", "FCS file could not be parsed: "),
        (b"/$BEGINANALYSIS/", b"Q$BEGINANALYSIS/", "corrupt FCS TEXT: it must start with a"),
    ],
)
def test_corrupt_text_keywords(generated_fcs: bytes, old: bytes, new: bytes, message: str) -> None:
    with pytest.raises(ParseError) as excinfo:
        parse_fcs(patch(generated_fcs, old, new))
    assert str(excinfo.value).startswith(message)


def test_odd_number_of_text_fields(generated_fcs: bytes) -> None:
    data = patch(generated_fcs, b"/CREATOR/TestWriter 1.0/", b"/CREATOR/TestWriter/1.0/")
    with pytest.raises(ParseError) as excinfo:
        parse_fcs(data)
    assert str(excinfo.value) == (
        "corrupt FCS TEXT: keyword '1.0' has no value (odd number of delimited fields)"
    )


def test_ascii_delimited_data_skips_the_size_check(generated_fcs: bytes) -> None:
    data = patch(generated_fcs, b"/$DATATYPE/F/", b"/$DATATYPE/A/")
    for n in (1, 2, 3):
        data = patch(data, f"/$P{n}B/32/".encode(), f"/$P{n}B/* /".encode())
    meta = parse_fcs(data)
    assert meta.event_count == 100
    assert meta.keywords["$P1B"] == "* "


def test_garbage_after_the_header(generated_fcs: bytes) -> None:
    data = generated_fcs[:58] + bytes(range(256)) * 7
    with pytest.raises(ParseError):
        parse_fcs(data[: len(generated_fcs)])


@HYPOTHESIS
@given(data=st.binary(max_size=4096))
def test_any_bytes_parse_or_raise_parse_error(data: bytes) -> None:
    try:
        result = parse_fcs(data)
    except ParseError:
        return
    assert isinstance(result, FcsMetadata)


@HYPOTHESIS
@given(tail=st.binary(max_size=2048))
def test_fcs_header_followed_by_random_bytes(generated_fcs: bytes, tail: bytes) -> None:
    try:
        result = parse_fcs(generated_fcs[:58] + tail)
    except ParseError:
        return
    assert isinstance(result, FcsMetadata)


@HYPOTHESIS
@given(
    edits=st.lists(st.tuples(st.integers(0, 1877), st.integers(0, 255)), min_size=1, max_size=8),
    cut=st.one_of(st.none(), st.integers(0, 1878)),
)
def test_mutated_generated_file_parses_or_raises_parse_error(
    generated_fcs: bytes, edits: list[tuple[int, int]], cut: int | None
) -> None:
    data = bytearray(generated_fcs)
    for position, value in edits:
        data[position] = value
    try:
        result = parse_fcs(bytes(data[:cut]))
    except ParseError:
        return
    assert isinstance(result, FcsMetadata)


# --- fcs_check ------------------------------------------------------------------------------


def test_fcs_check_passes(generated_fcs: bytes) -> None:
    meta = parse_fcs(generated_fcs)
    assert fcs_check(meta) == []
    assert fcs_check(meta, min_events=100, expected_serial=" sn-001 ") == []


def test_fcs_check_problems(generated_fcs: bytes) -> None:
    meta = parse_fcs(generated_fcs)
    assert fcs_check(meta, min_events=10000, expected_serial="SN-999") == [
        "event count 100 is below the minimum of 10000 events",
        "instrument serial number mismatch: expected 'SN-999', the file has 'SN-001'",
    ]


def test_fcs_check_missing_serial() -> None:
    meta = parse_fcs(make_fcs(metadata={"$CYT": "Attune NxT"}))
    assert fcs_check(meta, expected_serial="SN-001") == [
        "instrument serial number missing: expected 'SN-001' but the file has no $CYTSN"
    ]


def test_fcs_check_real_file(fcs_dir: Path) -> None:
    meta = parse_fcs((fcs_dir / "G11.fcs").read_bytes())
    assert fcs_check(meta, min_events=5785, expected_serial="2AFC210070815") == []
    assert fcs_check(meta, min_events=5786) == [
        "event count 5785 is below the minimum of 5786 events"
    ]


def test_parse_error_lists_errors() -> None:
    error = ParseError("2 invalid rows", errors=["line 2: a", "line 3: b"])
    assert error.message == "2 invalid rows"
    assert error.errors == ("line 2: a", "line 3: b")
    assert str(error) == "2 invalid rows:\n- line 2: a\n- line 3: b"
    many = ParseError("bad", errors=[f"e{i}" for i in range(25)])
    assert str(many).splitlines()[-1] == "- ... and 5 more"
