"""Pure-Python parsers for raw instrument files (FCS, CSV exports).

Nothing in this package touches Django models or the database: each parser takes the raw
bytes of an upload and returns plain frozen dataclasses, or raises :class:`ParseError` with
a message that can be shown to the operator as is.
"""

from __future__ import annotations

from collections.abc import Iterable

#: How many row errors ``str(ParseError)`` lists before summarising the rest.
_MAX_LISTED_ERRORS = 20


class ParseError(ValueError):
    """An uploaded file could not be parsed or failed a structural check.

    ``message`` is a one-line summary; ``errors`` holds one entry per problem (e.g. one per bad
    CSV row). ``str(exc)`` combines both into a human-readable text.
    """

    def __init__(self, message: str, *, errors: Iterable[str] = ()) -> None:
        self.message = message
        self.errors: tuple[str, ...] = tuple(errors)
        super().__init__(self._render())

    def _render(self) -> str:
        if not self.errors:
            return self.message
        listed = [f"- {error}" for error in self.errors[:_MAX_LISTED_ERRORS]]
        hidden = len(self.errors) - len(listed)
        if hidden:
            listed.append(f"- ... and {hidden} more")
        return "\n".join([f"{self.message}:", *listed])


# The submodules import ParseError from this package, so they must come after it.
from protocol_tracker.qc.parsers.csv_export import (  # noqa: E402
    MAX_CSV_BYTES,
    CsvRow,
    parse_csv,
    validate_mapping,
)
from protocol_tracker.qc.parsers.fcs import (  # noqa: E402
    MAX_FCS_BYTES,
    FcsMetadata,
    fcs_check,
    parse_fcs,
)

__all__ = [
    "MAX_CSV_BYTES",
    "MAX_FCS_BYTES",
    "CsvRow",
    "FcsMetadata",
    "ParseError",
    "fcs_check",
    "parse_csv",
    "parse_fcs",
    "validate_mapping",
]
