"""``GET /healthz``: is the database up, is the broker up."""

from __future__ import annotations

import os
import time
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from kombu import Connection


def _check_database() -> dict:
    started = time.monotonic()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__}
    return {
        "ok": True,
        "vendor": connection.vendor,
        "ms": round((time.monotonic() - started) * 1000, 1),
    }


def _check_broker() -> dict:
    """Connect to the broker afresh (no pooled connection can hide an outage)."""
    url = settings.CELERY_BROKER_URL
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS or {}
    transport = url.split("://", 1)[0]
    started = time.monotonic()
    try:
        if transport == "filesystem":
            # The embedded broker is up when its queue folder is there and writable.
            folder = Path(options["data_folder_in"])
            if not (folder.is_dir() and os.access(folder, os.W_OK)):
                raise FileNotFoundError(str(folder))
        else:
            with Connection(url, transport_options=options, connect_timeout=2) as conn:
                conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return {"ok": False, "transport": transport, "error": type(exc).__name__}
    return {"ok": True, "transport": transport, "ms": round((time.monotonic() - started) * 1000, 1)}


@never_cache
@require_GET
def healthz(request):
    database = _check_database()
    broker = _check_broker()
    healthy = database["ok"] and broker["ok"]
    body = {
        "status": "ok" if healthy else "unavailable",
        "database": database,
        "broker": broker,
        "env": settings.DJANGO_ENV,
    }
    return JsonResponse(body, status=200 if healthy else 503)
