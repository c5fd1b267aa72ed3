"""The release page (built around the run's review by exception), the grouped disposition of a
run's minor deviations and the stored PDFs. (Completing a stage with its reasons:
:mod:`.stage_completion`; QC exports: :mod:`.exports`.)"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from protocol_tracker.core.errors import DomainError, SignatureRefused
from protocol_tracker.outcomes import selectors as outcome_selectors
from protocol_tracker.outcomes import services as outcome_services
from protocol_tracker.outcomes.documents import batch_record_pdf
from protocol_tracker.outcomes.models import DocumentKind
from protocol_tracker.protocols.selectors import checkpoints_pending_allowed
from protocol_tracker.qc import selectors as qc_selectors
from protocol_tracker.qc import services as qc_services
from protocol_tracker.qc.models import DeviationSeverity
from protocol_tracker.qc.services.grouped import GROUP_DECISIONS
from protocol_tracker.runs import selectors as run_selectors
from protocol_tracker.runs.models import Run
from protocol_tracker.web.access import (
    add_domain_error,
    domain_message,
    lab_view,
    or_404,
    require,
    use_lab,
)
from protocol_tracker.web.forms import SignForm
from protocol_tracker.web.views.review import _meaning, _signature_error

# Where the review's records are shown on screen.
RECORD_PAGES = {
    "run": ("web:run", lambda item, run: [run.pk]),
    "stage_run": ("web:run", lambda item, run: [run.pk]),
    "qc_result": ("web:run", lambda item, run: [run.pk]),
    "deviation": ("web:deviation", lambda item, run: [item.record[1]]),
    "task_occurrence": ("web:run", lambda item, run: [run.pk]),
    "checkpoint": ("web:run", lambda item, run: [run.pk]),
}


def refusal(form: forms.Form, exc: DomainError, default_field: str | None = None) -> None:
    """A refusal next to the form's fields it names; otherwise the whole sentence on the form
    (a rule about the record, such as the exceptions still to acknowledge)."""
    if exc.fields and not set(exc.fields) <= set(form.fields):
        form.add_error(None, domain_message(exc))
    else:
        add_domain_error(form, exc, default_field=default_field)


def _run(request: HttpRequest, pk: int) -> Run:
    run = or_404(run_selectors.run_for_user, run_id=pk, user=request.user)
    use_lab(request, run.lab)
    return run


class AcknowledgeForm(forms.Form):
    keys = forms.MultipleChoiceField(
        label=gettext_lazy("Exceptions"), widget=forms.CheckboxSelectMultiple
    )
    comment = forms.CharField(
        label=gettext_lazy("Comment (optional)"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, keys=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["keys"].choices = [(k, k) for k in keys]


class ReleaseSignForm(SignForm):
    pending_tests = forms.MultipleChoiceField(
        label=gettext_lazy("Tests still pending (conditional release)"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("Only checkpoints the protocol allows to be pending at release."),
    )
    audit_trail_reviewed = forms.BooleanField(
        label=gettext_lazy(
            "I have reviewed this batch's audit trail and every exception listed above."
        ),
        required=True,
    )
    field_order = ["pending_tests", "audit_trail_reviewed", "password"]

    def __init__(self, *args, pending_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["pending_tests"].choices = list(pending_choices)
        if not pending_choices:
            del self.fields["pending_tests"]


@lab_view
def run_release(request: HttpRequest, pk: int) -> HttpResponse:
    """The release page: the exceptions to acknowledge, then the signature."""
    run = _run(request, pk)
    require(request.perms.can_review)
    review = outcome_selectors.run_review(run)
    open_keys = [row.item.key for row in review.unacknowledged]
    check = qc_selectors.run_release_check(run)
    pending_choices = [
        (cp.key, cp.name)
        for cp in checkpoints_pending_allowed(protocol=run.protocol)
        if cp.key in check.pending
    ]
    ack_form = AcknowledgeForm(keys=open_keys, prefix="ack")
    sign_form = ReleaseSignForm(pending_choices=pending_choices, prefix="sign")
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "acknowledge":
            ack_form = AcknowledgeForm(request.POST, keys=open_keys, prefix="ack")
            if ack_form.is_valid():
                try:
                    acks = outcome_services.exceptions_acknowledge(
                        run=run,
                        keys=ack_form.cleaned_data["keys"],
                        actor=request.user,
                        comment=ack_form.cleaned_data["comment"],
                    )
                except DomainError as exc:
                    refusal(ack_form, exc)
                else:
                    messages.success(
                        request, _("%(n)s exception(s) acknowledged.") % {"n": len(acks)}
                    )
                    return redirect("web:run_release", pk=run.pk)
        elif action == "release":
            sign_form = ReleaseSignForm(
                request.POST, pending_choices=pending_choices, prefix="sign"
            )
            if sign_form.is_valid():
                data = sign_form.cleaned_data
                try:
                    outcome_services.run_release(
                        run=run,
                        actor=request.user,
                        password=data["password"],
                        pending_tests=tuple(data.get("pending_tests") or ()),
                        audit_trail_reviewed=data["audit_trail_reviewed"],
                    )
                except SignatureRefused as exc:
                    _signature_error(sign_form, exc)
                except DomainError as exc:
                    refusal(sign_form, exc)
                else:
                    messages.success(
                        request,
                        _("Run %(code)s released; its batch record and certificate are stored.")
                        % {"code": run.code},
                    )
                    return redirect("web:run", pk=run.pk)
        else:
            raise Http404("unknown action")
    rows = []
    for row in review.rows:
        link = None
        if row.item.record is not None:
            name, args = RECORD_PAGES[row.item.record[0]]
            link = (name, args(row.item, run))
        rows.append({"row": row, "link": link})
    context = {
        "nav": "review",
        "run": run,
        "review": review,
        "rows": rows,
        "ack_form": ack_form,
        "form": sign_form,
        "open_deviations": [d for d in qc_selectors.deviations_of_run(run=run) if d.is_open],
        "gaps": check.gaps,
        "meaning": _meaning(
            request.user,
            _(
                "I release batch %(code)s for use. I have reviewed its audit trail and every "
                "exception of its review by exception, each acknowledged"
            )
            % {"code": run.code},
        ),
    }
    return render(request, "web/release/release.html", context)


class GroupDispositionForm(SignForm):
    deviations = forms.MultipleChoiceField(
        label=gettext_lazy("Deviations"), widget=forms.CheckboxSelectMultiple
    )
    decision = forms.ChoiceField(label=gettext_lazy("Decision"), widget=forms.RadioSelect)
    justification = forms.CharField(
        label=gettext_lazy("Justification"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    field_order = ["deviations", "decision", "justification", "password"]

    def __init__(self, *args, deviation_ids=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["deviations"].choices = [(str(pk), str(pk)) for pk in deviation_ids]
        labels = {
            "accept": _("Accept with justification"),
            "retest": _("Order a retest"),
        }
        self.fields["decision"].choices = [(d, labels[d]) for d in GROUP_DECISIONS]


@lab_view
def run_deviations(request: HttpRequest, pk: int) -> HttpResponse:
    """The run's open deviations; a reviewer selects several minor ones of one kind and signs
    one disposition for them."""
    run = _run(request, pk)
    deviations = list(qc_selectors.deviations_of_run(run=run))
    open_ = [d for d in deviations if d.is_open]
    form = GroupDispositionForm(deviation_ids=[d.pk for d in open_], prefix="grp")
    if request.method == "POST":
        require(request.perms.can_review)
        form = GroupDispositionForm(request.POST, deviation_ids=[d.pk for d in open_], prefix="grp")
        if form.is_valid():
            data = form.cleaned_data
            chosen = [d for d in open_ if str(d.pk) in data["deviations"]]
            try:
                group = qc_services.deviation_disposition_group(
                    deviations=chosen,
                    decision=data["decision"],
                    justification=data["justification"],
                    password=data["password"],
                    actor=request.user,
                )
            except SignatureRefused as exc:
                _signature_error(form, exc)
            except DomainError as exc:
                refusal(form, exc)
            else:
                messages.success(
                    request,
                    _("One disposition signed for %(n)s deviations (GRP-%(pk)s).")
                    % {"n": len(chosen), "pk": group.pk},
                )
                return redirect("web:run_deviations", pk=run.pk)
    return render(
        request,
        "web/release/deviations.html",
        {
            "nav": "review",
            "run": run,
            "open_deviations": open_,
            "closed_deviations": [d for d in deviations if not d.is_open],
            "groupable": {d.pk for d in open_ if d.severity == DeviationSeverity.MINOR},
            "form": form,
            "meaning": _meaning(
                request.user,
                _("I approve one disposition for every deviation selected above, for the reason "
                  "given"),
            ),
        },
    )  # fmt: skip


def _pdf(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(bytes(content), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


@lab_view
def batch_record_download(request: HttpRequest, pk: int) -> HttpResponse:
    """The stored batch record of a released run; before the release a marked preview."""
    run = _run(request, pk)
    stored = outcome_selectors.release_document(run=run, kind=DocumentKind.BATCH_RECORD)
    if stored is not None:
        return _pdf(stored.content, stored.filename)
    preview = batch_record_pdf(
        run,
        review=outcome_selectors.run_review(run),
        release=None,
        generated_at=timezone.now(),
        language=run.lab.language,
    )
    return _pdf(preview.content, f"batch-record-{run.pk}-preview.pdf")


@lab_view
def certificate_download(request: HttpRequest, pk: int) -> HttpResponse:
    run = _run(request, pk)
    stored = outcome_selectors.release_document(run=run, kind=DocumentKind.CERTIFICATE)
    if stored is None:
        raise Http404("no certificate before the release")
    return _pdf(stored.content, stored.filename)


def review_context(run: Run) -> dict:
    """The review by exception and the stored documents of a run, for the batch record page
    (one call; its partial is ``web/release/review_partial.html``)."""
    return {
        "review": outcome_selectors.run_review(run),
        "documents": list(outcome_selectors.release_documents_of_run(run=run)),
    }
