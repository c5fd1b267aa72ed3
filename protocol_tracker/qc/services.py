"""QC results, raw files, deviations, e-signatures, and the signed release or rejection of a run.

Rules the services keep (the messages say which one refused):

- A result is judged at recording time against the checkpoint's spec, converted to the spec's
  unit; the spec, unit and protocol version are snapshotted on the result. Nothing is updated in
  place: a correction, a retest (after a failure or an invalid assay) and the value of a pending
  test are new rows that ``supersede`` the current one, with a reason.
- A failing blocking result opens an out-of-specification deviation and notifies the reviewers at
  once (after commit). After a conditional release a failing pending test flags the run, opens a
  ``late_result`` deviation and notifies the reviewers the same way.
- An out-of-specification deviation needs at least a phase I (laboratory) investigation before a
  reviewer may dispose of it (FDA OOS guidance); other deviations may be disposed of directly.
- After the release only the post-release stages (transplant, follow-up) take results and
  corrections; the manufacturing stages are frozen except for the named pending tests of a
  conditional release. A failing blocking result on a post-release stage opens a (critical)
  out-of-specification deviation as usual and flags the run; it never un-releases it.
- Signatures re-authenticate with the signer's password and bind to a SHA-256 of the signed
  record's state. Four eyes: nobody signs a disposition about a result they recorded or a stage
  they completed, and nobody releases a run in which they recorded a result or completed a stage.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import PurePosixPath

from django.core.files.base import ContentFile
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone

from labs.models import CAN_REVIEW, CAN_WORK, Instrument, Lab
from labs.selectors import has_role
from protocol_tracker import specs
from protocol_tracker.audit.services import (
    Change,
    audit_record,
    audit_record_many,
    instance_builder,
)
from protocol_tracker.core.errors import (
    Conflict,
    InvalidTransition,
    NotPermitted,
    RowErrors,
    SignatureRefused,
    ValidationFailed,
)
from protocol_tracker.protocols.models import CheckpointTemplate, RecordedBy, ValueType
from protocol_tracker.qc.locks import lock_deviation
from protocol_tracker.qc.models import (
    Deviation,
    DeviationKind,
    DeviationSeverity,
    DeviationStatus,
    Disposition,
    QCResult,
    RawFile,
    RawFileKind,
    Signature,
    SignatureMeaning,
    Verdict,
)
from protocol_tracker.qc.selectors import run_release_check
from protocol_tracker.runs.locks import lock_run, lock_runs, lock_stage_run
from protocol_tracker.runs.models import Run, RunStatus, StageRun, StageStatus
from protocol_tracker.runs.selectors import post_release_stage_ids, post_release_stage_ids_many
from protocol_tracker.runs.services import (
    WORKING_STAGE_STATUSES,
    close_open_work,
    open_post_release_work,
    require_role,
    run_audit_change,
    run_state,
)
from protocol_tracker.specs import units
from protocol_tracker.specs.judge import CheckpointJudge

MEASURED_AT_SKEW = timedelta(minutes=5)
BULK_MAX_ROWS = 5000
RESULT_STATES = ("pending", "invalid")
_NUMERIC = frozenset({ValueType.NUMBER, ValueType.PERCENT})
# Results that may be superseded by a plain recording (rather than a correction), and why.
_REPLACEABLE = {
    Verdict.PENDING: "result of the pending test",
    Verdict.FAIL: "retest",
    Verdict.INVALID: "retest",
}


# --- preparing a result ---------------------------------------------------------------------


@dataclass
class Prepared:
    """A validated, judged result, not yet saved."""

    value_number: float | None
    value_bool: bool | None
    value_text: str
    unit: str
    value_in_spec_unit: float | None
    verdict: str
    measured_at: datetime
    state: str | None

    def fields(self) -> dict:
        return {
            "value_number": self.value_number,
            "value_bool": self.value_bool,
            "value_text": self.value_text,
            "unit": self.unit,
            "value_in_spec_unit": self.value_in_spec_unit,
            "verdict": self.verdict,
            "measured_at": self.measured_at,
        }


def _prepare(
    *,
    checkpoint: CheckpointTemplate,
    value,
    unit: str | None,
    measured_at,
    state: str | None,
    now: datetime,
    judge: CheckpointJudge | None = None,
) -> Prepared:
    """Parse, convert and judge; raise ValidationFailed with per-field errors, writing nothing.

    ``judge`` (of this checkpoint) answers the common case faster, with the same outcome."""
    errors: dict[str, list[str]] = {}
    if state not in (None, *RESULT_STATES):
        errors["state"] = [f"state must be empty, 'pending' or 'invalid', not {state!r}"]
    if not isinstance(measured_at, datetime):
        errors["measured_at"] = ["a date and time is required"]
    elif timezone.is_naive(measured_at):
        errors["measured_at"] = ["give a time zone offset"]
    elif measured_at > now + MEASURED_AT_SKEW:
        errors["measured_at"] = ["is in the future"]
    if unit is not None and not isinstance(unit, str):
        errors["unit"] = [f"unit must be text, got {type(unit).__name__}"]
        unit = None

    vt = checkpoint.value_type
    numeric = vt in _NUMERIC
    unit_given = (unit or "").strip()
    stored_unit = (unit_given or checkpoint.unit) if numeric else ""
    if not numeric and unit_given:
        errors.setdefault("unit", []).append(f"a {vt} checkpoint takes no unit, got '{unit}'")
    parsed = None
    in_spec_unit = None
    verdict = Verdict.PENDING if state == "pending" else Verdict.INVALID
    if state == "pending":
        if value not in (None, ""):
            errors["value"] = ["a pending result has no value yet"]
    elif not (state == "invalid" and value in (None, "")):
        try:
            parsed = specs.parse_value(value, value_type=vt)
        except specs.SpecError as exc:
            errors["value"] = [str(exc)]
        judged = (
            judge.judge(parsed, stored_unit)
            if judge is not None and parsed is not None and state is None and not errors
            else None
        )
        if judged is not None:
            in_spec_unit, verdict = judged
        elif parsed is not None and numeric and "unit" not in errors:
            try:
                in_spec_unit = units.convert(
                    parsed, stored_unit, checkpoint.unit, analyte=checkpoint.analyte or None
                )
            except units.UnitError as exc:
                errors["unit"] = [str(exc)]
        if judged is None and parsed is not None and state is None and not errors:
            try:
                verdict = specs.evaluate(
                    checkpoint.spec or None,
                    value_type=vt,
                    value=parsed,
                    unit=stored_unit if numeric else None,
                    spec_unit=checkpoint.unit,
                    analyte=checkpoint.analyte or None,
                )
            except units.UnitError as exc:
                errors["unit"] = [str(exc)]
            except specs.SpecError as exc:
                errors["value"] = [str(exc)]
    if errors:
        first = next(iter(errors.items()))
        raise ValidationFailed(f"{first[0]}: {first[1][0]}", fields=errors)
    return Prepared(
        value_number=float(parsed) if numeric and parsed is not None else None,
        value_bool=parsed if isinstance(parsed, bool) else None,
        value_text=parsed if isinstance(parsed, str) else "",
        unit=stored_unit,
        value_in_spec_unit=in_spec_unit,
        verdict=verdict,
        measured_at=measured_at,
        state=state,
    )


def _spec_snapshot(checkpoint: CheckpointTemplate, run: Run) -> dict:
    return {
        "spec": checkpoint.spec,
        "unit": checkpoint.unit,
        "value_type": checkpoint.value_type,
        "blocking": checkpoint.blocking,
        "protocol_id": run.protocol_id,
        "protocol_version": run.protocol.version,
        "checkpoint_key": checkpoint.key,
        "source": checkpoint.source,
    }


def _check_recorder(actor, lab_id: int, checkpoint: CheckpointTemplate) -> None:
    if isinstance(actor, Instrument):
        if actor.lab_id != lab_id or not actor.is_active:
            raise NotPermitted(f"instrument {actor.name} may not post results in this lab")
        if checkpoint.recorded_by not in (RecordedBy.INSTRUMENT, RecordedBy.ANY):
            raise NotPermitted(f"checkpoint '{checkpoint.name}' is recorded by people only")
        if not actor.may_post(checkpoint.assay):
            raise NotPermitted(f"instrument {actor.name} may not post '{checkpoint.assay}' results")
        return
    require_role(actor, lab_id, CAN_WORK, "record QC results")
    if checkpoint.recorded_by == RecordedBy.INSTRUMENT:
        raise NotPermitted(f"checkpoint '{checkpoint.name}' is recorded by instruments only")


def _recorder_fields(actor) -> dict:
    if isinstance(actor, Instrument):
        return {"recorded_by": None, "recorded_by_instrument": actor}
    return {"recorded_by": actor, "recorded_by_instrument": None}


def _idempotent_lookup(actor, key: str) -> QCResult | None:
    field = "recorded_by_instrument" if isinstance(actor, Instrument) else "recorded_by"
    return QCResult.objects.filter(**{field: actor, "idempotency_key": key}).first()


def _state_of(result: QCResult) -> str | None:
    return result.verdict if result.verdict in RESULT_STATES else None


def _same_payload(
    existing: QCResult,
    *,
    stage_run_id: int,
    checkpoint_id: int,
    prepared: Prepared,
    comment: str,
    raw_file_id: int | None,
) -> bool:
    return (
        existing.stage_run_id == stage_run_id
        and existing.checkpoint_id == checkpoint_id
        and existing.value_number == prepared.value_number
        and existing.value_bool == prepared.value_bool
        and existing.value_text == prepared.value_text
        and existing.unit == prepared.unit
        and existing.measured_at == prepared.measured_at
        and _state_of(existing) == prepared.state
        and existing.comment == comment
        and existing.raw_file_id == raw_file_id
    )


def _idempotency_mismatch(key: str) -> Conflict:
    return Conflict(
        f"idempotency key {key!r} was already used for a different result",
        code="idempotency_mismatch",
    )


def _worked_after_release(run: Run, stage_run: StageRun) -> bool:
    """Is ``stage_run`` a post-release stage of a released run (one that still takes results)?
    Asks the database only about released runs."""
    return run.status == RunStatus.RELEASED and stage_run.stage_id in post_release_stage_ids(
        run.protocol
    )


def _placement(
    *,
    run: Run,
    stage_run: StageRun,
    checkpoint: CheckpointTemplate,
    current: QCResult | None,
    prepared: Prepared,
    after_release: bool = False,
) -> tuple[QCResult | None, str]:
    """May this result be recorded here now, and what does it supersede (and why)?

    ``after_release``: ``stage_run`` is a post-release stage of the released ``run``; the usual
    stage rules apply to it."""
    name = stage_run.stage.name
    awaited = current is not None and current.verdict in (Verdict.PENDING, Verdict.INVALID)
    if run.is_closed and not after_release:
        if not (
            run.status == RunStatus.RELEASED
            and checkpoint.key in (run.pending_tests or [])
            and awaited
        ):
            raise InvalidTransition(
                f"run {run.code} is {run.status}; results can no longer be recorded"
            )
    elif stage_run.status == StageStatus.COMPLETED:
        if not (awaited and checkpoint.pending_allowed):
            raise InvalidTransition(
                f"stage '{name}' is completed; results can no longer be recorded "
                f"(correct an existing result instead)"
            )
    elif stage_run.status not in WORKING_STAGE_STATUSES:
        raise InvalidTransition(
            f"stage '{name}' is {stage_run.status}; results are recorded while it is in progress"
        )
    if current is None:
        return None, ""
    if current.verdict == Verdict.PENDING and prepared.verdict == Verdict.PENDING:
        message = f"checkpoint '{checkpoint.name}' is already pending"
        raise ValidationFailed(message, code="already_recorded", fields={"state": [message]})
    if current.verdict in _REPLACEABLE:
        return current, _REPLACEABLE[current.verdict]
    message = (
        f"checkpoint '{checkpoint.name}' already has a result ({current.display_value}, "
        f"{current.verdict}); correct it instead of recording a second one"
    )
    raise ValidationFailed(message, code="already_recorded", fields={"checkpoint": [message]})


_STATE_FIELDS = (
    ("stage_run", "stage_run_id"),
    ("checkpoint", "checkpoint_id"),
    ("value_number", "value_number"),
    ("value_bool", "value_bool"),
    ("value_text", "value_text"),
    ("unit", "unit"),
    ("value_in_spec_unit", "value_in_spec_unit"),
    ("verdict", "verdict"),
    ("measured_at", "measured_at"),
    ("supersedes", "supersedes_id"),
    ("raw_file", "raw_file_id"),
    ("idempotency_key", "idempotency_key"),
    ("comment", "comment"),
)


def result_state(result: QCResult) -> dict:
    data = result.__dict__  # straight from the instance; a deferred field is loaded
    return {
        key: data[attname] if attname in data else getattr(result, attname)
        for key, attname in _STATE_FIELDS
    }


def _notify_qc_failed(result_id: int) -> None:
    """Tell the reviewers at once, after commit (the reminders app sends and de-duplicates)."""
    from protocol_tracker.reminders.tasks import qc_failed_notify

    # robust: a broker outage at this moment must not turn a committed result into an error;
    # the reminders sweep catches the alert up from the open deviation (qc_failures_catch_up).
    transaction.on_commit(lambda: qc_failed_notify.delay(result_id), robust=True)


def _emit_deviation_opened(deviation_id: int) -> None:
    from protocol_tracker.reminders.tasks import deviation_opened_notify

    transaction.on_commit(lambda: deviation_opened_notify.delay(deviation_id), robust=True)


def _emit_run_released(run_id: int) -> None:
    from protocol_tracker.reminders.tasks import run_released_notify

    transaction.on_commit(lambda: run_released_notify.delay(run_id), robust=True)


def _after_record(
    *,
    actor,
    run: Run,
    stage_run: StageRun,
    checkpoint: CheckpointTemplate,
    result: QCResult,
    superseded: QCResult | None,
) -> list[Change]:
    """Deviations, flags and notifications that follow from a new result."""
    changes: list[Change] = []
    judged = result.verdict in (Verdict.PASS, Verdict.FAIL, Verdict.NO_SPEC)
    late = run.status == RunStatus.RELEASED and checkpoint.key in (run.pending_tests or [])
    if late and judged:
        before = run_state(run)
        run.pending_tests = [k for k in run.pending_tests if k != checkpoint.key]
        fields = ["pending_tests"]
        if result.verdict == Verdict.FAIL:
            run.flagged = True
            reason = (
                f"late result after conditional release: '{checkpoint.name}' "
                f"{result.display_value} is out of specification"
            )
            run.flag_reason = f"{run.flag_reason}\n{reason}".strip()
            fields += ["flagged", "flag_reason"]
        run.save(update_fields=fields)
        changes.append(run_audit_change("run.late_result", run, run, before, run_state(run)))
        if result.verdict == Verdict.FAIL:
            deviation_create_system(
                run=run,
                stage_run=stage_run,
                qc_result=result,
                actor=actor,
                kind=DeviationKind.LATE_RESULT,
                severity=DeviationSeverity.CRITICAL,
                title=f"Late result out of specification after release: {checkpoint.name}",
                description=run.flag_reason,
            )
            _notify_qc_failed(result.pk)
    elif result.verdict == Verdict.FAIL and checkpoint.blocking:
        # On a released run only post-release stages take results: the lot is out, so the run
        # is flagged (never un-released) and the deviation is critical, as for a late result.
        released = run.status == RunStatus.RELEASED
        if released:
            before = run_state(run)
            run.flagged = True
            reason = (
                f"out of specification after release: '{checkpoint.name}' "
                f"{result.display_value} (stage '{stage_run.stage.name}')"
            )
            run.flag_reason = f"{run.flag_reason}\n{reason}".strip()
            run.save(update_fields=["flagged", "flag_reason"])
            changes.append(run_audit_change("run.flag", run, run, before, run_state(run), reason))
        deviation_create_system(
            run=run,
            stage_run=stage_run,
            qc_result=result,
            actor=actor,
            kind=DeviationKind.OUT_OF_SPEC,
            severity=DeviationSeverity.CRITICAL if released else DeviationSeverity.MAJOR,
            title=f"Out of specification: {checkpoint.name} = {result.display_value}",
            description=(
                f"Spec: {specs.describe_spec(checkpoint.spec, checkpoint.unit)}; "
                f"stage '{stage_run.stage.name}' of run {run.code}."
            ),
        )
        _notify_qc_failed(result.pk)
    return changes


# --- recording ------------------------------------------------------------------------------


@transaction.atomic
def qc_result_record(
    *,
    stage_run: StageRun,
    checkpoint: CheckpointTemplate,
    value,
    unit: str | None,
    measured_at: datetime,
    actor,
    comment: str = "",
    idempotency_key: str = "",
    raw_file: RawFile | None = None,
    state: str | None = None,
) -> QCResult:
    """Record one QC result (a user, or an instrument allowed to post this assay).

    ``state``: None for a measured value, "pending" (sample taken, result awaited; no value) or
    "invalid" (assay controls failed; a retest is needed). ``unit`` None means the checkpoint's
    unit. A repeated ``idempotency_key`` returns the first result when the payload is the same
    and raises Conflict (``idempotency_mismatch``) when it is not.
    """
    if checkpoint.stage_id != stage_run.stage_id:
        message = f"checkpoint '{checkpoint.name}' does not belong to this stage"
        raise ValidationFailed(message, fields={"checkpoint": [message]})
    key = (idempotency_key or "").strip()
    if len(key) > 128:
        raise ValidationFailed(
            "idempotency key is longer than 128 characters",
            fields={"idempotency_key": ["at most 128 characters"]},
        )
    comment = (comment or "").strip()
    sr = lock_stage_run(stage_run.pk, run_id=stage_run.run_id)
    run = sr.run
    _check_recorder(actor, run.lab_id, checkpoint)
    prepared = _prepare(
        checkpoint=checkpoint,
        value=value,
        unit=unit,
        measured_at=measured_at,
        state=state,
        now=timezone.now(),
    )
    if raw_file is not None and raw_file.lab_id != run.lab_id:
        raise ValidationFailed("raw file not found in this lab", fields={"raw_file": ["not found"]})
    raw_file_id = raw_file.pk if raw_file is not None else None
    if key:
        existing = _idempotent_lookup(actor, key)
        if existing is not None:
            if _same_payload(
                existing,
                stage_run_id=sr.pk,
                checkpoint_id=checkpoint.pk,
                prepared=prepared,
                comment=comment,
                raw_file_id=raw_file_id,
            ):
                return existing
            raise _idempotency_mismatch(key)
    current = QCResult.objects.filter(
        stage_run=sr, checkpoint=checkpoint, superseded_by__isnull=True
    ).first()
    superseded, reason = _placement(
        run=run,
        stage_run=sr,
        checkpoint=checkpoint,
        current=current,
        prepared=prepared,
        after_release=_worked_after_release(run, sr),
    )
    result = QCResult(
        stage_run=sr,
        checkpoint=checkpoint,
        **prepared.fields(),
        spec_snapshot=_spec_snapshot(checkpoint, run),
        raw_file=raw_file,
        idempotency_key=key,
        supersedes=superseded,
        reason=reason,
        comment=comment,
        passage=run.passage,
        **_recorder_fields(actor),
    )
    try:
        with transaction.atomic():
            result.save()
    except IntegrityError:
        raise _idempotency_mismatch(key) from None
    changes = [
        run_audit_change(
            "qc_result.record",
            result,
            run,
            result_state(superseded) if superseded else None,
            result_state(result),
            reason,
        )
    ]
    changes += _after_record(
        actor=actor,
        run=run,
        stage_run=sr,
        checkpoint=checkpoint,
        result=result,
        superseded=superseded,
    )
    audit_record_many(actor=actor, changes=changes)
    return result


@transaction.atomic
def qc_result_correct(
    *,
    result: QCResult,
    value,
    unit: str | None,
    measured_at: datetime,
    reason: str,
    actor,
    state: str | None = None,
) -> QCResult:
    """Correct the current result: a new result supersedes it, with a reason (people only)."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(
            "a correction needs a reason", fields={"reason": ["this field is required"]}
        )
    if isinstance(actor, Instrument):
        raise NotPermitted("instruments cannot correct results; a person must")
    old = QCResult.objects.select_related("checkpoint").get(pk=result.pk)
    sr = lock_stage_run(old.stage_run_id)
    run = sr.run
    checkpoint = old.checkpoint
    require_role(actor, run.lab_id, CAN_WORK, "correct QC results")
    if QCResult.objects.filter(supersedes_id=old.pk).exists():
        raise Conflict(
            f"this result of '{checkpoint.name}' was already superseded; correct the current one",
            code="not_current",
        )
    if run.is_closed and not _worked_after_release(run, sr):
        raise InvalidTransition(
            f"run {run.code} is {run.status}; results can no longer be corrected"
        )
    if sr.status not in (*WORKING_STAGE_STATUSES, StageStatus.COMPLETED):
        raise InvalidTransition(
            f"stage '{sr.stage.name}' is {sr.status}; its results cannot be corrected"
        )
    prepared = _prepare(
        checkpoint=checkpoint,
        value=value,
        unit=unit,
        measured_at=measured_at,
        state=state,
        now=timezone.now(),
    )
    new = QCResult(
        stage_run=sr,
        checkpoint=checkpoint,
        **prepared.fields(),
        spec_snapshot=_spec_snapshot(checkpoint, run),
        raw_file=old.raw_file,
        supersedes=old,
        reason=reason,
        comment=old.comment,
        passage=run.passage,
        **_recorder_fields(actor),
    )
    new.save()
    changes = [
        run_audit_change(
            "qc_result.correct", new, run, result_state(old), result_state(new), reason
        )
    ]
    changes += _after_record(
        actor=actor, run=run, stage_run=sr, checkpoint=checkpoint, result=new, superseded=old
    )
    audit_record_many(actor=actor, changes=changes)
    return new


_ROW_FIELDS = (
    "stage_run",
    "checkpoint",
    "value",
    "unit",
    "measured_at",
    "comment",
    "idempotency_key",
    "state",
)


@transaction.atomic
def qc_results_record_bulk(*, rows: list[dict], actor) -> list[QCResult]:
    """Record up to 5,000 results at once, all or nothing.

    Every row is checked first; if any is bad nothing is written and RowErrors lists each
    problem as {index, field, message}. Rows are written with one bulk insert (and one bulk
    audit insert). Each row: stage_run (id), checkpoint (id), value, unit, measured_at, and
    optionally comment, idempotency_key, state. Returns the results in row order (a replayed
    idempotency key returns the existing result).
    """
    if not isinstance(rows, list | tuple):
        raise ValidationFailed("rows must be a list")
    if len(rows) > BULK_MAX_ROWS:
        raise ValidationFailed(f"at most {BULK_MAX_ROWS} rows per request, got {len(rows)}")
    if not rows:
        return []
    errors: list[dict] = []

    def fail(index: int, field: str, message: str) -> None:
        errors.append({"index": index, "field": field, "message": message})

    stage_run_ids: set[int] = set()
    checkpoint_ids: set[int] = set()
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            fail(i, "", "each row must be an object")
            continue
        for name in row.keys() - set(_ROW_FIELDS):
            fail(i, name, "unknown field")
        for name, ids in (("stage_run", stage_run_ids), ("checkpoint", checkpoint_ids)):
            ref = row.get(name)
            if isinstance(ref, int) and not isinstance(ref, bool):
                ids.add(ref)
            else:
                fail(i, name, "an id is required")

    run_ids = set(StageRun.objects.filter(pk__in=stage_run_ids).values_list("run_id", flat=True))
    runs = lock_runs(run_ids)
    stage_runs = {
        sr.pk: sr for sr in StageRun.objects.filter(pk__in=stage_run_ids).select_related("stage")
    }
    for sr in stage_runs.values():
        sr.run = runs[sr.run_id]
    protocols = {r.protocol_id for r in runs.values()}
    post_release = post_release_stage_ids_many(
        {r.protocol_id for r in runs.values() if r.status == RunStatus.RELEASED}
    )
    checkpoints = CheckpointTemplate.objects.in_bulk(list(checkpoint_ids))
    if protocols:
        from protocol_tracker.protocols.models import ProtocolTemplate

        versions = dict(
            ProtocolTemplate.objects.filter(pk__in=protocols).values_list("pk", "version")
        )
    else:
        versions = {}
    allowed_labs = {
        lab_id
        for lab_id in {r.lab_id for r in runs.values()}
        if (
            actor.lab_id == lab_id and actor.is_active
            if isinstance(actor, Instrument)
            else has_role(actor, lab_id, CAN_WORK)
        )
    }
    pairs = {(row.get("stage_run"), row.get("checkpoint")) for row in rows if isinstance(row, dict)}
    current: dict[tuple[int, int], QCResult] = {}
    for result in QCResult.objects.filter(
        stage_run_id__in=stage_run_ids,
        checkpoint_id__in=checkpoint_ids,
        superseded_by__isnull=True,
    ):
        if (result.stage_run_id, result.checkpoint_id) in pairs:
            current[(result.stage_run_id, result.checkpoint_id)] = result
    keys = [row.get("idempotency_key") for row in rows if isinstance(row, dict)]
    keys = [k.strip() for k in keys if isinstance(k, str) and k.strip()]
    field = "recorded_by_instrument" if isinstance(actor, Instrument) else "recorded_by"
    replays = (
        {
            r.idempotency_key: r
            for r in QCResult.objects.filter(**{field: actor, "idempotency_key__in": keys})
        }
        if keys
        else {}
    )

    now = timezone.now()
    instrument = actor if isinstance(actor, Instrument) else None
    recorded_by = None if instrument is not None else actor.pk
    recorded_by_instrument = instrument.pk if instrument is not None else None
    # (index, existing result replayed, or the new result's values and related objects)
    planned: list[tuple[int, QCResult | None, dict | None, tuple]] = []
    seen_pairs: dict[tuple[int, int], int] = {}
    seen_keys: dict[str, int] = {}
    # Per checkpoint, worked out once: its judge and its spec snapshot (per protocol version).
    judges: dict[int, CheckpointJudge] = {}
    snapshots: dict[tuple[int, int], dict] = {}
    recorders: set[tuple[int, int]] = set()  # (lab, checkpoint) the actor may record
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            continue
        sr = stage_runs.get(row.get("stage_run"))
        checkpoint = checkpoints.get(row.get("checkpoint"))
        run = sr.run if sr is not None else None
        if run is None or run.lab_id not in allowed_labs:
            fail(i, "stage_run", "not found")
            continue
        if checkpoint is None or checkpoint.stage_id != sr.stage_id:
            fail(i, "checkpoint", "not a checkpoint of this stage")
            continue
        judge = judges.get(checkpoint.pk)
        if judge is None:
            judge = judges[checkpoint.pk] = CheckpointJudge(checkpoint)
        try:
            if (run.lab_id, checkpoint.pk) not in recorders:
                _check_recorder(actor, run.lab_id, checkpoint)
                recorders.add((run.lab_id, checkpoint.pk))
            prepared = _prepare(
                checkpoint=checkpoint,
                value=row.get("value"),
                unit=row.get("unit"),
                measured_at=row.get("measured_at"),
                state=row.get("state"),
                now=now,
                judge=judge,
            )
        except NotPermitted as exc:
            fail(i, "checkpoint", exc.message)
            continue
        except ValidationFailed as exc:
            for name, messages in exc.fields.items():
                for message in messages:
                    fail(i, name, message)
            continue
        comment = row.get("comment") or ""
        key = row.get("idempotency_key") or ""
        if not isinstance(comment, str) or not isinstance(key, str) or len(key.strip()) > 128:
            fail(
                i,
                "comment" if not isinstance(comment, str) else "idempotency_key",
                "must be text (an idempotency key has at most 128 characters)",
            )
            continue
        comment, key = comment.strip(), key.strip()
        if key:
            if key in seen_keys:
                fail(i, "idempotency_key", f"repeats row {seen_keys[key]}")
                continue
            seen_keys[key] = i
            existing = replays.get(key)
            if existing is not None:
                if _same_payload(
                    existing,
                    stage_run_id=sr.pk,
                    checkpoint_id=checkpoint.pk,
                    prepared=prepared,
                    comment=comment,
                    raw_file_id=None,
                ):
                    planned.append((i, existing, None, ()))
                else:
                    fail(i, "idempotency_key", "already used for a different result")
                continue
        pair = (sr.pk, checkpoint.pk)
        if pair in seen_pairs:
            fail(i, "checkpoint", f"row {seen_pairs[pair]} records the same checkpoint")
            continue
        seen_pairs[pair] = i
        try:
            superseded, reason = _placement(
                run=run,
                stage_run=sr,
                checkpoint=checkpoint,
                current=current.get(pair),
                prepared=prepared,
                after_release=(
                    run.status == RunStatus.RELEASED
                    and sr.stage_id in post_release.get(run.protocol_id, ())
                ),
            )
        except (InvalidTransition, ValidationFailed) as exc:
            fail(i, "checkpoint", exc.message)
            continue
        snapshot = snapshots.get((checkpoint.pk, run.protocol_id))
        if snapshot is None:
            snapshot = snapshots[(checkpoint.pk, run.protocol_id)] = {
                "spec": checkpoint.spec,
                "unit": checkpoint.unit,
                "value_type": checkpoint.value_type,
                "blocking": checkpoint.blocking,
                "protocol_id": run.protocol_id,
                "protocol_version": versions[run.protocol_id],
                "checkpoint_key": checkpoint.key,
                "source": checkpoint.source,
            }
        values = {
            "id": None,
            "stage_run_id": sr.pk,
            "checkpoint_id": checkpoint.pk,
            "value_number": prepared.value_number,
            "value_bool": prepared.value_bool,
            "value_text": prepared.value_text,
            "unit": prepared.unit,
            "value_in_spec_unit": prepared.value_in_spec_unit,
            "spec_snapshot": dict(snapshot),  # each result its own dict
            "verdict": prepared.verdict,
            "recorded_by_id": recorded_by,
            "recorded_by_instrument_id": recorded_by_instrument,
            "measured_at": prepared.measured_at,
            "recorded_at": None,
            "raw_file_id": None,
            "idempotency_key": key,
            "supersedes_id": superseded.pk if superseded is not None else None,
            "reason": reason,
            "comment": comment,
            "passage": run.passage,
        }
        planned.append((i, None, values, (sr, checkpoint, superseded)))
    if errors:
        errors.sort(key=lambda e: e["index"])
        raise RowErrors(
            f"{len({e['index'] for e in errors})} of {len(rows)} rows are invalid; "
            f"nothing was recorded",
            rows=errors,
        )

    # Built without Model.__init__ (see audit.services.instance_builder), their related
    # objects cached: everything was loaded and checked above.
    build = instance_builder(QCResult)
    fresh: list[QCResult] = []
    for _i, existing, values, related in planned:
        if existing is None:
            sr, checkpoint, superseded = related
            result = build(values)
            result._state.fields_cache.update(
                stage_run=sr,
                checkpoint=checkpoint,
                supersedes=superseded,
                recorded_by=None if instrument is not None else actor,
                recorded_by_instrument=instrument,
            )
            fresh.append(result)
    try:
        with transaction.atomic():
            _insert_results(fresh)
    except IntegrityError:
        raise Conflict(
            "another request recorded some of these results at the same time; nothing was recorded",
            code="conflict",
        ) from None
    changes: list[Change] = []
    for result in fresh:
        related = result._state.fields_cache
        sr, superseded = related["stage_run"], related["supersedes"]
        run = sr.run
        changes.append(
            run_audit_change(
                "qc_result.record",
                result,
                run,
                result_state(superseded) if superseded is not None else None,
                result_state(result),
                result.reason,
            )
        )
        if result.verdict == Verdict.FAIL or run.status == RunStatus.RELEASED:
            changes += _after_record(
                actor=actor,
                run=run,
                stage_run=sr,
                checkpoint=related["checkpoint"],
                result=result,
                superseded=superseded,
            )
    audit_record_many(actor=actor, changes=changes)
    fresh_iter = iter(fresh)
    return [existing if existing is not None else next(fresh_iter) for _, existing, *_ in planned]


_RESULT_COLUMNS = tuple(f.attname for f in QCResult._meta.concrete_fields)


def _insert_results(results: list[QCResult]) -> None:
    """Insert new results in one go: ``COPY`` on PostgreSQL (ids drawn from the table's sequence
    first), ``bulk_create`` elsewhere. Either way the instances come back saved, with their pk.

    ``COPY`` is several times faster than a multi-row INSERT here: the JSON spec snapshot makes
    each row long, and client-side parameter quoting of long strings dominates an INSERT. The
    snapshot's JSON text is the same for every result of one checkpoint: it is encoded once.
    """
    if not results:
        return
    if connection.vendor != "postgresql":
        QCResult.objects.bulk_create(results, batch_size=1000)
        return
    import psycopg

    table = QCResult._meta.db_table
    now = timezone.now()
    snapshot_at = _RESULT_COLUMNS.index("spec_snapshot")
    texts: dict[tuple[int, object], str] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [table, len(results)],
        )
        ids = [row[0] for row in cursor.fetchall()]
        sql = f"COPY {table} ({', '.join(_RESULT_COLUMNS)}) FROM STDIN"
        try:
            with cursor.cursor.copy(sql) as copy:
                for result, pk in zip(results, ids, strict=True):
                    result.pk = pk
                    result.recorded_at = now
                    data = result.__dict__  # every column is there (see the builder)
                    row = [data[name] for name in _RESULT_COLUMNS]
                    key = (result.checkpoint_id, result.spec_snapshot.get("protocol_id"))
                    text = texts.get(key)
                    if text is None:
                        text = texts[key] = json.dumps(result.spec_snapshot, cls=DjangoJSONEncoder)
                    row[snapshot_at] = text
                    copy.write_row(row)
        except psycopg.errors.IntegrityError as exc:
            raise IntegrityError(str(exc)) from exc
    alias = connection.alias
    for result in results:
        result._state.adding = False
        result._state.db = alias


# --- raw files ------------------------------------------------------------------------------


_KIND_BY_SUFFIX = {".fcs": RawFileKind.FCS, ".csv": RawFileKind.CSV}


@transaction.atomic
def raw_file_store(
    *, lab: Lab, data: bytes, filename: str, content_type: str = "", actor
) -> RawFile:
    """Keep an instrument file as it came, with its SHA-256; the same bytes are stored once."""
    if isinstance(actor, Instrument):
        if actor.lab_id != lab.pk or not actor.is_active:
            raise NotPermitted(f"instrument {actor.name} may not upload files in this lab")
    else:
        require_role(actor, lab, CAN_WORK, "upload raw files")
    if not isinstance(data, bytes | bytearray) or not data:
        raise ValidationFailed("the file is empty", fields={"file": ["the file is empty"]})
    name = PurePosixPath((filename or "").replace("\\", "/")).name.strip()[:255]
    if not name:
        raise ValidationFailed("a file name is required", fields={"filename": ["required"]})
    digest = hashlib.sha256(data).hexdigest()
    existing = RawFile.objects.filter(lab=lab, sha256=digest).first()
    if existing is not None:
        return existing
    raw = RawFile(
        lab=lab,
        kind=_KIND_BY_SUFFIX.get(PurePosixPath(name).suffix.lower(), RawFileKind.OTHER),
        filename=name,
        content_type=(content_type or "")[:100],
        size_bytes=len(data),
        sha256=digest,
        uploaded_by=None if isinstance(actor, Instrument) else actor,
        uploaded_by_instrument=actor if isinstance(actor, Instrument) else None,
    )
    raw.file.save(name, ContentFile(bytes(data)), save=False)
    try:
        with transaction.atomic():
            raw.save()
    except IntegrityError:
        raw.file.delete(save=False)
        return RawFile.objects.get(lab=lab, sha256=digest)
    audit_record(
        actor=actor,
        action="raw_file.store",
        obj=raw,
        lab_id=lab.pk,
        after={"filename": name, "kind": raw.kind, "sha256": digest, "size_bytes": raw.size_bytes},
    )
    return raw


# --- deviations -----------------------------------------------------------------------------


def deviation_state(deviation: Deviation) -> dict:
    return {
        "kind": deviation.kind,
        "severity": deviation.severity,
        "status": deviation.status,
        "title": deviation.title,
        "stage_run": deviation.stage_run_id,
        "qc_result": deviation.qc_result_id,
        "phase1_findings": deviation.phase1_findings,
        "phase2_findings": deviation.phase2_findings,
        "root_cause": deviation.root_cause,
        "disposition": deviation.disposition,
        "justification": deviation.justification,
        "closed_by": deviation.closed_by_id,
        "closed_at": deviation.closed_at,
    }


def deviation_create_system(
    *,
    run: Run,
    kind: str,
    title: str,
    actor,
    stage_run: StageRun | None = None,
    qc_result: QCResult | None = None,
    severity: str = DeviationSeverity.MAJOR,
    description: str = "",
) -> Deviation:
    """Open a deviation the engine raised itself (no role check; the caller was checked)."""
    deviation = Deviation.objects.create(
        lab_id=run.lab_id,
        run=run,
        stage_run=stage_run,
        qc_result=qc_result,
        kind=kind,
        severity=severity,
        title=title[:300],
        description=description,
        opened_by=None if isinstance(actor, Instrument) or actor is None else actor,
    )
    audit_record(
        actor=actor,
        action="deviation.open",
        obj=deviation,
        after=deviation_state(deviation),
        run_id=run.pk,
        lab_id=run.lab_id,
    )
    _emit_deviation_opened(deviation.pk)
    return deviation


@transaction.atomic
def deviation_open(
    *,
    run: Run,
    kind: str,
    title: str,
    actor,
    stage_run: StageRun | None = None,
    qc_result: QCResult | None = None,
    severity: str = DeviationSeverity.MAJOR,
    description: str = "",
) -> Deviation:
    """Report a deviation by hand (anyone who works in the lab)."""
    run = lock_run(run.pk)
    require_role(actor, run.lab_id, CAN_WORK, "report deviations")
    errors: dict[str, list[str]] = {}
    if kind not in DeviationKind.values:
        errors["kind"] = [f"one of {DeviationKind.values}"]
    if severity not in DeviationSeverity.values:
        errors["severity"] = [f"one of {DeviationSeverity.values}"]
    if not (title or "").strip():
        errors["title"] = ["this field is required"]
    if stage_run is not None and stage_run.run_id != run.pk:
        errors["stage_run"] = ["not a stage of this run"]
    if qc_result is not None:
        result_run = (
            StageRun.objects.filter(pk=qc_result.stage_run_id)
            .values_list("run_id", flat=True)
            .first()
        )
        if result_run != run.pk:
            errors["qc_result"] = ["not a result of this run"]
    if errors:
        raise ValidationFailed("the deviation report is incomplete", fields=errors)
    return deviation_create_system(
        run=run,
        kind=kind,
        title=title.strip(),
        actor=actor,
        stage_run=stage_run,
        qc_result=qc_result,
        severity=severity,
        description=(description or "").strip(),
    )


_PHASES = {
    "phase1": (DeviationStatus.PHASE1, "phase1_findings"),
    "phase2": (DeviationStatus.PHASE2, "phase2_findings"),
    "conclusion": (DeviationStatus.AWAITING_DISPOSITION, "root_cause"),
}


@transaction.atomic
def deviation_investigate(*, deviation: Deviation, phase: str, findings: str, actor) -> Deviation:
    """Record an investigation step: "phase1" (laboratory), "phase2" (full-scale, optional),
    or "conclusion" (root cause; the deviation then awaits its disposition)."""
    if phase not in _PHASES:
        raise ValidationFailed(
            f"phase must be one of {list(_PHASES)}", fields={"phase": [f"one of {list(_PHASES)}"]}
        )
    findings = (findings or "").strip()
    if not findings:
        raise ValidationFailed("findings are required", fields={"findings": ["required"]})
    dev = lock_deviation(deviation.pk, run_id=deviation.run_id)
    require_role(actor, dev.lab_id, CAN_WORK, "investigate deviations")
    status, field = _PHASES[phase]
    if not dev.can_transition_to(status):
        raise InvalidTransition(
            f"deviation DEV-{dev.pk} is {dev.status}; it cannot move to {status}"
        )
    before = deviation_state(dev)
    dev.status = status
    setattr(dev, field, findings)
    dev.save(update_fields=["status", field])
    audit_record(
        actor=actor,
        action=f"deviation.{phase}",
        obj=dev,
        before=before,
        after=deviation_state(dev),
        run_id=dev.run_id,
        lab_id=dev.lab_id,
    )
    return dev


_DISPOSITION_MEANING = {
    Disposition.ACCEPT: SignatureMeaning.APPROVED,
    Disposition.RETEST: SignatureMeaning.REVIEWED,
    Disposition.REJECT: SignatureMeaning.REJECTED,
}


@transaction.atomic
def deviation_disposition(
    *, deviation: Deviation, decision: str, justification: str, password: str, actor
) -> Deviation:
    """A reviewer's signed decision that closes a deviation.

    accept: the result it is about counts as covered, so the stage may complete; retest: a new
    (superseding) result is required; reject: the stage fails and the run is rejected.
    """
    if decision not in _DISPOSITION_MEANING:
        raise ValidationFailed(
            f"decision must be one of {Disposition.values}",
            fields={"decision": [f"one of {Disposition.values}"]},
        )
    justification = (justification or "").strip()
    if not justification:
        raise ValidationFailed(
            "a disposition needs a justification",
            fields={"justification": ["this field is required"]},
        )
    dev = lock_deviation(deviation.pk, run_id=deviation.run_id)
    run = dev.run
    require_role(actor, dev.lab_id, CAN_REVIEW, "dispose of deviations")
    if not dev.is_open:
        raise InvalidTransition(f"deviation DEV-{dev.pk} is closed")
    if (
        dev.kind in (DeviationKind.OUT_OF_SPEC, DeviationKind.LATE_RESULT)
        and dev.status == DeviationStatus.OPEN
    ):
        raise InvalidTransition(
            f"deviation DEV-{dev.pk} needs a phase I laboratory investigation before its "
            f"disposition (FDA OOS guidance)"
        )
    if dev.qc_result is not None and dev.qc_result.recorded_by_id == actor.pk:
        raise SignatureRefused(
            "four eyes: you recorded the result this deviation is about; another reviewer must sign"
        )
    if dev.stage_run is not None and dev.stage_run.completed_by_id == actor.pk:
        raise SignatureRefused(
            "four eyes: you completed the stage this deviation is about; another reviewer must sign"
        )
    before = deviation_state(dev)
    dev.status = DeviationStatus.CLOSED
    dev.disposition = decision
    dev.justification = justification
    dev.closed_by = actor
    dev.closed_at = timezone.now()
    dev.save(update_fields=["status", "disposition", "justification", "closed_by", "closed_at"])
    changes = [
        run_audit_change(
            "deviation.disposition", dev, run, before, deviation_state(dev), justification
        )
    ]
    if decision == Disposition.REJECT:
        changes += _reject_run(run, stage_run=dev.stage_run, reason=justification)
    audit_record_many(actor=actor, changes=changes)
    signature_sign(
        signer=actor,
        password=password,
        meaning=_DISPOSITION_MEANING[decision],
        obj=dev,
        run=run,
        statement=f"{decision} deviation DEV-{dev.pk} ({dev.title}): {justification}",
    )
    return dev


def _reject_run(run: Run, *, stage_run: StageRun | None, reason: str) -> list[Change]:
    changes: list[Change] = []
    if stage_run is not None:
        stage_run = StageRun.objects.get(pk=stage_run.pk)
        if stage_run.status in WORKING_STAGE_STATUSES:
            before = {"status": stage_run.status}
            stage_run.status = StageStatus.FAILED
            stage_run.save(update_fields=["status"])
            changes.append(
                run_audit_change(
                    "stage_run.fail", stage_run, run, before, {"status": stage_run.status}, reason
                )
            )
    if run.can_transition_to(RunStatus.REJECTED):
        before = run_state(run)
        run.status = RunStatus.REJECTED
        run.closed_at = timezone.now()
        run.save(update_fields=["status", "closed_at"])
        changes.append(run_audit_change("run.reject", run, run, before, run_state(run), reason))
        changes += close_open_work(run, reason=reason)
    elif not run.flagged:
        before = run_state(run)
        run.flagged = True
        run.flag_reason = f"{run.flag_reason}\nrejected after {run.status}: {reason}".strip()
        run.save(update_fields=["flagged", "flag_reason"])
        changes.append(run_audit_change("run.flag", run, run, before, run_state(run), reason))
    return changes


# --- signatures -----------------------------------------------------------------------------


def _lab_id_of(obj: models.Model) -> int:
    value = obj
    for part in type(obj).lab_field.split("__"):
        value = getattr(value, part)
    return value if isinstance(value, int) else value.pk


def _jsonable(value):
    if isinstance(value, models.fields.files.FieldFile):
        return value.name
    return value


def record_state(obj: models.Model) -> dict:
    """The signed content: every column of the record (and, for a run, its batch record)."""
    state = {
        "type": obj._meta.label_lower,
        "record": {
            f.attname: _jsonable(getattr(obj, f.attname)) for f in obj._meta.concrete_fields
        },
    }
    if isinstance(obj, Run):
        state["stage_runs"] = list(
            StageRun.objects.filter(run=obj)
            .order_by("pk")
            .values("id", "status", "completed_at", "completed_by_id")
        )
        state["results"] = list(
            QCResult.objects.filter(stage_run__run=obj)
            .order_by("pk")
            .values(
                "id",
                "checkpoint_id",
                "verdict",
                "value_number",
                "value_bool",
                "value_text",
                "unit",
                "supersedes_id",
            )
        )
        state["deviations"] = list(
            Deviation.objects.filter(run=obj).order_by("pk").values("id", "status", "disposition")
        )
    return state


def record_hash(obj: models.Model) -> str:
    raw = json.dumps(
        record_state(obj), cls=DjangoJSONEncoder, sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def signature_sign(
    *,
    signer,
    password: str,
    meaning: str,
    obj: models.Model,
    statement: str,
    run: Run | None = None,
) -> Signature:
    """Sign ``obj`` as it stands now (21 CFR 11.50/11.70): re-authenticates with the password.

    Four-eyes rules belong to the callers, which know whose work is being signed.
    """
    if meaning not in SignatureMeaning.values:
        raise ValidationFailed(
            f"meaning must be one of {SignatureMeaning.values}",
            fields={"meaning": [f"one of {SignatureMeaning.values}"]},
        )
    statement = (statement or "").strip()
    if not statement:
        raise ValidationFailed("a signature needs a statement", fields={"statement": ["required"]})
    lab_id = _lab_id_of(obj)
    require_role(signer, lab_id, CAN_REVIEW, "sign records")
    if not password or not signer.check_password(password):
        raise SignatureRefused(
            "password did not match; nothing was signed", code="signature_refused"
        )
    signature = Signature.objects.create(
        lab_id=lab_id,
        signer=signer,
        signer_name=(signer.get_full_name() or signer.get_username())[:200],
        meaning=meaning,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        run=run,
        record_hash=record_hash(obj),
        statement=statement,
    )
    audit_record(
        actor=signer,
        action="signature.sign",
        obj=signature,
        run_id=run.pk if run else None,
        lab_id=lab_id,
        after={
            "meaning": meaning,
            "object_type": signature.object_type,
            "object_id": signature.object_id,
            "record_hash": signature.record_hash,
            "statement": statement,
            "signer_name": signature.signer_name,
        },
    )
    return signature


# --- release and rejection ------------------------------------------------------------------


@transaction.atomic
def run_release(*, run: Run, actor, password: str, pending_tests: Sequence[str] = ()) -> Run:
    """Release a completed run with a signature (reviewer; four eyes).

    Only the manufacturing stages count (the run is ``completed`` when they are done); the
    post-release stages (transplant, follow-up) whose dependencies are done become ready and are
    re-planned from the release time. Every blocking checkpoint must have passed or be covered
    by an accepted disposition, except the ``pending_tests`` (checkpoint keys), which must be
    ``pending_allowed`` and pending now: that is a conditional release (EU GMP Part IV). No
    deviation may be open.
    """
    run = lock_run(run.pk)
    require_role(actor, run.lab_id, CAN_REVIEW, "release runs")
    if run.status != RunStatus.COMPLETED:
        raise InvalidTransition(
            f"run {run.code} is {run.status}; only a completed run can be released"
        )
    pending_tests = list(dict.fromkeys(k.strip() for k in pending_tests))
    check = run_release_check(run)
    problems = []
    for key in pending_tests:
        checkpoint = check.pending.get(key)
        if checkpoint is None:
            problems.append(f"'{key}' is not a pending test of this run")
        elif not checkpoint.pending_allowed:
            problems.append(f"'{checkpoint.name}' may not be pending at release")
    if problems:
        raise ValidationFailed("; ".join(problems), fields={"pending_tests": problems})
    by_id = {sr.pk: sr for sr in check.stage_runs}
    for sr_id, gaps in check.gaps.items():
        gaps.pending = [c for c in gaps.pending if c.key not in pending_tests]
        if gaps:
            problems.append(f"stage '{by_id[sr_id].stage.name}': {gaps.describe()}")
    if problems:
        raise InvalidTransition(f"run {run.code} cannot be released: " + "; ".join(problems))
    open_deviations = list(
        Deviation.objects.filter(run=run)
        .exclude(status=DeviationStatus.CLOSED)
        .values_list("pk", flat=True)
    )
    if open_deviations:
        raise InvalidTransition(
            f"run {run.code} cannot be released: open deviations "
            + ", ".join(f"DEV-{pk}" for pk in open_deviations)
        )
    if (
        QCResult.objects.filter(stage_run__run=run, recorded_by=actor).exists()
        or StageRun.objects.filter(run=run, completed_by=actor).exists()
    ):
        raise SignatureRefused(
            "four eyes: you recorded results or completed stages of this "
            "run; another reviewer must release it"
        )
    before = run_state(run)
    run.status = RunStatus.RELEASED
    run.closed_at = timezone.now()
    run.conditional_release = bool(pending_tests)
    run.pending_tests = pending_tests
    run.save(update_fields=["status", "closed_at", "conditional_release", "pending_tests"])
    audit_record_many(
        actor=actor, changes=[run_audit_change("run.release", run, run, before, run_state(run))]
    )
    statement = f"released run {run.code}"
    if pending_tests:
        statement += " conditionally, pending " + ", ".join(pending_tests)
    signature_sign(
        signer=actor,
        password=password,
        meaning=SignatureMeaning.RELEASED,
        obj=run,
        run=run,
        statement=statement,
    )
    # The signature binds the lot as released; only then may its post-release work begin.
    audit_record_many(actor=actor, changes=open_post_release_work(run))
    _emit_run_released(run.pk)
    return run


@transaction.atomic
def run_reject(*, run: Run, actor, password: str, reason: str) -> Run:
    """Reject a run with a signature (reviewer): its open work is closed."""
    run = lock_run(run.pk)
    require_role(actor, run.lab_id, CAN_REVIEW, "reject runs")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("a rejection needs a reason", fields={"reason": ["required"]})
    if not run.can_transition_to(RunStatus.REJECTED):
        raise InvalidTransition(f"run {run.code} is {run.status}; it cannot be rejected")
    changes = _reject_run(run, stage_run=None, reason=reason)
    audit_record_many(actor=actor, changes=changes)
    signature_sign(
        signer=actor,
        password=password,
        meaning=SignatureMeaning.REJECTED,
        obj=run,
        run=run,
        statement=f"rejected run {run.code}: {reason}",
    )
    return run


__all__ = [
    "deviation_create_system",
    "deviation_disposition",
    "deviation_investigate",
    "deviation_open",
    "qc_result_correct",
    "qc_result_record",
    "qc_results_record_bulk",
    "raw_file_store",
    "record_hash",
    "run_reject",
    "run_release",
    "signature_sign",
]
