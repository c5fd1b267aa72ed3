"""The review-by-exception sources that exist today: what QC and the workflow engine recorded.

Each is ``run -> list[ReviewItem]``, reads a constant number of queries and lists every
exception of its kind exactly once; the keys name the record (``kind:type:id``).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from protocol_tracker import specs
from protocol_tracker.core.review import ReviewItem
from protocol_tracker.protocols.models import localized
from protocol_tracker.qc.models import Deviation, DeviationKind, QCResult, Verdict
from protocol_tracker.runs.models import Run, StageRun, StageStatus, TaskOccurrence, TaskResolution
from protocol_tracker.runs.selectors import post_release_stage_ids

# Reasons the QC services give to a superseding result that is not a correction.
RETEST_REASON = "retest"
PENDING_RESULT_REASON = "result of the pending test"


def local_time(run: Run, moment) -> str:
    """``moment`` on the lab's clock, to the minute."""
    return timezone.localtime(moment, run.lab.tz).strftime("%Y-%m-%d %H:%M")


def spec_text(spec: dict | None, unit: str) -> str:
    """A spec as a short label ("≥ 90 %"), or "no spec" in the active language."""
    text = specs.describe_spec(spec or {}, unit or "")
    if text == "no spec":
        return _("no spec")
    return text.replace(" and ", " " + _("and") + " ").replace("one of: ", _("one of: "))


REVIEW_CACHE = "_review_rows"


def _memo(run: Run, name: str, load):
    """Rows several sources read, read once per review (``run_exceptions`` starts afresh)."""
    cache = run.__dict__.setdefault(REVIEW_CACHE, {})
    if name not in cache:
        cache[name] = load()
    return cache[name]


def _results(run: Run) -> list[QCResult]:
    return _memo(
        run,
        "results",
        lambda: list(
            QCResult.objects.for_lab(run.lab_id)
            .filter(stage_run__run=run)
            .select_related("checkpoint", "stage_run__stage", "recorded_by", "supersedes")
            .order_by("recorded_at", "pk")
        ),
    )


def _deviations(run: Run) -> list[Deviation]:
    return _memo(
        run,
        "deviations",
        lambda: list(
            Deviation.objects.for_lab(run.lab_id)
            .filter(run=run)
            .select_related("qc_result", "stage_run__stage")
            .order_by("opened_at", "pk")
        ),
    )


def _deviation_facts(deviations: list[Deviation]) -> list[dict]:
    return [
        {
            "id": d.pk,
            "status": d.status,
            "disposition": d.disposition,
            "group": d.disposition_group_id,
        }
        for d in deviations
    ]


def _deviation_line(d: Deviation) -> str:
    if d.is_open:
        return _("DEV-%(pk)s %(status)s") % {"pk": d.pk, "status": d.get_status_display()}
    return _("DEV-%(pk)s closed: %(disposition)s, %(justification)s") % {
        "pk": d.pk,
        "disposition": d.get_disposition_display(),
        "justification": d.justification,
    }


def out_of_spec_results(run: Run) -> list[ReviewItem]:
    """Every result judged out of specification (current or since retested), with the
    deviations it opened and their dispositions."""
    failing = [r for r in _results(run) if r.verdict == Verdict.FAIL]
    by_result: dict[int, list[Deviation]] = defaultdict(list)
    for d in _deviations(run):
        if d.qc_result_id is not None:
            by_result[d.qc_result_id].append(d)
    items = []
    for r in failing:
        deviations = sorted(by_result[r.pk], key=lambda d: d.pk)
        items.append(
            ReviewItem(
                key=f"out_of_spec:qc_result:{r.pk}",
                kind="out_of_spec",
                title=_("Out of specification: %(checkpoint)s = %(value)s (spec %(spec)s)")
                % {
                    "checkpoint": localized(r.checkpoint, "name"),
                    "value": r.display_value,
                    "spec": spec_text(r.spec_snapshot.get("spec"), r.spec_snapshot.get("unit", "")),
                },
                detail="; ".join(
                    [localized(r.stage_run.stage, "name")]
                    + [_deviation_line(d) for d in deviations]
                ),
                record=("qc_result", r.pk),
                facts={
                    "result": r.pk,
                    "value": r.display_value,
                    "verdict": r.verdict,
                    "deviations": _deviation_facts(deviations),
                },
                at=r.recorded_at,
                stage_run_id=r.stage_run_id,
            )
        )
    return items


def corrections_and_retests(run: Run) -> list[ReviewItem]:
    """Every result that supersedes another: a correction (with its reason) or a retest."""
    items = []
    for r in _results(run):
        if r.supersedes_id is None or r.reason == PENDING_RESULT_REASON:
            continue
        kind = "retest" if r.reason == RETEST_REASON else "correction"
        old = r.supersedes
        title = (
            _("Retest of %(checkpoint)s: %(old)s → %(new)s")
            if kind == "retest"
            else _("Correction of %(checkpoint)s: %(old)s → %(new)s")
        )
        items.append(
            ReviewItem(
                key=f"{kind}:qc_result:{r.pk}",
                kind=kind,
                title=title
                % {
                    "checkpoint": localized(r.checkpoint, "name"),
                    "old": old.display_value if old else "",
                    "new": r.display_value,
                },
                detail=_("Reason: %(reason)s (by %(who)s)")
                % {
                    "reason": r.reason,
                    "who": r.recorded_by.get_username() if r.recorded_by else "—",
                },
                record=("qc_result", r.pk),
                facts={
                    "result": r.pk,
                    "supersedes": r.supersedes_id,
                    "reason": r.reason,
                    "value": r.display_value,
                },
                at=r.recorded_at,
                stage_run_id=r.stage_run_id,
            )
        )
    return items


def late_entries(run: Run) -> list[ReviewItem]:
    """Results recorded longer after they were measured than the lab allows
    (``Lab.late_entry_threshold``)."""
    threshold: timedelta = run.lab.late_entry_threshold
    items = []
    for r in _results(run):
        delay = r.recorded_at - r.measured_at
        if delay <= threshold:
            continue
        hours = delay.total_seconds() / 3600
        items.append(
            ReviewItem(
                key=f"late_entry:qc_result:{r.pk}",
                kind="late_entry",
                title=_("Entered %(hours).1f h after it was measured: %(checkpoint)s")
                % {"hours": hours, "checkpoint": localized(r.checkpoint, "name")},
                detail=_(
                    "Measured %(measured)s, recorded %(recorded)s; the lab allows %(limit).0f h"
                )
                % {
                    "measured": r.measured_at.isoformat(timespec="minutes"),
                    "recorded": r.recorded_at.isoformat(timespec="minutes"),
                    "limit": threshold.total_seconds() / 3600,
                },
                record=("qc_result", r.pk),
                facts={"result": r.pk, "measured_at": r.measured_at, "recorded_at": r.recorded_at},
                at=r.recorded_at,
                stage_run_id=r.stage_run_id,
            )
        )
    return items


def window_completions(run: Run) -> list[ReviewItem]:
    """Stages completed outside their allowed window, with the reason given and the window
    deviation's disposition."""
    stage_runs = list(
        StageRun.objects.for_lab(run.lab_id)
        .filter(run=run, status=StageStatus.COMPLETED)
        .select_related("stage")
        .order_by("order")
    )
    deviations: dict[int, list[Deviation]] = defaultdict(list)
    for d in _deviations(run):
        if d.kind == DeviationKind.WINDOW and d.stage_run_id is not None:
            deviations[d.stage_run_id].append(d)
    items = []
    for sr in stage_runs:
        early, late = sr.due_at - sr.stage.window_early, sr.due_at + sr.stage.window_late
        if sr.completed_at is None or early <= sr.completed_at <= late:
            continue
        hours = (sr.completed_at - sr.due_at).total_seconds() / 3600
        devs = sorted(deviations[sr.pk], key=lambda d: d.pk)
        items.append(
            ReviewItem(
                key=f"window:stage_run:{sr.pk}",
                kind="window",
                title=(
                    _("Stage %(stage)s finished %(hours).1f h late")
                    if hours > 0
                    else _("Stage %(stage)s finished %(hours).1f h early")
                )
                % {"stage": localized(sr.stage, "name"), "hours": abs(hours)},
                detail="; ".join(
                    [
                        (
                            devs[0].description.rpartition("Reason given at completion: ")[2]
                            if devs
                            else ""
                        )
                    ]
                    + [_deviation_line(d) for d in devs]
                ).strip("; "),
                record=("stage_run", sr.pk),
                facts={
                    "stage_run": sr.pk,
                    "completed_at": sr.completed_at,
                    "due_at": sr.due_at,
                    "deviations": _deviation_facts(devs),
                },
                at=sr.completed_at,
                stage_run_id=sr.pk,
            )
        )
    return items


_NOT_DONE: dict[str, str] = {
    TaskResolution.SKIPPED: "skipped",
    TaskResolution.NOT_APPLICABLE: "not_applicable",
    TaskResolution.DONE_LATE: "done_late",
}


def bench_tasks_not_done(run: Run) -> list[ReviewItem]:
    """Per stage: bench tasks skipped, not applicable, declared done late at completion, or
    still open on a finished stage (one item per stage, each task with its reason)."""
    finished = (StageStatus.COMPLETED, StageStatus.FAILED, StageStatus.SKIPPED)
    tasks = (
        TaskOccurrence.objects.for_lab(run.lab_id)
        .filter(stage_run__run=run)
        .select_related("task", "stage_run__stage")
        .order_by("stage_run__order", "due_at", "pk")
    )
    by_stage: dict[int, list[tuple[str, TaskOccurrence]]] = defaultdict(list)
    stages: dict[int, StageRun] = {}
    for occ in tasks:
        if occ.resolution:
            state = _NOT_DONE[occ.resolution]
        elif occ.skipped:
            state = "skipped"
        elif occ.done_at is None and occ.stage_run.status in finished:
            state = "open"
        else:
            continue
        by_stage[occ.stage_run_id].append((state, occ))
        stages[occ.stage_run_id] = occ.stage_run
    labels = {
        "skipped": _("skipped"),
        "not_applicable": _("not applicable"),
        "done_late": _("done, logged late"),
        "open": _("open"),
    }
    items = []
    for sr_id, rows in by_stage.items():
        sr = stages[sr_id]
        counts: dict[str, int] = defaultdict(int)
        for state, _occ in rows:
            counts[state] += 1
        items.append(
            ReviewItem(
                key=f"bench_tasks:stage_run:{sr_id}",
                kind="bench_tasks",
                title=_("Stage %(stage)s: bench tasks not done as planned (%(counts)s)")
                % {
                    "stage": localized(sr.stage, "name"),
                    "counts": ", ".join(f"{n} {labels[s]}" for s, n in sorted(counts.items())),
                },
                detail="; ".join(
                    f"{localized(occ.task, 'name')} {local_time(run, occ.due_at)}: "
                    f"{labels[state]}"
                    + (f" ({occ.resolution_reason})" if occ.resolution_reason else "")
                    for state, occ in rows
                ),
                record=("stage_run", sr_id),
                facts={"tasks": [[occ.pk, state, occ.resolution_reason] for state, occ in rows]},
                at=sr.completed_at,
                stage_run_id=sr_id,
            )
        )
    return items


def pending_tests(run: Run) -> list[ReviewItem]:
    """Blocking tests of the manufacturing stages whose current result is pending: the tests a
    conditional release names (EU GMP Part IV), or that a release must wait for."""
    post_release = post_release_stage_ids(run.protocol)
    results = _results(run)
    superseded = {r.supersedes_id for r in results if r.supersedes_id}
    current = [
        r
        for r in results
        if r.pk not in superseded
        and r.verdict == Verdict.PENDING
        and r.stage_run.stage_id not in post_release
    ]
    return [
        ReviewItem(
            key=f"pending_test:checkpoint:{r.checkpoint.key}",
            kind="pending_test",
            title=_("Pending at release: %(checkpoint)s")
            % {"checkpoint": localized(r.checkpoint, "name")},
            detail=(
                _("May be pending at a conditional release; its result follows the release")
                if r.checkpoint.pending_allowed
                else _("May not be pending at release: the release waits for its result")
            ),
            record=("qc_result", r.pk),
            facts={
                "checkpoint": r.checkpoint.key,
                "result": r.pk,
                "pending_allowed": r.checkpoint.pending_allowed,
            },
            at=r.recorded_at,
            stage_run_id=r.stage_run_id,
        )
        for r in current
    ]


def other_deviations(run: Run) -> list[ReviewItem]:
    """Deviations that no other source lists: reported by hand, a failing result after a
    conditional release, or opened without a result or a window (each with its disposition)."""
    items = []
    for d in _deviations(run):
        if d.kind == DeviationKind.WINDOW:
            continue
        if (
            d.kind == DeviationKind.OUT_OF_SPEC
            and d.qc_result is not None
            and d.qc_result.verdict == Verdict.FAIL
        ):
            continue  # listed with its result (out_of_spec_results)
        items.append(
            ReviewItem(
                key=f"deviation:deviation:{d.pk}",
                kind="deviation",
                title=_("Deviation DEV-%(pk)s (%(severity)s): %(title)s")
                % {"pk": d.pk, "severity": d.get_severity_display(), "title": d.title},
                detail=_deviation_line(d),
                record=("deviation", d.pk),
                facts={
                    "deviation": _deviation_facts([d])[0],
                    "kind": d.kind,
                    "severity": d.severity,
                },
                at=d.opened_at,
                stage_run_id=d.stage_run_id,
            )
        )
    return items
