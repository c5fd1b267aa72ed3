"""What a notification says: its headline and details for the in-app list, and its email (text and
HTML), in the recipient's language, with times on the lab's clock.

It renders what it is given: the digest's rows are gathered by the sending service (through the
selectors) and passed in; nothing here calls a selector or a service.

Messages name the run, the donor *code*, the stage and the task: never a person's data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from labs.models import Lab
from protocol_tracker.reminders.models import Notification, NotificationKind, NotificationObject

SUBJECT_PREFIX = "[protocol_tracker] "


class DigestRows(Protocol):
    """What a digest email lists (``selectors.Digest`` is one): the lab and its rows."""

    @property
    def lab(self) -> Lab: ...
    @property
    def open_deviations(self) -> list: ...
    @property
    def awaiting_release(self) -> list: ...
    @property
    def overdue_stage_runs(self) -> list: ...
    @property
    def overdue_tasks(self) -> list: ...
    @property
    def equipment_due(self) -> list: ...


def format_local(moment: datetime, tz: ZoneInfo) -> str:
    """``2025-03-30 07:00 CEST``: a time as the lab's wall clock shows it."""
    local = moment.astimezone(tz)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def _what(context: dict) -> str:
    if context.get("task"):
        return _("%(task)s (stage %(stage)s)") % context
    return context.get("stage", "")


def _fields(notification: Notification) -> dict:
    context = dict(notification.context or {})
    context.setdefault("run", "")
    context.setdefault("donor", "")
    context.setdefault("stage", "")
    context["what"] = _what(context)
    context["due"] = format_local(notification.due_at, notification.lab.tz)
    return context


def _equipment_what(f: dict) -> str:
    if f.get("what") == "maintenance":
        return _("Maintenance of %(equipment)s (%(code)s)") % f
    return _("Calibration of %(equipment)s (%(code)s)") % f


def _about_equipment(notification: Notification) -> bool:
    return notification.object_type in (
        NotificationObject.CALIBRATION,
        NotificationObject.MAINTENANCE,
    )


def _equipment_subject(notification: Notification, f: dict) -> str:
    what = _equipment_what(f)
    if notification.kind == NotificationKind.DUE_SOON:
        return _("Due soon: %(what)s, on %(date)s") % {"what": what, "date": f["due_date"]}
    if notification.kind == NotificationKind.DUE:
        return _("Due today: %(what)s") % {"what": what}
    return _("Overdue: %(what)s, due %(date)s") % {"what": what, "date": f["due_date"]}


def _equipment_headline(notification: Notification, f: dict) -> str:
    what = _equipment_what(f)
    if notification.kind == NotificationKind.DUE_SOON:
        return _("%(what)s is due on %(date)s.") % {"what": what, "date": f["due_date"]}
    if notification.kind == NotificationKind.DUE:
        return _(
            "%(what)s is due today (%(date)s); until it is done the equipment cannot be used."
        ) % {"what": what, "date": f["due_date"]}
    return _("%(what)s is overdue: it was due on %(date)s.") % {
        "what": what,
        "date": f["due_date"],
    }


def _recall_headline(f: dict) -> str:
    runs = ", ".join(f.get("runs") or []) or "-"
    return _(
        "%(material)s lot %(lot)s was recalled (%(reason)s). Runs that used it (%(count)s), "
        "now flagged: %(runs)s."
    ) % {**f, "count": f.get("run_count", 0), "runs": runs}


def notification_subject(notification: Notification) -> str:
    """A short subject line, in the active language."""
    f = _fields(notification)
    kind = notification.kind
    if _about_equipment(notification):
        return _equipment_subject(notification, f)
    if kind == NotificationKind.LOT_RECALLED:
        return _("Recalled: %(material)s lot %(lot)s") % f
    if kind == NotificationKind.DUE_SOON:
        return _("Due soon: %(what)s, run %(run)s") % f
    if kind == NotificationKind.DUE:
        return _("Due now: %(what)s, run %(run)s") % f
    if kind == NotificationKind.OVERDUE:
        return _("Overdue: %(what)s, run %(run)s") % f
    if kind == NotificationKind.ESCALATION:
        return _("Escalation: overdue %(what)s, run %(run)s") % f
    if kind == NotificationKind.QC_FAILED:
        return _("Out of spec: %(checkpoint)s, run %(run)s") % f
    return _("Daily digest: %(lab)s, %(date)s") % f


def notification_headline(notification: Notification) -> str:
    """One sentence for the in-app list and the top of the email, in the active language."""
    f = _fields(notification)
    kind = notification.kind
    if _about_equipment(notification):
        return _equipment_headline(notification, f)
    if kind == NotificationKind.LOT_RECALLED:
        return _recall_headline(f)
    if kind == NotificationKind.DUE_SOON:
        return _("%(what)s for run %(run)s (donor %(donor)s) is due soon, at %(due)s.") % f
    if kind == NotificationKind.DUE:
        return _("%(what)s for run %(run)s (donor %(donor)s) is due now (%(due)s).") % f
    if kind == NotificationKind.OVERDUE:
        return (
            _("%(what)s for run %(run)s (donor %(donor)s) is overdue: it was due at %(due)s.") % f
        )
    if kind == NotificationKind.ESCALATION:
        return (
            _(
                "Escalation: %(what)s for run %(run)s (donor %(donor)s) is still not done; it "
                "was due at %(due)s."
            )
            % f
        )
    if kind == NotificationKind.QC_FAILED:
        headline = (
            _(
                "Out of spec: %(checkpoint)s = %(value)s for run %(run)s (donor %(donor)s), "
                "stage %(stage)s."
            )
            % f
        )
        if f.get("flagged"):
            headline += " " + _("The run was released conditionally and is now flagged.")
        return headline
    return _("Daily digest for %(lab)s, %(date)s.") % f


def notification_details(notification: Notification) -> list[str]:
    f = _fields(notification)
    if _about_equipment(notification):
        return [
            _("Equipment: %(equipment)s (%(code)s)") % f,
            _("Due: %(date)s") % {"date": f["due_date"]},
        ]
    if notification.kind == NotificationKind.LOT_RECALLED:
        return [
            _("Lot: %(material)s %(lot)s") % f,
            _("Reason: %(reason)s") % f,
            _("Runs flagged: %(count)s") % {"count": f.get("run_count", 0)},
        ]
    lines = []
    if f["run"]:
        lines.append(_("Run: %(run)s") % f)
    if f["donor"]:
        lines.append(_("Donor: %(donor)s") % f)
    if f["stage"]:
        lines.append(_("Stage: %(stage)s") % f)
    if f.get("task"):
        lines.append(_("Bench task: %(task)s") % f)
    if notification.kind == NotificationKind.QC_FAILED:
        lines.append(_("Result: %(checkpoint)s = %(value)s") % f)
        lines.append(_("Recorded: %(due)s") % f)
    elif notification.kind != NotificationKind.DIGEST:
        lines.append(_("Due: %(due)s") % f)
    return lines


def _digest_sections(digest: DigestRows) -> list[dict]:
    tz = digest.lab.tz
    sections = [
        {
            "title": _("Open deviations (%(count)s)") % {"count": len(digest.open_deviations)},
            "rows": [
                _(
                    "DEV-%(id)s, %(severity)s, %(status)s: run %(run)s (donor %(donor)s), opened "
                    "%(opened)s"
                )
                % {
                    "id": d.pk,
                    "severity": d.get_severity_display(),
                    "status": d.get_status_display(),
                    "run": d.run.code,
                    "donor": d.run.donor.code,
                    "opened": format_local(d.opened_at, tz),
                }
                for d in digest.open_deviations
            ],
        },
        {
            "title": _("Runs awaiting release (%(count)s)")
            % {"count": len(digest.awaiting_release)},
            "rows": [
                _("Run %(run)s (donor %(donor)s), completed %(completed)s")
                % {
                    "run": r.code,
                    "donor": r.donor.code,
                    "completed": format_local(r.completed_at, tz) if r.completed_at else "-",
                }
                for r in digest.awaiting_release
            ],
        },
        {
            "title": _("Overdue stages (%(count)s)") % {"count": len(digest.overdue_stage_runs)},
            "rows": [
                _("%(stage)s, run %(run)s (donor %(donor)s), due %(due)s")
                % {
                    "stage": s.stage.name,
                    "run": s.run.code,
                    "donor": s.run.donor.code,
                    "due": format_local(s.due_at, tz),
                }
                for s in digest.overdue_stage_runs
            ],
        },
        {
            "title": _("Overdue bench tasks (%(count)s)") % {"count": len(digest.overdue_tasks)},
            "rows": [
                _("%(task)s (stage %(stage)s), run %(run)s (donor %(donor)s), due %(due)s")
                % {
                    "task": t.task.name,
                    "stage": t.stage_run.stage.name,
                    "run": t.stage_run.run.code,
                    "donor": t.stage_run.run.donor.code,
                    "due": format_local(t.due_at, tz),
                }
                for t in digest.overdue_tasks
            ],
        },
    ]
    if digest.equipment_due:
        # Only when there is some: a lab without equipment falling due gets the digest it got.
        sections.append(
            {
                "title": _("Equipment due for calibration or maintenance (%(count)s)")
                % {"count": len(digest.equipment_due)},
                "rows": [
                    _(
                        "%(equipment)s (%(code)s): calibration due %(calibration)s, "
                        "maintenance due %(maintenance)s"
                    )
                    % {
                        "equipment": e.name,
                        "code": e.code,
                        "calibration": e.calibration_due.isoformat() if e.calibration_due else "-",
                        "maintenance": e.maintenance_due.isoformat() if e.maintenance_due else "-",
                    }
                    for e in digest.equipment_due
                ],
            }
        )
    return sections


def email_message(
    notification: Notification, *, language: str, digest: DigestRows | None = None
) -> EmailMultiAlternatives:
    """The email for ``notification`` in ``language``: text and HTML bodies, a stable Message-ID.

    A digest's email lists the rows of ``digest`` (what ``selectors.digest_for_lab`` gathered).
    """
    with translation.override(language):
        context = {
            "language": translation.get_language(),
            "subject": notification_subject(notification),
            "headline": notification_headline(notification),
            "details": notification_details(notification),
            "sections": (
                _digest_sections(digest)
                if notification.kind == NotificationKind.DIGEST and digest is not None
                else []
            ),
            "lab": notification.lab.name,
        }
        text = render_to_string("reminders/email/notification.txt", context)
        html = render_to_string("reminders/email/notification.html", context)
    message = EmailMultiAlternatives(
        subject=SUBJECT_PREFIX + context["subject"],
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[notification.recipient.email],
        headers={
            "Message-ID": f"<notification-{notification.pk}@protocol-tracker>",
            "Auto-Submitted": "auto-generated",
            "X-Protocol-Tracker-Kind": notification.kind,
        },
    )
    message.attach_alternative(html, "text/html")
    return message
