"""Re-tests due on the lab's runs in culture: a checkpoint with a re-test rule (by passage and/or
by days) whose last current result is that many passages or days old, whichever comes first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q
from django.utils import timezone

from labs.models import Lab
from protocol_tracker.protocols.retests import RetestStatus, retest_status
from protocol_tracker.qc.models import QCResult, Verdict
from protocol_tracker.runs.models import RunStatus


@dataclass(frozen=True)
class RetestDue:
    run_id: int
    run_code: str
    checkpoint_id: int
    checkpoint_key: str
    checkpoint_name: str
    last_at: datetime
    last_passage: int | None
    passage_now: int
    status: RetestStatus


def retests_due(*, lab: Lab | int, now: datetime | None = None) -> list[RetestDue]:
    """The re-tests due on the lab's active runs, most overdue first (one query)."""
    now = now or timezone.now()
    lab_id = lab if isinstance(lab, int) else lab.pk
    rows = (
        QCResult.objects.filter(
            stage_run__run__lab_id=lab_id,
            stage_run__run__status=RunStatus.ACTIVE,
            superseded_by__isnull=True,
            verdict__in=(Verdict.PASS, Verdict.NO_SPEC),
        )
        .filter(
            Q(checkpoint__retest_every_passages__isnull=False)
            | Q(checkpoint__retest_every_days__isnull=False)
        )
        .order_by("stage_run__run_id", "checkpoint__key", "-measured_at", "-id")
        .values_list(
            "stage_run__run_id",
            "stage_run__run__code",
            "stage_run__run__passage",
            "checkpoint_id",
            "checkpoint__key",
            "checkpoint__name",
            "checkpoint__retest_every_passages",
            "checkpoint__retest_every_days",
            "measured_at",
            "passage",
        )
    )
    seen: set[tuple[int, str]] = set()
    due: list[RetestDue] = []
    for run_id, code, passage_now, cp_id, key, name, every_p, every_d, at, passage in rows:
        if (run_id, key) in seen:
            continue
        seen.add((run_id, key))
        status = retest_status(
            last_at=at,
            last_passage=passage,
            now=now,
            passage_now=passage_now,
            every_passages=every_p,
            every_days=every_d,
        )
        if status.due:
            due.append(RetestDue(run_id, code, cp_id, key, name, at, passage, passage_now, status))
    due.sort(key=lambda d: (-d.status.days_since, d.run_code, d.checkpoint_key))
    return due
