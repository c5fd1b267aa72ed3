"""The certificate of analysis of a released lot: one or two pages in the lab's language.

Product, lot, donor code (and what :data:`~.batch_record.SUMMARY_FIELDS` adds: the COI), then
each release test (the checkpoints of the run's release stages) with its method, specification
and result, the tests pending at a conditional release marked, and the releasing signature.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from protocol_tracker.documents.blocks import Fields, Heading, Section, Table, Text
from protocol_tracker.outcomes.documents.batch_record import SUMMARY_FIELDS, GeneratedDocument
from protocol_tracker.outcomes.documents.layout import Footer, render_pdf
from protocol_tracker.outcomes.documents.record import ReleaseInfo
from protocol_tracker.outcomes.selectors import spec_text
from protocol_tracker.protocols.models import StageKind, localized
from protocol_tracker.protocols.selectors import checkpoints_of_protocol
from protocol_tracker.qc import selectors as qc_selectors
from protocol_tracker.runs import selectors as run_selectors
from protocol_tracker.runs.models import Run


def release_tests(run: Run) -> list[dict]:
    """Each checkpoint of the run's release stages with its current result (or None)."""
    stage_runs = {
        sr.stage_id: sr
        for sr in run_selectors.stage_runs_of_run(run=run)
        if sr.stage.kind == StageKind.RELEASE
    }
    results = list(
        qc_selectors.qc_results_of_run(run=run).filter(stage_run__in=list(stage_runs.values()))
    )
    superseded = {r.supersedes_id for r in results if r.supersedes_id}
    current = {(r.stage_run_id, r.checkpoint_id): r for r in results if r.pk not in superseded}
    tests = []
    for cp in checkpoints_of_protocol(protocol=run.protocol).filter(stage_id__in=stage_runs):
        result = current.get((stage_runs[cp.stage_id].pk, cp.pk))
        tests.append({"checkpoint": cp, "result": result})
    return tests


def certificate_pdf(
    run: Run, *, release: ReleaseInfo, generated_at: datetime, language: str
) -> GeneratedDocument:
    """The certificate of analysis of the released ``run`` (lab, protocol, donor joined)."""
    with translation.override(language):
        tz = run.lab.tz
        tests = release_tests(run)
        pending = set(release.pending_tests)
        rows = []
        for test in tests:
            cp, result = test["checkpoint"], test["result"]
            if (result is not None and result.verdict == "pending") or cp.key in pending:
                shown, verdict = _("pending"), _("conditional release: result to follow")
            elif result is None:
                shown, verdict = "—", _("not tested")
            else:
                shown, verdict = result.display_value, result.get_verdict_display()
            rows.append(
                [localized(cp, "name"), f"{cp.assay} / {cp.metric}",
                 spec_text(cp.spec, cp.unit), shown, verdict]
            )  # fmt: skip
        extra = [pair for contribute in SUMMARY_FIELDS for pair in contribute(run)]
        fields = [
            (_("Product"), run.protocol.name),
            (_("Lot (run)"), run.code),
            (_("Donor code"), run.donor.code),
            *extra,
            (_("Protocol version"), f"{run.protocol.code} v{run.protocol.version}"),
            (_("Manufacturing completed"), _local(run.completed_at, tz)),
            (_("Released"), _local(release.at, tz)),
        ]
        sections = [
            Section(title=_("Lot"), blocks=[Fields(fields)]),
            Section(
                title=_("Release tests"),
                blocks=[
                    Table(
                        header=[_("Test"), _("Method"), _("Specification"), _("Result"),
                                _("Verdict")],
                        rows=rows,
                        widths=[3, 1.8, 1.4, 1.3, 1.6],
                    ),
                    *(
                        [Text(_("Conditional release: the tests marked pending were not yet "
                                "complete at release (EU GMP Part IV); their results follow."),
                              style="warning")]
                        if pending else []
                    ),
                ],
            ),
            Section(
                title=_("Release"),
                blocks=[
                    Heading(_("Releasing signature"), level=3),
                    Fields([
                        (_("Signed by"), release.signer_name),
                        (_("Meaning"), release.meaning),
                        (_("When"), _local(release.at, tz)),
                        (_("Statement"), release.statement),
                    ]),
                ],
            ),
        ]  # fmt: skip
        digest = hashlib.sha256(
            json.dumps(
                {"run": run.pk, "rows": rows, "fields": fields, "release": release.statement},
                cls=DjangoJSONEncoder,
                sort_keys=True,
            ).encode()
        ).hexdigest()
        title = _("Certificate of analysis %(code)s") % {"code": run.code}
        footer = Footer(
            title=title,
            page_label=_("Page %(page)s of %(pages)s"),
            record_hash=digest,
            hash_label=_("Record SHA-256"),
            generated_at=generated_at.astimezone(tz),
            generated_label=_("Generated"),
        )
        content, pages = render_pdf(
            sections, heading=title, footer=footer, subject=run.protocol.name,
            author=release.signer_name,
        )  # fmt: skip
    return GeneratedDocument(
        content=content,
        pages=pages,
        record_hash=digest,
        language=language,
        generated_at=generated_at,
    )


def _local(moment: datetime | None, tz) -> str:
    return timezone.localtime(moment, tz).strftime("%Y-%m-%d %H:%M") if moment else "—"
