"""QC tests share the workflow engine's fixtures."""

from tests.runs.conftest import active_run, donor, planned_run, protocol  # noqa: F401
