"""A JSON renderer on orjson: the API's lists are dominated by encoding, and orjson is ~10x
faster than the standard library for the same output."""

from __future__ import annotations

import datetime
import decimal
import uuid

import orjson
from django.utils.functional import Promise
from rest_framework.renderers import BaseRenderer

_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS


def _default(obj):
    if isinstance(obj, tuple | set | frozenset):
        return list(obj)
    if isinstance(obj, Promise):
        return str(obj)
    if isinstance(obj, decimal.Decimal):
        return float(obj)
    if isinstance(obj, datetime.timedelta):
        return obj.total_seconds()
    if isinstance(obj, uuid.UUID | datetime.date | datetime.time):
        return str(obj)
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def dumps(data) -> bytes:
    return orjson.dumps(data, default=_default, option=_OPTIONS)


class ORJSONRenderer(BaseRenderer):
    media_type = "application/json"
    format = "json"
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        if data is None:
            return b""
        return dumps(data)


class ProblemJSONRenderer(ORJSONRenderer):
    """Lets clients ask for ``application/problem+json`` explicitly."""

    media_type = "application/problem+json"
