"""Identity scans at the protocol's identity checkpoints: the scanned label against the expected
COI and item. A match passes the checkpoint; a mismatch, an unreadable or a mistyped code fails
it (a QC result through qc), which blocks the stage, opens a critical deviation and alerts the
reviewers at once. A typed entry (no scanner) needs a second person's witness signature, and so
does every scan at a checkpoint whose spec says ``witness: always`` (the bedside check)."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from labs.selectors import has_role, require_role
from protocol_tracker.audit.services import audit_record
from protocol_tracker.core.actors import Person
from protocol_tracker.core.errors import InvalidTransition, ValidationFailed
from protocol_tracker.custody.models import IdentityScan, Item, ScanMethod, ScanVerdict
from protocol_tracker.custody.services.common import CAN_HANDLE, run_coi
from protocol_tracker.identity.codes import MAX_SCAN_CHARS, ScanUnreadable, printable, scan_parse
from protocol_tracker.protocols.models import CheckpointTemplate, ValueType
from protocol_tracker.qc.models import Deviation, DeviationStatus, QCResult, Verdict
from protocol_tracker.qc.services import qc_result_record_decided
from protocol_tracker.runs.locks import lock_run
from protocol_tracker.runs.models import Run, StageRun
from protocol_tracker.signatures.models import SignatureMeaning
from protocol_tracker.signatures.services import signature_sign


@dataclass(frozen=True)
class Judged:
    verdict: str
    reason: str
    item: Item | None


def _lineage_ids(run: Run) -> set[int]:
    root = run.root_id or run.pk
    return set(
        Run.objects.for_lab(run.lab_id)
        .filter(Q(pk=root) | Q(root_id=root))
        .values_list("pk", flat=True)
    )


def judge_scan(
    *, run: Run, scanned: str, item_kinds: list[str], expected_item: Item | None
) -> Judged:
    """What ``scanned`` says about the material presented for ``run`` (writes nothing)."""
    expected_coi = run_coi(run).value
    try:
        parsed = scan_parse(scanned)
    except ScanUnreadable as exc:
        return Judged(ScanVerdict.UNREADABLE, str(exc), None)
    if parsed.coi.value != expected_coi:
        return Judged(
            ScanVerdict.MISMATCH,
            f"label of another donor: COI {parsed.coi.value}, expected {expected_coi}",
            None,
        )
    if not parsed.item_id:
        if item_kinds or expected_item is not None:
            return Judged(
                ScanVerdict.MISMATCH, "the label names no item; scan the item's label", None
            )
        return Judged(ScanVerdict.MATCH, "COI matches", None)
    item = Item.objects.for_lab(run.lab_id).filter(item_id=parsed.item_id).first()
    if item is None:
        return Judged(ScanVerdict.MISMATCH, f"item {parsed.item_id} is not registered", None)
    if item.coi_id != run.donor.coi_id:
        return Judged(ScanVerdict.MISMATCH, f"item {item.item_id} belongs to another donor", item)
    if item.run_id not in _lineage_ids(run):
        return Judged(
            ScanVerdict.MISMATCH,
            f"wrong item: {item.item_id} is of run {item.run.code}, not of this run's lineage",
            item,
        )
    if expected_item is not None and item.pk != expected_item.pk:
        return Judged(
            ScanVerdict.MISMATCH,
            f"wrong item: {item.item_id}, expected {expected_item.item_id}",
            item,
        )
    if item_kinds and item.kind not in item_kinds:
        return Judged(
            ScanVerdict.MISMATCH,
            f"wrong item: {item.item_id} is a {item.get_kind_display().lower()}, expected "
            f"{' or '.join(item_kinds)}",
            item,
        )
    return Judged(ScanVerdict.MATCH, f"COI and item {item.item_id} match", item)


def _witness(username: str, lab_id: int, actor: Person) -> Person:
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None or not has_role(user, lab_id, CAN_HANDLE):
        raise ValidationFailed(
            "the witness must be someone who works in this lab",
            fields={"witness": ["not a member of this lab"]},
        )
    if user.pk == actor.pk:
        raise ValidationFailed(
            "four eyes: the witness must be another person", fields={"witness": ["another person"]}
        )
    return user


def _refuse_while_open_failure(stage_run: StageRun, checkpoint: CheckpointTemplate) -> None:
    current = QCResult.objects.filter(
        stage_run=stage_run, checkpoint=checkpoint, superseded_by__isnull=True
    ).first()
    if current is None or current.verdict != Verdict.FAIL:
        return
    open_deviation = (
        Deviation.objects.filter(qc_result=current).exclude(status=DeviationStatus.CLOSED).first()
    )
    if open_deviation is not None:
        raise InvalidTransition(
            f"'{checkpoint.name}' failed and DEV-{open_deviation.pk} is open: a reviewer "
            "disposes of it (orders a re-scan) before the label is scanned again"
        )


@transaction.atomic
def identity_scan_record(
    *,
    stage_run: StageRun,
    checkpoint: CheckpointTemplate,
    scanned: str,
    actor: Person,
    method: str = ScanMethod.SCANNER,
    expected_item: Item | None = None,
    witness: str = "",
    witness_password: str = "",
    idempotency_key: str = "",
) -> IdentityScan:
    """Judge a scan at an identity checkpoint and record it (its QC result, and on a failure the
    critical deviation and the alert). An empty scan, a missing witness or a wrong witness
    password is refused and writes nothing."""
    if not isinstance(scanned, str) or not scanned.strip():
        raise ValidationFailed("nothing was scanned", fields={"scanned": ["scan the label"]})
    if len(scanned) > MAX_SCAN_CHARS:
        raise ValidationFailed(
            f"a scan is at most {MAX_SCAN_CHARS} characters",
            fields={"scanned": [f"at most {MAX_SCAN_CHARS} characters"]},
        )
    if method not in ScanMethod.values:
        raise ValidationFailed(
            f"method must be one of {ScanMethod.values}", fields={"method": ["unknown"]}
        )
    if checkpoint.value_type != ValueType.IDENTITY or checkpoint.stage_id != stage_run.stage_id:
        raise ValidationFailed(
            f"'{checkpoint.name}' is not an identity checkpoint of this stage",
            fields={"checkpoint": ["not an identity checkpoint of this stage"]},
        )
    run = lock_run(stage_run.run_id)
    require_role(actor, run.lab_id, CAN_HANDLE, "scan labels at identity checkpoints")
    if expected_item is not None and expected_item.lab_id != run.lab_id:
        raise ValidationFailed("item not found in this lab", fields={"item": ["not found"]})
    key = (idempotency_key or "").strip()[:128]
    if key:
        earlier = (
            IdentityScan.objects.filter(
                qc_result__recorded_by=actor, qc_result__idempotency_key=key
            )
            .select_related("qc_result")
            .first()
        )
        if earlier is not None and earlier.stage_run_id == stage_run.pk:
            return earlier
    spec = checkpoint.spec or {}
    needs_witness = method == ScanMethod.MANUAL or spec.get("witness") == "always"
    witness_user = None
    if needs_witness:
        if not witness:
            raise ValidationFailed(
                "a typed entry (and this checkpoint) needs a witness: a second person signs",
                fields={"witness": ["required"]},
            )
        witness_user = _witness(witness, run.lab_id, actor)
    _refuse_while_open_failure(stage_run, checkpoint)
    judged = judge_scan(
        run=run,
        scanned=scanned,
        item_kinds=list(spec.get("item_kinds") or []),
        expected_item=expected_item,
    )
    shown = printable(scanned.strip())
    result = qc_result_record_decided(
        stage_run=stage_run,
        checkpoint=checkpoint,
        actor=actor,
        measured_at=timezone.now(),
        verdict=Verdict.PASS if judged.verdict == ScanVerdict.MATCH else Verdict.FAIL,
        value_text=judged.verdict,
        comment=f"Scanned {shown!r} ({method}): {judged.reason}.",
        idempotency_key=key,
    )
    scan = IdentityScan.objects.create(
        lab_id=run.lab_id,
        run=run,
        stage_run=stage_run,
        checkpoint=checkpoint,
        scanned=shown,
        method=method,
        expected_coi=run_coi(run).value,
        expected_item=expected_item,
        item=judged.item,
        verdict=judged.verdict,
        reason=judged.reason[:300],
        qc_result=result,
        scanned_by=actor,
    )
    if witness_user is not None:
        signature = signature_sign(
            signer=witness_user,
            password=witness_password,
            meaning=SignatureMeaning.WITNESSED,
            obj=scan,
            run_id=run.pk,
            roles=CAN_HANDLE,
            statement=(
                f"I witnessed {actor.get_username()} present the label read as {shown!r} at "
                f"'{checkpoint.name}' of run {run.code}: {judged.reason}."
            ),
        )
        scan.witness_signature = signature
        scan.save(update_fields=["witness_signature"])
    audit_record(
        actor=actor,
        action="identity_scan.record",
        obj=scan,
        run_id=run.pk,
        lab_id=run.lab_id,
        after={
            "scanned": shown,
            "method": method,
            "verdict": judged.verdict,
            "reason": judged.reason,
            "expected_coi": scan.expected_coi,
            "item": judged.item.item_id if judged.item else "",
            "checkpoint": checkpoint.key,
            "qc_result": result.pk,
            "witness": witness_user.get_username() if witness_user else "",
        },
    )
    return scan
