"""Instruments with their credential, and the files they send: generated and real FCS files."""

from __future__ import annotations

import io
from pathlib import Path

from labs.models import Instrument, InstrumentKind
from labs.services import instrument_credential_issue

# Real files from the FlowIO project, in the repo with their licence (see the README there).
FCS_DIR = Path(__file__).resolve().parents[1] / "data" / "fcs"

CELL_COUNTER_MAPPING = {
    "sample_id": "Sample ID",
    "fields": {
        "viable_cells_per_ml": {"column": "Viable cells/mL", "unit": "cells/mL"},
        "viability": {"column": "Viability (%)", "unit": "%"},
        "total_cells": {"column": "Total cells", "unit": "cells"},
    },
}


def instrument(
    lab,
    *,
    name: str = "Counter",
    assays=("cell_count", "flow_cytometry"),
    serial: str = "",
    mapping: dict | None = None,
) -> tuple[Instrument, str]:
    """A cell counter of ``lab`` allowed ``assays``, and the token of its new credential."""
    inst = Instrument.objects.create(
        lab=lab,
        name=name,
        kind=InstrumentKind.CELL_COUNTER,
        serial=serial,
        allowed_assays=list(assays),
        csv_mapping=mapping or CELL_COUNTER_MAPPING,
    )
    _credential, token = instrument_credential_issue(instrument=inst, actor=None)
    return inst, token


def real_fcs(name: str) -> bytes:
    """The bytes of one of the real FCS files in ``tests/data/fcs``."""
    return (FCS_DIR / name).read_bytes()


def fcs_bytes(events: int = 2000, *, cytometer: str = "TestCyt", serial: str = "") -> bytes:
    """A small, valid FCS 3.1 file written with flowio."""
    import flowio

    channels = ["FSC-A", "SSC-A", "FL1-A"]
    data = [float((i * 7 + c) % 1024) for i in range(events) for c in range(len(channels))]
    metadata = {"CYT": cytometer, "DATE": "05-JAN-2024", "BTIM": "10:30:00"}
    if serial:
        metadata["CYTSN"] = serial
    out = io.BytesIO()
    flowio.create_fcs(out, data, channels, metadata_dict=metadata)
    return out.getvalue()


def named_file(data: bytes, name: str, content_type: str = "application/octet-stream"):
    """``data`` as an uploaded file called ``name``."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type=content_type)
