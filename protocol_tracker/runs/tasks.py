"""Celery tasks of the workflow engine: none yet.

Due times live in the database (stage runs and task occurrences); the reminders app's beat sweep
finds what is coming due. Notifications about QC results are enqueued by ``qc.services`` on
commit and run in ``reminders.tasks``.
"""
