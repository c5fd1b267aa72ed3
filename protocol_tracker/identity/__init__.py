"""Chain of identity, the registry half: COI identifiers, the patient-identifier vault, label
templates and their rendering (PDF and ZPL), and the records of printed labels.

It sits with the things that exist without a run (below ``runs``): a donor's COI is issued here
at enrolment (``runs.services.donor_create`` calls :func:`services.coi_issue`), and any caller
(runs, inventory, materials) prints labels from plain content (:mod:`.labels`). The run-bound
records (identity scans at checkpoints, custody hand-offs, shipments) live in
:mod:`protocol_tracker.custody`, above ``qc``.
"""
