"""Run outcomes: the signed release of a completed run, and its signed rejection.

They sit above qc: a release is judged from the run's QC record (``run_release_check``, open
deviations) and its review by exception (every item acknowledged), and signed with an
e-signature whose content binds the QC record, the acknowledgements and the SHA-256 of the
batch record and certificate of analysis generated with it; the run's rows change through the
runs engine (``run_close_released``, ``run_close_rejected``, ``open_post_release_work``). Rules:
only a completed run is released, by a reviewer who recorded none of its results and completed
none of its stages (four eyes), who attests to having reviewed its audit trail; every blocking
checkpoint passed or is covered, except the named pending tests of a conditional release (EU GMP
Part IV); no deviation is open; every exception acknowledged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone, translation

from labs.models import CAN_REVIEW
from labs.selectors import require_role
from protocol_tracker.audit.services import audit_record_many
from protocol_tracker.core.actors import Person
from protocol_tracker.core.errors import InvalidTransition, SignatureRefused, ValidationFailed
from protocol_tracker.core.tasks import enqueue_on_commit
from protocol_tracker.outcomes.documents import ReleaseInfo, batch_record_pdf, certificate_pdf
from protocol_tracker.outcomes.models import DocumentKind, ReleaseDocument
from protocol_tracker.outcomes.selectors import RunReview, run_review
from protocol_tracker.outcomes.services.acknowledgements import worked_on_run
from protocol_tracker.qc.models import Deviation, DeviationStatus
from protocol_tracker.qc.selectors import run_release_check
from protocol_tracker.qc.services import signature_sign
from protocol_tracker.qc.services.signatures import run_signed_content
from protocol_tracker.runs.locks import lock_run
from protocol_tracker.runs.models import Run, RunStatus
from protocol_tracker.runs.services import (
    open_post_release_work,
    run_audit_change,
    run_close_rejected,
    run_close_released,
)
from protocol_tracker.signatures import services as signatures
from protocol_tracker.signatures.models import SignatureMeaning

RUN_RELEASED_TASK = "reminders.run_released"
AUDIT_TRAIL_ATTESTATION = (
    "I reviewed this batch's audit trail and every exception of its review by exception, "
    "each acknowledged"
)


def release_statement(run: Run, pending_tests: Sequence[str], review: RunReview) -> str:
    statement = f"released run {run.code}"
    if pending_tests:
        statement += " conditionally, pending " + ", ".join(pending_tests)
    return f"{statement}; {AUDIT_TRAIL_ATTESTATION} ({len(review.rows)} listed)"


@transaction.atomic
def run_release(
    *,
    run: Run,
    actor: Person,
    password: str,
    pending_tests: Sequence[str] = (),
    audit_trail_reviewed: bool = False,
) -> Run:
    """Release a completed run with a signature (reviewer; four eyes).

    Only the manufacturing stages count (the run is ``completed`` when they are done); the
    post-release stages (transplant, follow-up) whose dependencies are done become ready and are
    re-planned from the release time. Every blocking checkpoint must have passed or be covered
    by an accepted disposition, except the ``pending_tests`` (checkpoint keys), which must be
    ``pending_allowed`` and pending now: that is a conditional release (EU GMP Part IV). No
    deviation may be open; every item of the review by exception must be acknowledged
    (:func:`~protocol_tracker.outcomes.services.exceptions_acknowledge`), and the reviewer
    attests to having reviewed the audit trail (``audit_trail_reviewed``: part of the
    signature's meaning). The batch record and the certificate of analysis are generated in
    the lab's language and stored with the signature, whose content binds their SHA-256.
    """
    run = lock_run(run.pk)
    require_role(actor, run.lab_id, CAN_REVIEW, "release runs")
    if run.status != RunStatus.COMPLETED:
        raise InvalidTransition(
            f"run {run.code} is {run.status}; only a completed run can be released"
        )
    if audit_trail_reviewed is not True:
        raise ValidationFailed(
            "a release attests the review of the batch's audit trail",
            code="attestation_required",
            fields={"audit_trail_reviewed": ["confirm that you reviewed the audit trail"]},
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
    if worked_on_run(run, actor):
        raise SignatureRefused(
            "four eyes: you recorded results or completed stages of this "
            "run; another reviewer must release it"
        )
    with translation.override("en"):
        review = run_review(run)
    unacknowledged = review.unacknowledged
    if unacknowledged:
        raise InvalidTransition(
            f"run {run.code} cannot be released: {len(unacknowledged)} exception(s) not "
            "acknowledged: " + "; ".join(row.item.title for row in unacknowledged),
            code="exceptions_unacknowledged",
            fields={"exceptions": [row.item.key for row in unacknowledged]},
        )
    audit_record_many(actor=actor, changes=run_close_released(run, pending_tests=pending_tests))
    statement = release_statement(run, pending_tests, review)
    release = ReleaseInfo(
        signer_name=(actor.get_full_name() or actor.get_username())[:200],
        at=run.closed_at or timezone.now(),
        meaning=str(SignatureMeaning.RELEASED.label),
        statement=statement,
        pending_tests=tuple(pending_tests),
    )
    now = timezone.now()
    language = run.lab.language
    documents = {
        DocumentKind.BATCH_RECORD: batch_record_pdf(
            run, review=review, release=release, generated_at=now, language=language
        ),
        DocumentKind.CERTIFICATE: certificate_pdf(
            run, release=release, generated_at=now, language=language
        ),
    }
    digests = {kind: hashlib.sha256(doc.content).hexdigest() for kind, doc in documents.items()}
    content = {
        **run_signed_content(run),
        "audit_trail_reviewed": True,
        "acknowledgements": [
            {"key": row.item.key, "content_hash": row.item.content_hash,
             "acknowledgement": row.acknowledgement.pk if row.acknowledgement else None}
            for row in review.rows
        ],
        "documents": {str(kind): digest for kind, digest in digests.items()},
    }  # fmt: skip
    signature = signatures.signature_sign(
        signer=actor,
        password=password,
        meaning=SignatureMeaning.RELEASED,
        obj=run,
        run_id=run.pk,
        statement=statement,
        content=content,
    )
    stored = ReleaseDocument.objects.bulk_create(
        [
            ReleaseDocument(
                lab_id=run.lab_id, run=run, kind=kind, content=doc.content,
                sha256=digests[kind], size_bytes=len(doc.content), pages=doc.pages,
                language=doc.language, record_hash=doc.record_hash, generated_at=now,
                generated_by=actor, signature=signature,
            )
            for kind, doc in documents.items()
        ]
    )  # fmt: skip
    changes = [
        run_audit_change(
            "release_document.store",
            doc,
            run,
            None,
            {"kind": doc.kind, "sha256": doc.sha256, "pages": doc.pages,
             "size_bytes": doc.size_bytes, "signature": signature.pk},
        )
        for doc in stored
    ]  # fmt: skip
    # The signature binds the lot as released; only then may its post-release work begin.
    changes += open_post_release_work(run)
    audit_record_many(actor=actor, changes=changes)
    enqueue_on_commit(RUN_RELEASED_TASK, run.pk)
    return run


@transaction.atomic
def run_reject(*, run: Run, actor: Person, password: str, reason: str) -> Run:
    """Reject a run with a signature (reviewer): its open work is closed."""
    run = lock_run(run.pk)
    require_role(actor, run.lab_id, CAN_REVIEW, "reject runs")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("a rejection needs a reason", fields={"reason": ["required"]})
    if not run.can_transition_to(RunStatus.REJECTED):
        raise InvalidTransition(f"run {run.code} is {run.status}; it cannot be rejected")
    changes = run_close_rejected(run, actor=actor, reason=reason)
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
