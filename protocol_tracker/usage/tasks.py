"""Celery tasks of this app: none yet (its work is done in the request; reminders sweep its due
dates)."""
