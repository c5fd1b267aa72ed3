"""Chain-of-identity work built through the real services: labelled items, scans that pass,
blood shipments, patient identifiers, and one call that satisfies any identity or computed
checkpoint (for tests that work a default protocol end to end)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from labs.models import Membership
from protocol_tracker.custody import services as custody
from protocol_tracker.custody.models import Item
from protocol_tracker.identity.codes import scan_payload
from protocol_tracker.identity.services import patient_identifiers_record
from tests.factories import PASSWORD, MembershipFactory, UserFactory

_seq = iter(range(1, 10**6))


def member(lab, role: str):
    """A member of ``lab`` with ``role`` (password ``factories.PASSWORD``), made when missing."""
    found = Membership.objects.filter(lab=lab, role=role).select_related("user").first()
    if found is not None:
        return found.user
    user = UserFactory(username=f"{role}-{lab.slug}-{next(_seq)}")
    MembershipFactory(user=user, lab=lab, role=role)
    return user


def item(run, actor, kind: str = "vial") -> Item:
    """A new labelled item of ``run``."""
    return custody.items_register(run=run, kind=kind, count=1, actor=actor)[0]


def payload(it: Item) -> str:
    """What the item's label encodes (what a scanner types)."""
    return scan_payload(it.coi.value, it.item_id)


def identifiers(coi, lab, values=None):
    """Two patient identifiers on record for ``coi``, recorded by a clinician of ``lab``."""
    return patient_identifiers_record(
        coi=coi,
        values=values or {"hospital_record": "MRN-0042", "date_of_birth": "1966-04-03"},
        actor=member(lab, "clinician"),
    )


def blood_shipment(run, actor, *, hours: float = 6, drawn_hours_ago: float = 8):
    """A received blood shipment of ``run``: drawn ``drawn_hours_ago`` ago, received ``hours``
    later."""
    now = timezone.now()
    drawn = now - timedelta(hours=drawn_hours_ago)
    shipment = custody.shipment_create(
        run=run,
        kind="blood",
        courier="Hospital courier",
        origin="Ward 5",
        destination="GMP lab",
        range_min_c=15,
        range_max_c=25,
        drawn_at=drawn,
        packed_at=drawn + timedelta(minutes=30),
        shipped_at=drawn + timedelta(minutes=40),
        actor=actor,
    )
    return custody.shipment_receive(
        shipment=shipment, received_at=drawn + timedelta(hours=hours), actor=actor
    )


def satisfy(stage_run, checkpoint, actor):
    """Pass an identity checkpoint (scan a fresh label of the right kind; a witness where the
    spec asks) or a computed one (make the records it is computed from)."""
    run = stage_run.run
    if checkpoint.value_type == "identity":
        kinds = (checkpoint.spec or {}).get("item_kinds") or ["sample"]
        it = item(run, actor, kinds[0])
        witness = ""
        if (checkpoint.spec or {}).get("witness") == "always":
            witness = member(run.lab, "reviewer").get_username()
        return custody.identity_scan_record(
            stage_run=stage_run,
            checkpoint=checkpoint,
            scanned=payload(it),
            actor=actor,
            witness=witness,
            witness_password=PASSWORD,
        )
    if checkpoint.assay == "draw_to_processing":
        blood_shipment(run, actor)  # its receipt records the result
        return stage_run.qc_results.get(checkpoint=checkpoint)
    if checkpoint.assay == "vault_identifier_count":
        identifiers(run.donor.coi, run.lab)
    return custody.computed_result_record(stage_run=stage_run, checkpoint=checkpoint, actor=actor)


def needs_custody(checkpoint) -> bool:
    return checkpoint.value_type == "identity" or checkpoint.recorded_by == "system"
