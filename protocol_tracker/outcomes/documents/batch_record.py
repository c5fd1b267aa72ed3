"""The batch record of a run as a PDF: summary first, then one section per stage, the
deviations, the sections other apps contribute, and the audit trail as an appendix.

Other apps add to it with one function and one line here:

- :data:`SUMMARY_FIELDS`: ``run -> [(label, value)]`` on the summary page (the COI);
- :data:`STAGE_BLOCKS`: ``run -> {stage run id: [blocks]}`` inside each stage (materials and
  equipment used, custody events);
- :data:`RECORD_SECTIONS`: ``run -> Section | [Section] | None`` after the stages (the custody
  chain, the clinical follow-up).

Blocks and sections are :mod:`protocol_tracker.documents.blocks` (a leaf any layer can use).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.utils import translation
from django.utils.translation import gettext as _

from protocol_tracker.documents.blocks import Section
from protocol_tracker.outcomes.documents.layout import Footer, render_pdf
from protocol_tracker.outcomes.documents.record import (
    RecordContext,
    ReleaseInfo,
    record_context,
    record_hash,
)
from protocol_tracker.outcomes.documents.sections import (
    StageBlocks,
    SummaryFields,
    audit_appendix,
    review_by_exception,
    run_deviations,
    stage_section,
    summary,
)
from protocol_tracker.outcomes.selectors import RunReview
from protocol_tracker.runs.models import Run

SUMMARY_FIELDS: list[SummaryFields] = []
STAGE_BLOCKS: list[StageBlocks] = []
RECORD_SECTIONS: list[Callable[[Run], Section | Sequence[Section] | None]] = []


@dataclass(frozen=True)
class GeneratedDocument:
    content: bytes
    pages: int
    record_hash: str
    language: str
    generated_at: datetime


def batch_record_sections(ctx: RecordContext) -> list[Section]:
    """Every section of the record, in order (the contributed ones included)."""
    run = ctx.run
    extra_fields = [pair for contribute in SUMMARY_FIELDS for pair in contribute(run)]
    per_stage: dict[int, list] = {}
    for add_blocks in STAGE_BLOCKS:
        for stage_run_id, blocks in add_blocks(run).items():
            per_stage.setdefault(stage_run_id, []).extend(blocks)
    sections = [summary(ctx, extra_fields), review_by_exception(ctx)]
    for index, sr in enumerate(ctx.stage_runs, start=1):
        sections.append(stage_section(ctx, sr, index, per_stage.get(sr.pk, [])))
    deviations = run_deviations(ctx)
    if deviations is not None:
        sections.append(deviations)
    for add_sections in RECORD_SECTIONS:
        made = add_sections(run)
        if made is None:
            continue
        sections.extend([made] if isinstance(made, Section) else made)
    sections.append(audit_appendix(ctx))
    return sections


def batch_record_pdf(
    run: Run,
    *,
    review: RunReview,
    release: ReleaseInfo | None,
    generated_at: datetime,
    language: str,
) -> GeneratedDocument:
    """The batch record of ``run`` (with its lab, protocol and donor) in ``language``; a preview
    (marked on every page) when ``release`` is None."""
    with translation.override(language):
        ctx = record_context(run, review=review, release=release, generated_at=generated_at)
        digest = record_hash(ctx)
        title = _("Batch record %(code)s") % {"code": run.code}
        footer = Footer(
            title=title,
            page_label=_("Page %(page)s of %(pages)s"),
            record_hash=digest,
            hash_label=_("Record SHA-256"),
            generated_at=generated_at.astimezone(run.lab.tz),
            generated_label=_("Generated"),
            banner="" if release is not None else _("Preview: not a released record"),
        )
        content, pages = render_pdf(
            batch_record_sections(ctx),
            heading=title,
            footer=footer,
            subject=f"{run.protocol.name} v{run.protocol.version}",
            author=release.signer_name if release is not None else "protocol_tracker",
        )
    return GeneratedDocument(
        content=content,
        pages=pages,
        record_hash=digest,
        language=language,
        generated_at=generated_at,
    )
