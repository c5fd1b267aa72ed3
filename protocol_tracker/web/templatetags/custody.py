"""Template filters of the chain-of-custody screens."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def iso_local(value: str) -> str:
    """An ISO 8601 time kept in JSON, shown in the active (the lab's) time zone."""
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return value or ""
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")
