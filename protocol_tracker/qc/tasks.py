"""Celery tasks of the QC app: none yet.

A failing result, an opened deviation and a release are announced after commit through the
reminders app's tasks (``reminders.qc_failed``, ``reminders.deviation_opened``,
``reminders.run_released``); instrument file parsing belongs to the parsers' owner.
"""
