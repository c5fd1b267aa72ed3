"""The batch record's own sections: summary, review by exception, one per stage, deviations,
signatures, and the audit trail appendix. Labels in the active language."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from django.utils.translation import gettext as _

from protocol_tracker.documents.blocks import Block, Fields, Heading, Section, Table, Text
from protocol_tracker.outcomes.documents.record import RecordContext
from protocol_tracker.outcomes.selectors import spec_text
from protocol_tracker.protocols.models import localized
from protocol_tracker.qc.models import Deviation, QCResult
from protocol_tracker.runs.models import Run, StageRun

AUDIT_VALUE_CHARS = 90
REVIEW_DETAIL_CHARS = 600

#: Extra summary fields another app contributes (the identity registry: the COI).
SummaryFields = Callable[[Run], Sequence[tuple[str, str]]]
#: Blocks another app adds to each stage (materials and equipment used, custody events), by
#: stage run id.
StageBlocks = Callable[[Run], Mapping[int, Sequence[Block]]]


def _hours(delta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:g} h"


def _user(user) -> str:
    return (user.get_full_name() or user.get_username()) if user is not None else "—"


def _recorder(result: QCResult) -> str:
    if result.recorded_by is not None:
        return _user(result.recorded_by)
    return str(result.recorded_by_instrument or "—")


def _verdict(result: QCResult | None) -> str:
    return result.get_verdict_display() if result is not None else _("no result")


def _deviation_row(ctx: RecordContext, d: Deviation) -> list[str]:
    disposition = "—"
    if not d.is_open:
        disposition = f"{d.get_disposition_display()}: {d.justification}"
        if d.disposition_group_id:
            disposition += " " + _("(grouped disposition GRP-%(pk)s)") % {
                "pk": d.disposition_group_id
            }
    return [
        f"DEV-{d.pk}",
        d.get_severity_display(),
        d.title,
        d.get_status_display(),
        disposition,
        f"{_user(d.closed_by)} {ctx.local(d.closed_at)}" if d.closed_at else "—",
    ]


def _deviation_table(ctx: RecordContext, deviations: Sequence[Deviation]) -> Table:
    return Table(
        header=[_("Deviation"), _("Severity"), _("Title"), _("Status"), _("Disposition"),
                _("Closed by")],
        rows=[_deviation_row(ctx, d) for d in deviations],
        widths=[0.8, 0.8, 2.4, 1, 2.6, 1.4],
    )  # fmt: skip


def summary(ctx: RecordContext, extra_fields: Sequence[tuple[str, str]]) -> Section:
    run = ctx.run
    protocol = run.protocol
    review = ctx.review
    acknowledged = sum(1 for row in review.rows if row.acknowledged)
    open_deviations = sum(1 for d in ctx.deviations if d.is_open)
    if ctx.release is not None:
        decision = _("Released by %(who)s at %(when)s") % {
            "who": ctx.release.signer_name,
            "when": ctx.local(ctx.release.at),
        }
        if ctx.release.pending_tests:
            decision += "; " + _("conditional release, pending: %(tests)s") % {
                "tests": ", ".join(ctx.release.pending_tests)
            }
    else:
        decision = _("Not released (%(status)s)") % {"status": run.get_status_display()}
    pending = [row.item.title for row in review.rows if row.item.kind == "pending_test"]
    fields = [
        (_("Product"), protocol.name),
        (_("Protocol version"), f"{protocol.code} v{protocol.version} "
                                f"({protocol.definition_hash[:16] or '—'})"),
        (_("Lot (run)"), run.code),
        (_("Donor code"), run.donor.code),
        *extra_fields,
        (_("Lab"), f"{run.lab.name} ({run.lab.timezone})"),
        (_("Status"), run.get_status_display()),
        (_("Started"), ctx.local(run.started_at)),
        (_("Manufacturing completed"), ctx.local(run.completed_at)),
        (_("Release decision"), decision),
        (_("Pending tests"), "; ".join(pending) or _("none")),
        (_("Exceptions"), _("%(n)s listed, %(acked)s acknowledged")
         % {"n": len(review.rows), "acked": acknowledged}),
        (_("Deviations"), _("%(n)s in all, %(open)s open")
         % {"n": len(ctx.deviations), "open": open_deviations}),
        (_("Signatures"), str(len(ctx.signatures) + (ctx.release is not None))),
    ]  # fmt: skip
    blocks: list[Block] = [Fields(fields)]
    if ctx.release is not None:
        blocks.append(Heading(_("Release signature"), level=3))
        blocks.append(
            Fields(
                [
                    (_("Signed by"), ctx.release.signer_name),
                    (_("Meaning"), ctx.release.meaning),
                    (_("When"), ctx.local(ctx.release.at)),
                    (_("Statement"), ctx.release.statement),
                ]
            )
        )
    blocks += [Heading(_("Signatures"), level=3), signatures_table(ctx)]
    return Section(title=_("Summary"), blocks=blocks, key="summary")


def signatures_table(ctx: RecordContext) -> Table:
    rows = [
        [ctx.local(s.signed_at), s.signer_name, s.get_meaning_display(),
         f"{s.object_type}:{s.object_id}", s.statement]
        for s in ctx.signatures
    ]  # fmt: skip
    if ctx.release is not None:
        # The release signature is written with this document: it binds its SHA-256.
        rows.append(
            [ctx.local(ctx.release.at), ctx.release.signer_name, ctx.release.meaning,
             f"runs.run:{ctx.run.pk}",
             ctx.release.statement + " " + _("(this signature binds this document's SHA-256)")]
        )  # fmt: skip
    return Table(
        header=[_("When"), _("Signed by"), _("Meaning"), _("Record"), _("Statement")],
        rows=rows,
        widths=[1.1, 1.1, 0.9, 1.2, 4.7],
    )


def review_by_exception(ctx: RecordContext) -> Section:
    rows = []
    for row in ctx.review.rows:
        ack = row.acknowledgement
        detail = row.item.detail
        if len(detail) > REVIEW_DETAIL_CHARS:
            detail = detail[: REVIEW_DETAIL_CHARS - 1] + "… " + _("(in full with its stage)")
        rows.append(
            [
                row.item.title,
                detail,
                f"{_user(ack.acknowledged_by)} {ctx.local(ack.acknowledged_at)}"
                if ack
                else _("not acknowledged"),
                ack.comment if ack else "",
            ]
        )
    blocks: list[Block] = [
        Text(
            _(
                "Everything the reviewer had to see before the release: results out of "
                "specification and their deviations, corrections and retests, late entries, "
                "stages outside their window, bench tasks not done, pending tests."
            ),
            style="muted",
        )
    ]
    if rows:
        blocks.append(
            Table(
                header=[_("Exception"), _("Detail"), _("Acknowledged"), _("Comment")],
                rows=rows,
                widths=[2.6, 3.4, 1.4, 1.6],
            )
        )
    else:
        blocks.append(Text(_("No exceptions.")))
    return Section(title=_("Review by exception"), blocks=blocks, key="exceptions")


def _result_cell(ctx: RecordContext, history: list[QCResult]) -> str:
    current = next((r for r in reversed(history) if r.pk not in ctx.superseded), None)
    if current is None:
        return "—"
    text = current.display_value or current.get_verdict_display()
    if len(history) > 1:
        earlier = [r for r in history if r.pk != current.pk]
        text += " " + _("(corrected from %(old)s: %(reason)s)") % {
            "old": ", ".join(r.display_value or r.get_verdict_display() for r in earlier),
            "reason": current.reason,
        }
    return text


def stage_section(
    ctx: RecordContext, sr: StageRun, index: int, contributed: Sequence[Block]
) -> Section:
    stage = sr.stage
    window = f"−{_hours(stage.window_early)} / +{_hours(stage.window_late)}"
    blocks: list[Block] = [
        Fields(
            [
                (_("Status"), sr.get_status_display()),
                (_("Planned"), f"{ctx.local(sr.planned_start)} → {ctx.local(sr.due_at)} "
                               f"({_('window')} {window})"),
                (_("Actual"), f"{ctx.local(sr.started_at)} → {ctx.local(sr.completed_at)}"),
                (_("Started by"), _user(sr.started_by)),
                (_("Completed by"), _user(sr.completed_by)),
                *([(_("Notes"), sr.notes)] if sr.notes else []),
            ]
        )
    ]  # fmt: skip
    rows = []
    for cp in ctx.checkpoints.get(stage.pk, []):
        history = ctx.history(sr, cp)
        current = ctx.current(sr, cp)
        if current is None and not cp.blocking:
            continue
        rows.append(
            [
                localized(cp, "name"),
                spec_text(cp.spec, cp.unit),
                _result_cell(ctx, history),
                _verdict(current),
                f"{_recorder(current)} {ctx.local(current.measured_at)}" if current else "—",
                current.comment if current else "",
            ]
        )
    if rows:
        blocks.append(
            Table(
                header=[_("QC checkpoint"), _("Specification"), _("Result"), _("Verdict"),
                        _("Recorded by, measured"), _("Comment")],
                rows=rows,
                widths=[2.4, 1.2, 1.6, 0.9, 1.6, 1.3],
            )
        )  # fmt: skip
    counts = ctx.task_counts(sr)
    if counts.planned:
        blocks.append(
            Text(
                _(
                    "Bench tasks: %(planned)s planned; %(on_time)s done on time, %(late)s late, "
                    "%(skipped)s skipped, %(na)s not applicable, %(open)s open."
                )
                % {"planned": counts.planned, "on_time": counts.on_time, "late": counts.late,
                   "skipped": counts.skipped, "na": counts.not_applicable, "open": counts.open}
            )
        )  # fmt: skip
    exceptions = [
        row for row in ctx.review.rows if row.item.stage_run_id == sr.pk and row.item.detail
    ]
    blocks.extend(
        Text(row.item.detail, style="small") for row in exceptions if row.item.kind == "bench_tasks"
    )
    deviations = [d for d in ctx.deviations if d.stage_run_id == sr.pk]
    if deviations:
        blocks.append(_deviation_table(ctx, deviations))
    blocks.extend(contributed)
    title = _("Stage %(n)s: %(name)s (%(kind)s)") % {
        "n": index,
        "name": localized(stage, "name"),
        "kind": stage.get_kind_display(),
    }
    return Section(title=title, blocks=blocks, key=f"stage:{stage.key}")


def run_deviations(ctx: RecordContext) -> Section | None:
    deviations = [d for d in ctx.deviations if d.stage_run_id is None]
    if not deviations:
        return None
    return Section(
        title=_("Deviations of the run"),
        blocks=[_deviation_table(ctx, deviations)],
        key="deviations",
    )


def _short(value) -> str:
    text = "—" if value in (None, "", [], {}) else str(value)
    return text if len(text) <= AUDIT_VALUE_CHARS else text[: AUDIT_VALUE_CHARS - 1] + "…"


def _changes(event) -> str:
    before, after = event.before or {}, event.after or {}
    if not isinstance(before, dict) or not isinstance(after, dict):
        return f"{_short(event.before)} → {_short(event.after)}"
    parts = []
    for key in dict.fromkeys([*after, *before]):
        if event.before and before.get(key) == after.get(key):
            continue
        if event.before:
            parts.append(f"{key}: {_short(before.get(key))} → {_short(after.get(key))}")
        elif after.get(key) not in (None, "", [], {}):
            parts.append(f"{key}: {_short(after.get(key))}")
    return "; ".join(parts)


def audit_appendix(ctx: RecordContext) -> Section:
    rows = [
        [str(e.pk), ctx.local(e.created_at), e.actor_label, e.action,
         f"{e.object_type}:{e.object_id}", _changes(e), e.reason]
        for e in ctx.audit
    ]  # fmt: skip
    return Section(
        title=_("Appendix: audit trail"),
        blocks=[
            Text(
                _("%(n)s events filed under this run, oldest first; the chain head is %(head)s.")
                % {"n": len(rows), "head": ctx.audit[-1].hash if ctx.audit else "—"},
                style="muted",
            ),
            Table(
                header=["#", _("When"), _("Who"), _("Action"), _("Record"), _("Changes"),
                        _("Reason")],
                rows=rows,
                widths=[0.5, 1.1, 0.9, 1.2, 1.2, 3.6, 1.3],
            ),
        ],
        new_page=True,
        key="audit",
    )  # fmt: skip
