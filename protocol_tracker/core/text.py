"""Text that goes into GMP records: identifiers from a safe printable set, free text without
control characters.

An identifier (a run code, a donor code, a lot number, a COI, an item id) is printed on labels,
scanned back, put in email subjects and file names: it may hold letters, digits and a few
separators, and nothing that a terminal, a header, a CSV cell or a web page would read as
markup. Free text (a comment, a reason) may hold any printable character and line breaks, but no
NUL, no other control character and no bidirectional override (which can make a record read
differently from what it holds).
"""

from __future__ import annotations

import re
import unicodedata
from typing import NoReturn

from protocol_tracker.core.errors import ValidationFailed

# Starts and ends with a letter or digit; inside, also space . _ - / # +
IDENTIFIER_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9 ._/#+-]*[A-Za-z0-9])?")
IDENTIFIER_RULE = (
    "letters, digits and . _ - / # + or spaces inside, starting and ending with a letter or digit"
)
# Bidirectional embeddings, overrides and isolates (Trojan Source).
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_ALLOWED_CONTROLS = frozenset("\n\t")


def clean_identifier(value: object, *, field: str, max_length: int = 64) -> str:
    """``value`` as an identifier (surrounding spaces removed), or ValidationFailed naming the
    field and the rule."""
    if not isinstance(value, str):
        _refuse(field, "must be text")
    text = value.strip()
    if not text:
        _refuse(field, "is required")
    if len(text) > max_length:
        _refuse(field, f"must be at most {max_length} characters")
    if not IDENTIFIER_RE.fullmatch(text):
        _refuse(field, f"may contain only {IDENTIFIER_RULE}")
    return text


def clean_text(
    value: object,
    *,
    field: str,
    max_length: int | None = None,
    required: bool = False,
    multiline: bool = True,
) -> str:
    """``value`` as free text (stripped; line endings made ``\\n``), or ValidationFailed when it
    holds NUL, another control character, a bidirectional override or, unless ``multiline``, a
    line break."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        _refuse(field, "must be text")
    text = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    for char in text:
        if char in _BIDI:
            _refuse(field, "must not contain bidirectional control characters")
        if char == "\n" and not multiline:
            _refuse(field, "must be a single line")
        if char not in _ALLOWED_CONTROLS and unicodedata.category(char) == "Cc":
            _refuse(field, f"must not contain control characters (found U+{ord(char):04X})")
    if required and not text:
        _refuse(field, "is required")
    if max_length is not None and len(text) > max_length:
        _refuse(field, f"must be at most {max_length} characters")
    return text


def _refuse(field: str, rule: str) -> NoReturn:
    message = f"{field} {rule}"
    raise ValidationFailed(message, fields={field: [rule]})


__all__ = ["IDENTIFIER_RE", "IDENTIFIER_RULE", "clean_identifier", "clean_text"]
