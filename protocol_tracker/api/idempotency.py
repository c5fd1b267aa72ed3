"""``Idempotency-Key`` for create requests.

A retry with the same key and the same request returns the first response and writes nothing;
the same key with a different request (body, path or method) is a 422. The key is scoped to the
caller (a person or an instrument).

How it holds under concurrency: the handler runs inside one transaction that first inserts the
:class:`IdempotencyRecord` claim, then calls the service, then stores the response on the claim.
A concurrent retry's insert waits on the unique index (PostgreSQL) or on the write lock
(SQLite) until the first transaction ends: if it committed, the retry gets an IntegrityError and
replays the stored response; if it rolled back, the retry proceeds as the first request.
Only successful (2xx) responses are kept: a failed request writes nothing, so the client may
correct it and retry with the same key.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re

import orjson
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from protocol_tracker.api.exceptions import IdempotencyMismatch
from protocol_tracker.api.models import IdempotencyRecord
from protocol_tracker.api.principals import instrument_of
from protocol_tracker.api.renderers import dumps

HEADER = "Idempotency-Key"
_KEY_RE = re.compile(r"^[\x21-\x7e]{1,255}$")
_REPLAYED_HEADERS = ("Location",)


def _fingerprint(request) -> str:
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.path}\n".encode())
    files = getattr(request, "FILES", None) or {}
    if files:
        fields = {key: request.data.getlist(key) for key in request.data if key not in files}
        digest.update(json.dumps(fields, sort_keys=True, default=str).encode())
        for name in sorted(files):
            for upload in files.getlist(name):
                digest.update(f"\n{name}:{upload.name}:{upload.size}:".encode())
                for chunk in upload.chunks():
                    digest.update(chunk)
                upload.seek(0)
    else:
        digest.update(json.dumps(request.data, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def _principal_filter(request) -> dict:
    instrument = instrument_of(request)
    if instrument is not None:
        return {"instrument": instrument, "user": None}
    return {"user": request.user, "instrument": None}


def _replay(record: IdempotencyRecord, fingerprint: str) -> Response:
    if record.request_hash != fingerprint:
        raise IdempotencyMismatch(
            _(
                "This Idempotency-Key was already used with a different request "
                "(%(method)s %(path)s with another body). Use a new key for a new request."
            )
            % {"method": record.method, "path": record.path}
        )
    headers = dict(record.response_headers or {})
    headers["Idempotent-Replayed"] = "true"
    body = orjson.loads(record.response_body) if record.response_body else None
    return Response(body, status=record.response_status, headers=headers)


def idempotency_key(request) -> str | None:
    """The request's valid key, None when absent; a malformed key is a 400."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not _KEY_RE.match(key):
        raise ValidationError({HEADER: [_("Must be 1-255 visible ASCII characters.")]})
    return key


def idempotent(handler):
    """Decorate a view method that creates something to honour ``Idempotency-Key``."""

    @functools.wraps(handler)
    def wrapper(view, request, *args, **kwargs):
        key = idempotency_key(request)
        if key is None:
            return handler(view, request, *args, **kwargs)
        fingerprint = _fingerprint(request)
        principal = _principal_filter(request)
        with transaction.atomic():
            existing = IdempotencyRecord.objects.filter(key=key, **principal).first()
            if existing is not None:
                return _replay(existing, fingerprint)
            try:
                with transaction.atomic():
                    record = IdempotencyRecord.objects.create(
                        key=key,
                        method=request.method,
                        path=request.path[:500],
                        request_hash=fingerprint,
                        response_status=0,
                        **principal,
                    )
            except IntegrityError:
                # A concurrent request with this key committed while we waited on its lock.
                existing = IdempotencyRecord.objects.get(key=key, **principal)
                return _replay(existing, fingerprint)
            response = handler(view, request, *args, **kwargs)
            if not 200 <= response.status_code < 300:
                transaction.set_rollback(True)
                return response
            record.response_status = response.status_code
            body = response.data
            record.response_body = dumps(body).decode() if body is not None else ""
            record.response_headers = {
                name: response[name] for name in _REPLAYED_HEADERS if response.has_header(name)
            }
            record.save(update_fields=["response_status", "response_body", "response_headers"])
        return response

    wrapper.idempotent = True
    return wrapper
