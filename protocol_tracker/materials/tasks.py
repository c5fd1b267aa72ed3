"""Celery tasks for materials: thin interfaces over ``services``."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from protocol_tracker.materials import services


@shared_task(name="materials.expire_lots", time_limit=120, soft_time_limit=100, ignore_result=True)
def lots_expire_task() -> int:
    """Mark the lots whose expiry date has begun on their lab's clock expired (beat)."""
    return len(services.lots_expire_due(now=timezone.now()))
