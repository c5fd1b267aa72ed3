"""Recording many results at once (instrument bulk posts, CSV exports): all or nothing.

Three steps, so that the number of queries does not grow with the rows: every referenced row is
loaded and locked once (:class:`_Batch`), each row is checked and planned in memory
(:meth:`_Batch.plan`), then the new results and their audit events are written in one go
(``COPY`` on PostgreSQL). A row that fails any check fails the whole request: nothing is written
and :class:`RowErrors` lists each problem as {index, field, message}.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

import psycopg
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from labs.models import CAN_WORK, Instrument
from labs.selectors import has_role
from protocol_tracker.audit.services import Change, audit_record_many, instance_builder
from protocol_tracker.core.actors import Actor
from protocol_tracker.core.errors import (
    Conflict,
    InvalidTransition,
    NotPermitted,
    RowErrors,
    ValidationFailed,
)
from protocol_tracker.protocols.models import CheckpointTemplate, ProtocolTemplate
from protocol_tracker.qc.models import QCResult, Verdict
from protocol_tracker.qc.services.consequences import result_consequences
from protocol_tracker.qc.services.preparing import (
    check_recorder,
    result_placement,
    result_prepare,
    result_state,
    same_payload,
)
from protocol_tracker.runs.locks import lock_runs
from protocol_tracker.runs.models import RunStatus, StageRun
from protocol_tracker.runs.selectors import post_release_stage_ids_many
from protocol_tracker.runs.services import run_audit_change
from protocol_tracker.specs.judge import CheckpointJudge

BULK_MAX_ROWS = 5000
_ROW_FIELDS = frozenset(
    {
        "stage_run",
        "checkpoint",
        "value",
        "unit",
        "measured_at",
        "comment",
        "idempotency_key",
        "state",
    }
)


class _RowError(Exception):
    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message


@dataclass
class _Batch:
    """Everything the rows refer to, loaded (and the runs locked) once."""

    actor: Actor
    stage_runs: dict[int, StageRun]
    checkpoints: dict[int, CheckpointTemplate]
    versions: dict[int, int]
    allowed_labs: set[int]
    post_release: dict[int, frozenset[int]]
    current: dict[tuple[int, int], QCResult]
    replays: dict[str, QCResult]
    now: datetime = field(default_factory=timezone.now)
    # Worked out once per checkpoint: its judge and its spec snapshot (per protocol version).
    judges: dict[int, CheckpointJudge] = field(default_factory=dict)
    snapshots: dict[tuple[int, int], dict] = field(default_factory=dict)
    recorders: set[tuple[int, int]] = field(default_factory=set)  # (lab, checkpoint) allowed
    seen_pairs: dict[tuple[int, int], int] = field(default_factory=dict)
    seen_keys: dict[str, int] = field(default_factory=dict)

    @classmethod
    def load(cls, rows: list, actor: Actor, stage_run_ids: set[int], checkpoint_ids: set[int]):
        run_ids = set(
            StageRun.objects.filter(pk__in=stage_run_ids).values_list("run_id", flat=True)
        )
        runs = lock_runs(run_ids)
        stage_runs = {
            sr.pk: sr
            for sr in StageRun.objects.filter(pk__in=stage_run_ids).select_related("stage")
        }
        for sr in stage_runs.values():
            sr.run = runs[sr.run_id]
        protocols = {r.protocol_id for r in runs.values()}
        versions = (
            dict(ProtocolTemplate.objects.filter(pk__in=protocols).values_list("pk", "version"))
            if protocols
            else {}
        )
        allowed_labs = {
            lab_id
            for lab_id in {r.lab_id for r in runs.values()}
            if (
                actor.lab_id == lab_id and actor.is_active
                if isinstance(actor, Instrument)
                else has_role(actor, lab_id, CAN_WORK)
            )
        }
        pairs = {(r.get("stage_run"), r.get("checkpoint")) for r in rows if isinstance(r, dict)}
        current = {}
        for result in QCResult.objects.filter(
            stage_run_id__in=stage_run_ids,
            checkpoint_id__in=checkpoint_ids,
            superseded_by__isnull=True,
        ):
            if (result.stage_run_id, result.checkpoint_id) in pairs:
                current[(result.stage_run_id, result.checkpoint_id)] = result
        keys = [r.get("idempotency_key") for r in rows if isinstance(r, dict)]
        keys = [k.strip() for k in keys if isinstance(k, str) and k.strip()]
        by = "recorded_by_instrument" if isinstance(actor, Instrument) else "recorded_by"
        replays = (
            {
                r.idempotency_key: r
                for r in QCResult.objects.filter(**{by: actor, "idempotency_key__in": keys})
            }
            if keys
            else {}
        )
        return cls(
            actor=actor,
            stage_runs=stage_runs,
            checkpoints=CheckpointTemplate.objects.in_bulk(list(checkpoint_ids)),
            versions=versions,
            allowed_labs=allowed_labs,
            post_release=post_release_stage_ids_many(
                {r.protocol_id for r in runs.values() if r.status == RunStatus.RELEASED}
            ),
            current=current,
            replays=replays,
        )

    def _snapshot(self, checkpoint: CheckpointTemplate, protocol_id: int) -> dict:
        snapshot = self.snapshots.get((checkpoint.pk, protocol_id))
        if snapshot is None:
            snapshot = self.snapshots[(checkpoint.pk, protocol_id)] = {
                "spec": checkpoint.spec,
                "unit": checkpoint.unit,
                "value_type": checkpoint.value_type,
                "blocking": checkpoint.blocking,
                "protocol_id": protocol_id,
                "protocol_version": self.versions[protocol_id],
                "checkpoint_key": checkpoint.key,
                "source": checkpoint.source,
            }
        return snapshot

    def plan(self, index: int, row: dict) -> QCResult | tuple[dict, tuple]:
        """Check one row: the replayed result, or the new result's values and related objects.
        Raises _RowError (one problem) or ValidationFailed (per-field problems)."""
        sr_id, checkpoint_id = row.get("stage_run"), row.get("checkpoint")
        sr = self.stage_runs.get(sr_id) if isinstance(sr_id, int) else None
        checkpoint = self.checkpoints.get(checkpoint_id) if isinstance(checkpoint_id, int) else None
        if sr is None or sr.run.lab_id not in self.allowed_labs:
            raise _RowError("stage_run", "not found")
        run = sr.run
        if checkpoint is None or checkpoint.stage_id != sr.stage_id:
            raise _RowError("checkpoint", "not a checkpoint of this stage")
        judge = self.judges.get(checkpoint.pk)
        if judge is None:
            judge = self.judges[checkpoint.pk] = CheckpointJudge(checkpoint)
        try:
            if (run.lab_id, checkpoint.pk) not in self.recorders:
                check_recorder(self.actor, run.lab_id, checkpoint)
                self.recorders.add((run.lab_id, checkpoint.pk))
        except NotPermitted as exc:
            raise _RowError("checkpoint", exc.message) from None
        prepared = result_prepare(
            checkpoint=checkpoint,
            value=row.get("value"),
            unit=row.get("unit"),
            measured_at=row.get("measured_at"),
            state=row.get("state"),
            now=self.now,
            judge=judge,
        )
        comment = row.get("comment") or ""
        key = row.get("idempotency_key") or ""
        if not isinstance(comment, str) or not isinstance(key, str) or len(key.strip()) > 128:
            raise _RowError(
                "comment" if not isinstance(comment, str) else "idempotency_key",
                "must be text (an idempotency key has at most 128 characters)",
            )
        comment, key = comment.strip(), key.strip()
        if key:
            if key in self.seen_keys:
                raise _RowError("idempotency_key", f"repeats row {self.seen_keys[key]}")
            self.seen_keys[key] = index
            existing = self.replays.get(key)
            if existing is not None:
                if same_payload(
                    existing,
                    stage_run_id=sr.pk,
                    checkpoint_id=checkpoint.pk,
                    prepared=prepared,
                    comment=comment,
                    raw_file_id=None,
                ):
                    return existing
                raise _RowError("idempotency_key", "already used for a different result")
        pair = (sr.pk, checkpoint.pk)
        if pair in self.seen_pairs:
            raise _RowError(
                "checkpoint", f"row {self.seen_pairs[pair]} records the same checkpoint"
            )
        self.seen_pairs[pair] = index
        try:
            superseded, reason = result_placement(
                run=run,
                stage_run=sr,
                checkpoint=checkpoint,
                current=self.current.get(pair),
                prepared=prepared,
                after_release=(
                    run.status == RunStatus.RELEASED
                    and sr.stage_id in self.post_release.get(run.protocol_id, ())
                ),
            )
        except (InvalidTransition, ValidationFailed) as exc:
            raise _RowError("checkpoint", exc.message) from None
        instrument = self.actor if isinstance(self.actor, Instrument) else None
        values = {
            "id": None,
            "stage_run_id": sr.pk,
            "checkpoint_id": checkpoint.pk,
            **prepared.fields(),
            "spec_snapshot": dict(self._snapshot(checkpoint, run.protocol_id)),  # its own dict
            "recorded_by_id": None if instrument is not None else self.actor.pk,
            "recorded_by_instrument_id": instrument.pk if instrument is not None else None,
            "recorded_at": None,
            "raw_file_id": None,
            "idempotency_key": key,
            "supersedes_id": superseded.pk if superseded is not None else None,
            "reason": reason,
            "comment": comment,
            "passage": run.passage,
        }
        return values, (sr, checkpoint, superseded)


def _shape_errors(rows: list) -> tuple[list[dict], set[int], set[int]]:
    """Problems of form (not an object, unknown fields, missing ids) and the ids referenced."""
    errors: list[dict] = []
    stage_run_ids: set[int] = set()
    checkpoint_ids: set[int] = set()
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            errors.append({"index": i, "field": "", "message": "each row must be an object"})
            continue
        errors.extend(
            {"index": i, "field": name, "message": "unknown field"}
            for name in row.keys() - _ROW_FIELDS
        )
        for name, ids in (("stage_run", stage_run_ids), ("checkpoint", checkpoint_ids)):
            ref = row.get(name)
            if isinstance(ref, int) and not isinstance(ref, bool):
                ids.add(ref)
            else:
                errors.append({"index": i, "field": name, "message": "an id is required"})
    return errors, stage_run_ids, checkpoint_ids


@transaction.atomic
def qc_results_record_bulk(*, rows: list[dict], actor: Actor) -> list[QCResult]:
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
    errors, stage_run_ids, checkpoint_ids = _shape_errors(rows)
    batch = _Batch.load(rows, actor, stage_run_ids, checkpoint_ids)
    planned: list[QCResult | tuple[dict, tuple]] = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            continue
        try:
            planned.append(batch.plan(i, row))
        except _RowError as exc:
            errors.append({"index": i, "field": exc.field, "message": exc.message})
        except ValidationFailed as exc:
            for name, messages in exc.fields.items():
                for message in messages:
                    errors.append({"index": i, "field": name, "message": message})
    if errors:
        errors.sort(key=lambda e: e["index"])
        raise RowErrors(
            f"{len({e['index'] for e in errors})} of {len(rows)} rows are invalid; "
            f"nothing was recorded",
            rows=errors,
        )
    fresh = _build_results(planned, actor)
    try:
        with transaction.atomic():
            _insert_results(fresh)
    except IntegrityError:
        raise Conflict(
            "another request recorded some of these results at the same time; nothing was recorded",
            code="conflict",
        ) from None
    audit_record_many(actor=actor, changes=_changes_of(fresh, actor))
    fresh_iter = iter(fresh)
    return [p if isinstance(p, QCResult) else next(fresh_iter) for p in planned]


def _build_results(planned: list, actor: Actor) -> list[QCResult]:
    """The new results, built without ``Model.__init__`` (see audit.services.instance_builder),
    their related objects cached: everything was loaded and checked already."""
    instrument = actor if isinstance(actor, Instrument) else None
    build = cast(Callable[[dict], QCResult], instance_builder(QCResult))
    fresh: list[QCResult] = []
    for item in planned:
        if isinstance(item, QCResult):
            continue
        values, (sr, checkpoint, superseded) = item
        result = build(values)
        result._state.fields_cache.update(
            stage_run=sr,
            checkpoint=checkpoint,
            supersedes=superseded,
            recorded_by=None if instrument is not None else actor,
            recorded_by_instrument=instrument,
        )
        fresh.append(result)
    return fresh


def _changes_of(fresh: list[QCResult], actor: Actor) -> list[Change]:
    """One ``qc_result.record`` event per new result, then what each failing (or post-release)
    result causes."""
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
            changes += result_consequences(
                actor=actor,
                run=run,
                stage_run=sr,
                checkpoint=related["checkpoint"],
                result=result,
            )
    return changes


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
