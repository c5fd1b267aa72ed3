"""Test data built through the real services, the way the UI, the API and the workers build it.

One set for every test folder (``from tests.builders import …`` or ``from tests import builders
as b``). Rows written directly, with no service and no audit entry, are ``tests.factories``.

- ``definitions``: protocol definitions as dicts (``chain_definition``, ``simple_protocol_data``,
  ``clinical_protocol_data``, ``api_definition``, ``wide_definition``, ``web_definition``) and
  the three builders they are made of
- ``protocols``: those definitions imported by ``protocol_import``; the defaults approved
  through change control (``published_defaults``, ``approve``)
- ``runs``: donors, runs, stage work and QC results; passing and failing values
- ``instruments``: instruments with a credential, generated and real FCS files
- ``worlds``: one lab's standing objects for the API (``lab_world``) and web (``scenario``) tests
"""

from tests.builders.definitions import (
    api_definition,
    chain_definition,
    checkpoint_definition,
    clinical_protocol_data,
    simple_protocol_data,
    stage_definition,
    task_definition,
    web_definition,
    wide_definition,
)
from tests.builders.instruments import (
    CELL_COUNTER_MAPPING,
    FCS_DIR,
    fcs_bytes,
    instrument,
    named_file,
    real_fcs,
)
from tests.builders.protocols import (
    api_protocol,
    approve,
    draft_protocol,
    published_defaults,
    published_protocol,
    qa_reviewer,
    web_protocol,
)
from tests.builders.runs import (
    BUILDER_REASON,
    T0,
    active_run,
    complete,
    completed_run,
    completion_reasons,
    failing_value,
    new_donor,
    passing_value,
    planned_run,
    record,
    stage,
    work_stage,
    working_stage,
)
from tests.builders.worlds import LabWorld, Scenario, attach_upload, lab_world, scenario, token_for
from tests.factories import H

__all__ = [
    "BUILDER_REASON",
    "CELL_COUNTER_MAPPING",
    "FCS_DIR",
    "T0",
    "H",
    "LabWorld",
    "Scenario",
    "active_run",
    "api_definition",
    "api_protocol",
    "approve",
    "attach_upload",
    "chain_definition",
    "checkpoint_definition",
    "clinical_protocol_data",
    "complete",
    "completed_run",
    "completion_reasons",
    "draft_protocol",
    "failing_value",
    "fcs_bytes",
    "instrument",
    "lab_world",
    "named_file",
    "new_donor",
    "passing_value",
    "planned_run",
    "published_defaults",
    "published_protocol",
    "qa_reviewer",
    "real_fcs",
    "record",
    "scenario",
    "simple_protocol_data",
    "stage",
    "stage_definition",
    "task_definition",
    "token_for",
    "web_definition",
    "web_protocol",
    "wide_definition",
    "work_stage",
    "working_stage",
]
