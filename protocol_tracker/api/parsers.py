"""JSON bodies: size-limited (413 past ``DATA_UPLOAD_MAX_MEMORY_SIZE``) and parsed with orjson.

DRF's own JSON parser reads the request stream without Django's body size check. Here the body
is read up to the limit first; orjson parses it (5,000-result bulk bodies are the common large
case), and the standard library re-parses only what orjson refuses but JSON allows (integers
beyond 64 bits), so that such values reach validation and get a field error.
"""

from __future__ import annotations

import json

import orjson
from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from protocol_tracker.api.exceptions import PayloadTooLarge


def _no_constants(name: str):
    raise ValueError(f"{name} is not valid JSON")


class LimitedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read(limit + 1) if stream is not None else b""
        if limit is not None and len(raw) > limit:
            raise PayloadTooLarge(
                _("The JSON body is larger than %(limit)d bytes.") % {"limit": limit}
            )
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            return json.loads(raw.decode(encoding), parse_constant=_no_constants)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(_("JSON parse error - %(error)s") % {"error": exc}) from None
