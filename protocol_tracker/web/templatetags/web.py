"""Template helpers for the web UI: form fields with their errors, status tags, specs."""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.translation import gettext as _

from protocol_tracker.web import display

register = template.Library()


@register.inclusion_tag("web/partials/field.html")
def field(bound_field, help_text: str = "", **attrs):
    """A labelled form field with its help text and its errors right below it."""
    return {"f": bound_field, "help": help_text or bound_field.help_text}


@register.simple_tag
def status_tag(value: str, label: str = "") -> str:
    """A status badge: colour and text, so it never relies on colour alone."""
    return format_html('<span class="tag tag-{}">{}</span>', value or "none", label or value)


@register.filter
def spec_text(checkpoint_or_snapshot) -> str:
    return display.spec_label(checkpoint_or_snapshot)


@register.simple_tag(takes_context=True)
def unread_badge(context) -> str:
    request = context.get("request")
    if request is None or not request.user.is_authenticated:
        return ""
    count = display.unread_count(request.user)
    if not count:
        return ""
    return format_html(
        '<span class="badge-count" aria-label="{}">{}</span>',
        _("%(count)s unread") % {"count": count},
        count,
    )


@register.filter
def get_item(mapping, key):
    if mapping is None:
        return None
    return mapping.get(key)


@register.filter
def duration_text(value) -> str:
    """A timedelta as '2 d 3 h' / '45 min' (translated units)."""
    if value is None:
        return ""
    seconds = int(abs(value.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = []
    if days:
        parts.append(_("%(n)d d") % {"n": days})
    if hours:
        parts.append(_("%(n)d h") % {"n": hours})
    if minutes and not days:
        parts.append(_("%(n)d min") % {"n": minutes})
    return " ".join(parts) or _("%(n)d min") % {"n": 0}


@register.filter
def recorder(result) -> str:
    """Who recorded a QC result: a person's username or an instrument's name."""
    if result.recorded_by_id:
        return result.recorded_by.get_username()
    if result.recorded_by_instrument_id:
        return result.recorded_by_instrument.name
    return ""
