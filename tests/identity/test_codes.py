"""COI and item ids: the ISO 7064 MOD 37,36 check character, the built-in layout, scans read
back. Plain Python: no database."""

from __future__ import annotations

import pytest

from protocol_tracker.identity.checks import ALPHABET, check_character, is_valid
from protocol_tracker.identity.codes import (
    ScanUnreadable,
    item_id_format,
    item_id_parse,
    printable,
    scan_parse,
    scan_payload,
)
from protocol_tracker.identity.layouts import CoiFormatError, PtLayout, parse_coi

COI = PtLayout().format(prefix="DEMO", year=2026, sequence=17)


def test_the_built_in_layout_writes_prefix_year_number_and_check():
    assert "DEMO-26-00017-" + check_character("DEMO2600017") == COI
    assert parse_coi(COI).sequence == 17
    assert parse_coi(f"  {COI.lower()} ").value == COI  # case and spaces forgiven


def test_every_single_substitution_is_refused():
    body = COI.replace("-", "")
    for index, char in enumerate(body):
        for other in ALPHABET:
            if other != char:
                assert not is_valid(body[:index] + other + body[index + 1 :]), (index, other)


def test_adjacent_transpositions_are_refused_at_least_99_times_in_100():
    bodies = [f"DEMO26{n:05d}" for n in range(0, 100_000, 97)]
    caught = total = 0
    for body in bodies:
        full = body + check_character(body)
        for i in range(len(full) - 1):
            if full[i] != full[i + 1]:
                swapped = full[:i] + full[i + 1] + full[i] + full[i + 2 :]
                total += 1
                caught += not is_valid(swapped)
    assert caught / total >= 0.99, (caught, total)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("DEMO-26-00017", "is not a COI of the form"),
        ("DEMO-26-00018-" + check_character("DEMO2600017"), "fails its check character"),
        ("DEMO 26 00017 X", "is not a COI of the form"),
        ("", "is not a COI of the form"),
    ],
)
def test_a_mistyped_or_truncated_coi_is_refused_not_looked_up(text, message):
    with pytest.raises(CoiFormatError, match=message):
        parse_coi(text)


def test_item_ids_carry_a_check_character():
    item = item_id_format("V", 123)
    assert item == "V-000123-" + check_character("V000123")
    assert item_id_parse(item.lower()) == item
    with pytest.raises(ScanUnreadable, match="fails its check character"):
        item_id_parse(item[:-1] + ("0" if item[-1] != "0" else "1"))


def test_a_scan_holds_the_coi_and_the_item():
    item = item_id_format("B", 4)
    parsed = scan_parse(scan_payload(COI, item) + "\r")
    assert (parsed.coi.value, parsed.item_id) == (COI, item)
    assert scan_parse(COI).item_id == ""


@pytest.mark.parametrize(
    ("scanned", "message"),
    [
        ("", "nothing was scanned"),
        ("   ", "nothing was scanned"),
        (COI[:-3], "is not a COI"),
        ("]d2" + COI, "is not a COI"),
        (COI + "/V-000001", "is not an item id"),
        (COI + "\x1dV-000001-X", "characters no label of ours prints"),
        ("x" * 600, "characters no label of ours prints"),
    ],
)
def test_unreadable_scans_say_why(scanned, message):
    with pytest.raises(ScanUnreadable, match=message):
        scan_parse(scanned)


def test_control_characters_are_spelt_out_for_the_audit_trail():
    assert printable("A\x1dB\x00") == "A\\x1dB\\x00"
