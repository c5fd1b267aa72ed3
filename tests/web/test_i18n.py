"""The Simplified Chinese catalogue: every string translated, and the committed .mo compiled from
the committed .po (CI machines may lack gettext, so the .mo is what they use)."""

from __future__ import annotations

import ast
import gettext
from pathlib import Path

from django.conf import settings

CATALOGUE = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES"


def _entries(po: Path) -> list[dict]:
    """A small .po reader: msgctxt, msgid, msgid_plural, msgstr / msgstr[0], flags."""
    entries, entry, key = [], {}, None
    for line in [*po.read_text(encoding="utf-8").splitlines(), ""]:
        if not line.strip():
            if entry:
                entries.append(entry)
            entry, key = {}, None
        elif line.startswith("#,"):
            entry["flags"] = line[2:]
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            entry[key] += ast.literal_eval(line)
        else:
            key, _, value = line.partition(" ")
            entry[key] = ast.literal_eval(value)
    return entries


def test_every_string_is_translated_and_none_is_fuzzy():
    entries = _entries(CATALOGUE / "django.po")
    assert len(entries) > 500
    untranslated = [e["msgid"] for e in entries[1:] if not (e.get("msgstr") or e.get("msgstr[0]"))]
    fuzzy = [e.get("msgid") for e in entries if "fuzzy" in e.get("flags", "")]
    assert (untranslated, fuzzy) == ([], [])


def test_compiled_catalogue_matches_the_po():
    with (CATALOGUE / "django.mo").open("rb") as handle:
        catalogue = gettext.GNUTranslations(handle)
    stale = []
    for e in _entries(CATALOGUE / "django.po")[1:]:
        if "msgid_plural" in e:
            got = catalogue.ngettext(e["msgid"], e["msgid_plural"], 1)
            want = e["msgstr[0]"]
        elif "msgctxt" in e:
            got, want = catalogue.pgettext(e["msgctxt"], e["msgid"]), e["msgstr"]
        else:
            got, want = catalogue.gettext(e["msgid"]), e["msgstr"]
        if got != want:
            stale.append(e["msgid"])
    assert stale == []
