"""What the run page and the batch record show of a run's materials, equipment and cell bank:
the lots and equipment each stage used (with the warnings at use and the lots recalled since),
the vials frozen from the run and its vessels (the lineage view). Four queries."""

from __future__ import annotations

from protocol_tracker.cellbank.selectors import run_lineage_stock, run_stock
from protocol_tracker.runs.models import Run
from protocol_tracker.usage.selectors import run_usage_summary


def stock_run_context(run: Run) -> dict:
    """``{"stock": {...}}`` for ``web/stock/run_section.html``."""
    stock = run_stock(run=run)
    return {
        "stock": {
            **run_usage_summary(run=run),
            "vials": stock.vials,
            "vessels": stock.vessels,
            "lineage": run_lineage_stock(run=run, stock=stock),
        }
    }
