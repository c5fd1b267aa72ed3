"""Change control: a version is approved for use by a second person's signature with a reason
and the diff; retiring is signed; convention-marked specs wait for the lab's signed
confirmation."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from labs.services import membership_set
from protocol_tracker.audit.models import AuditEvent
from protocol_tracker.core.errors import (
    Conflict,
    DomainError,
    InvalidTransition,
    NotPermitted,
    SignatureRefused,
    ValidationFailed,
)
from protocol_tracker.protocols import selectors, services
from protocol_tracker.protocols.models import (
    CheckpointTemplate,
    ConventionConfirmation,
    ProtocolApproval,
    ProtocolTemplate,
)
from protocol_tracker.signatures import services as signatures
from protocol_tracker.signatures.models import Signature
from protocol_tracker.signatures.selectors import signature_of
from tests.builders import approve, chain_definition, published_defaults
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

CONV = "CONV (common convention; lab must confirm)"


def _counts():
    return (
        ProtocolApproval.objects.count(),
        ConventionConfirmation.objects.count(),
        Signature.objects.count(),
        AuditEvent.objects.count(),
        list(ProtocolTemplate.objects.order_by("pk").values_list("status", flat=True)),
    )


def _publish(protocol, actor, **kwargs):
    kwargs.setdefault("reviewed_hash", selectors.protocol_review_hash(protocol=protocol))
    return services.protocol_publish(
        protocol=protocol, actor=actor, password=PASSWORD, reason="validated", **kwargs
    )


def _fresh(user):
    """The user read again (roles are cached on the instance per request)."""
    return type(user).objects.get(pk=user.pk)


def _draft(lab, actor, definition=None):
    return services.protocol_import(
        lab=lab, definition=definition or chain_definition(2), actor=actor, publish=False
    )


def _conv_definition():
    definition = chain_definition(2)
    definition["stages"][0]["checkpoints"][0]["source"] = CONV
    return definition


def test_the_approval_is_signed_with_the_reason_and_the_diff(lab, lab_admin, reviewer):
    v1 = approve(_draft(lab, lab_admin), reviewer)
    v2 = services.protocol_new_version(protocol=v1, actor=lab_admin)
    checkpoint = CheckpointTemplate.objects.get(protocol=v2, key="s2_viability")
    services.checkpoint_template_update(checkpoint=checkpoint, actor=lab_admin,
                                        spec={"min": 80})  # fmt: skip

    _publish(v2, reviewer)

    approval = ProtocolApproval.objects.get(protocol=v2)
    signature = signature_of(approval)
    assert (approval.action, approval.signed_by, approval.compared_with, approval.reason) == (
        "approved_for_use", reviewer, v1, "validated")  # fmt: skip
    assert approval.diff["checkpoints"]["changed"] == [
        {"key": "s2_viability", "name": "Viability",
         "fields": {"spec": {"old": {"min": 70}, "new": {"min": 80}}}}
    ]  # fmt: skip
    assert (signature.meaning, signature.object_type, signature.signer) == (
        "approved_for_use", "protocols.protocolapproval", reviewer)  # fmt: skip
    assert signature.statement == "approved Chain v2 for use: validated"
    v2.refresh_from_db()
    content = {"definition_hash": v2.definition_hash, "diff": approval.diff}
    assert signature.record_hash == signatures.record_hash(approval, content=content)
    assert v2.definition_hash == selectors.protocol_review_hash(protocol=v2)


def test_four_eyes_the_author_and_the_editors_cannot_approve(lab, lab_admin, reviewer, technician):
    draft = _draft(lab, lab_admin)
    services.protocol_update(protocol=draft, actor=lab_admin, name="Chain renamed")
    # The author then becomes a reviewer: still the draft's author.
    membership_set(lab=lab, user=lab_admin, role="reviewer", actor=None)
    before = _counts()

    with pytest.raises(SignatureRefused, match="four eyes: you wrote or edited the draft"):
        _publish(draft, _fresh(lab_admin))
    assert _counts() == before

    membership_set(lab=lab, user=technician, role="lab_admin", actor=None)
    services.protocol_update(protocol=draft, actor=_fresh(technician), name="Chain again")
    membership_set(lab=lab, user=technician, role="reviewer", actor=None)
    with pytest.raises(SignatureRefused, match="four eyes"):
        _publish(ProtocolTemplate.objects.get(pk=draft.pk), _fresh(technician))
    _publish(ProtocolTemplate.objects.get(pk=draft.pk), reviewer)
    assert ProtocolTemplate.objects.get(pk=draft.pk).status == "published"


def test_publishing_refuses_bad_input_and_writes_nothing(lab, lab_admin, reviewer, viewer):
    draft = _draft(lab, lab_admin)
    before = _counts()
    with pytest.raises(NotPermitted):
        _publish(draft, lab_admin)  # designs, never approves
    with pytest.raises(NotPermitted):
        _publish(draft, viewer)
    reviewed = selectors.protocol_review_hash(protocol=draft)
    with pytest.raises(ValidationFailed, match="reason is required"):
        services.protocol_publish(
            protocol=draft, actor=reviewer, password=PASSWORD, reason=" ", reviewed_hash=reviewed
        )
    with pytest.raises(SignatureRefused, match="password did not match"):
        services.protocol_publish(
            protocol=draft, actor=reviewer, password="no", reason="ok", reviewed_hash=reviewed
        )
    with pytest.raises(InvalidTransition, match="a person imports drafts"):
        services.protocol_import(lab=lab, definition=chain_definition(3), actor=lab_admin)
    assert _counts() == before


def test_a_draft_edited_after_it_was_reviewed_is_not_approved(lab, lab_admin, reviewer):
    draft = _draft(lab, lab_admin)
    reviewed = selectors.protocol_review_hash(protocol=draft)
    checkpoint = CheckpointTemplate.objects.get(protocol=draft, key="s1_viability")
    services.checkpoint_template_update(checkpoint=checkpoint, actor=lab_admin, spec={"min": 10})
    before = _counts()

    with pytest.raises(Conflict) as exc:
        _publish(draft, reviewer, reviewed_hash=reviewed)

    assert exc.value.code == "protocol_changed"
    assert _counts() == before


def test_retiring_is_signed_and_needs_a_reason(lab, lab_admin, reviewer):
    published = approve(_draft(lab, lab_admin), reviewer)
    with pytest.raises(ValidationFailed):
        services.protocol_retire(protocol=published, actor=reviewer, password=PASSWORD, reason="")
    with pytest.raises(NotPermitted):
        services.protocol_retire(protocol=published, actor=lab_admin, password=PASSWORD,
                                 reason="old")  # fmt: skip

    services.protocol_retire(protocol=published, actor=reviewer, password=PASSWORD, reason="v2")

    approval = ProtocolApproval.objects.get(protocol=published, action="retired")
    assert (approval.reason, signature_of(approval).meaning) == ("v2", "retired")


def test_a_convention_gates_nothing_until_the_lab_confirms_it(lab, lab_admin, reviewer):
    draft = _draft(lab, lab_admin, _conv_definition())
    [row] = selectors.protocol_conventions(protocol=draft)
    assert (row.key, row.confirmed) == ("s1_viability", False)
    before = _counts()

    with pytest.raises(ValidationFailed) as exc:
        _publish(draft, reviewer)
    assert exc.value.code == "conventions_unconfirmed"
    assert exc.value.fields == {"conventions": ["'Viability' (s1_viability)"]}
    with pytest.raises(ValidationFailed, match="not a convention-marked spec"):
        services.conventions_confirm(protocol=draft, checkpoint_keys=["s2_viability"],
                                     actor=reviewer, password=PASSWORD)  # fmt: skip
    with pytest.raises(NotPermitted):
        services.conventions_confirm(protocol=draft, checkpoint_keys=["s1_viability"],
                                     actor=lab_admin, password=PASSWORD)  # fmt: skip
    assert _counts() == before

    [confirmation] = services.conventions_confirm(
        protocol=draft, checkpoint_keys=["s1_viability"], actor=reviewer, password=PASSWORD,
        comment="our own data support ≥ 70 %",
    )  # fmt: skip
    assert confirmation.signature.meaning == "confirmed"
    assert confirmation.convention["spec"] == {"min": 70}
    _publish(draft, reviewer)

    # An unchanged convention stays confirmed in the next version; a changed one does not.
    v2 = services.protocol_new_version(protocol=draft, actor=lab_admin)
    assert [r.confirmed for r in selectors.protocol_conventions(protocol=v2)] == [True]
    checkpoint = CheckpointTemplate.objects.get(protocol=v2, key="s1_viability")
    services.checkpoint_template_update(checkpoint=checkpoint, actor=lab_admin, spec={"min": 60})
    assert [r.confirmed for r in selectors.protocol_conventions(protocol=v2)] == [False]
    with pytest.raises(ValidationFailed, match="has not confirmed"):
        _publish(v2, reviewer)


def test_the_system_cannot_publish_an_unconfirmed_convention_either(lab):
    with pytest.raises(ValidationFailed, match="has not confirmed"):
        services.protocol_import(lab=lab, definition=_conv_definition())
    assert ProtocolTemplate.objects.count() == 0


def test_the_defaults_come_in_as_drafts_with_their_conventions_to_confirm(lab, reviewer):
    drafts = services.protocol_import_defaults(lab=lab)
    conventions = {p.code: selectors.protocol_conventions(protocol=p) for p in drafts}
    assert all(p.status == "draft" for p in drafts)
    assert all(rows and not any(r.confirmed for r in rows) for rows in conventions.values())
    islet = conventions["e-islet-autologous"]
    assert all("CONV" in r.content["source"] for r in islet)

    published = published_defaults(lab, reviewer)

    assert [p.status for p in published] == ["published", "published"]
    assert ConventionConfirmation.objects.count() == sum(len(r) for r in conventions.values())


def _race(**calls) -> dict:
    """Each call in its own thread, released together: name -> result or DomainError."""
    barrier = threading.Barrier(len(calls))
    outcomes: dict = {}

    def work(name, call):
        try:
            barrier.wait()
            outcomes[name] = call()
        except DomainError as exc:
            outcomes[name] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=item) for item in calls.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


@pytest.mark.postgres
def test_a_draft_edited_while_it_is_published_never_publishes_what_was_not_reviewed(
    postgres, transactional_db, lab, lab_admin, reviewer
):
    """An edit and an approval race on the protocol row's lock: exactly one wins, and the
    published content is always the one reviewed."""
    for attempt in range(6):
        draft = _draft(lab, None, chain_definition(2, code=f"race-{attempt}"))
        reviewed = selectors.protocol_review_hash(protocol=draft)
        checkpoint = CheckpointTemplate.objects.get(protocol=draft, key="s1_viability")
        outcomes = _race(
            publish=lambda d=draft, h=reviewed: _publish(d, reviewer, reviewed_hash=h),
            edit=lambda c=checkpoint: services.checkpoint_template_update(
                checkpoint=c, actor=lab_admin, spec={"min": 50}
            ),
        )

        published = isinstance(outcomes["publish"], ProtocolTemplate)
        edited = isinstance(outcomes["edit"], CheckpointTemplate)
        assert published != edited, outcomes
        fresh = ProtocolTemplate.objects.get(pk=draft.pk)
        if published:
            assert outcomes["edit"].code == "protocol_frozen"
            assert fresh.definition_hash == reviewed
        else:
            assert outcomes["publish"].code == "protocol_changed"
            assert (fresh.status, ProtocolApproval.objects.filter(protocol=draft).count()) == (
                "draft", 0)  # fmt: skip
