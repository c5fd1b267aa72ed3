"""The Celery app. Tasks live in each domain app's ``tasks.py`` and are found by autodiscovery."""

import os
from pathlib import Path

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "protocol_tracker.settings")

app = Celery("protocol_tracker")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _ensure_broker_folders(**_kwargs) -> None:
    """The embedded filesystem broker needs its folders before the first message."""
    options = app.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if options.get(key):
            Path(options[key]).mkdir(parents=True, exist_ok=True)
    backend = app.conf.result_backend or ""
    if backend.startswith("file://"):
        Path(backend.removeprefix("file://")).mkdir(parents=True, exist_ok=True)


app.on_after_configure.connect(_ensure_broker_folders)


@app.task(name="protocol_tracker.ping", time_limit=10, soft_time_limit=5)
def ping(echo: str = "") -> dict:
    """A diagnostic round trip: returns the worker's pid with the echo."""
    return {"pid": os.getpid(), "echo": echo}
