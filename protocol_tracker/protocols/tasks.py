"""Celery tasks of the protocols app: none.

Designing, publishing, versioning and importing are short synchronous transactions (a version
copy or an import is a constant number of bulk statements), so nothing here needs a worker.
"""
