"""Identifiers from a safe printable set; free text without control characters."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol_tracker.core.errors import ValidationFailed
from protocol_tracker.core.text import IDENTIFIER_RE, clean_identifier, clean_text


@pytest.mark.parametrize(
    "value", ["D-0001", "D-0001-EISLET-001", "LOT 2026/11#4", "COI.A7X", "A", "x+y_z"]
)
def test_identifiers_of_the_lab_pass(value):
    assert clean_identifier(f"  {value} ", field="code") == value


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("RUN\r\nBcc: x@y", "may contain only"),
        ("<b>RUN</b>", "may contain only"),
        ("RUN\x00", "may contain only"),
        ("-RUN", "may contain only"),
        ("RUN-", "may contain only"),
        ("R\u202eNUR", "may contain only"),
        ("", "is required"),
        ("   ", "is required"),
        ("A" * 65, "at most 64"),
        (42, "must be text"),
    ],
)
def test_unsafe_identifiers_are_refused_naming_the_field(value, rule):
    with pytest.raises(ValidationFailed) as refused:
        clean_identifier(value, field="code")
    assert rule in refused.value.message and refused.value.message.startswith("code ")
    assert list(refused.value.fields) == ["code"]


@given(st.text(max_size=80))
def test_whatever_is_accepted_matches_the_rule(value):
    try:
        cleaned = clean_identifier(value, field="code")
    except ValidationFailed:
        return
    assert IDENTIFIER_RE.fullmatch(cleaned) and len(cleaned) <= 64


def test_free_text_keeps_lines_and_tabs_and_normalises_line_endings():
    assert clean_text(" a\r\nb\rc\td ", field="note") == "a\nb\nc\td"
    assert clean_text(None, field="note") == ""


@pytest.mark.parametrize(
    ("value", "kwargs", "rule"),
    [
        ("a\x00b", {}, "control characters (found U+0000)"),
        ("a\x1bb", {}, "control characters (found U+001B)"),
        ("a\x85b", {}, "control characters (found U+0085)"),
        ("ok \u2066hidden\u2069", {}, "bidirectional"),
        ("a\nb", {"multiline": False}, "single line"),
        ("", {"required": True}, "is required"),
        ("abcdef", {"max_length": 5}, "at most 5"),
    ],
)
def test_free_text_refuses_control_characters(value, kwargs, rule):
    with pytest.raises(ValidationFailed) as refused:
        clean_text(value, field="note", **kwargs)
    assert rule in refused.value.message
