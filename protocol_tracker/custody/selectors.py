"""Reads of the chain of custody: a run's items, scans, hand-offs (the chain, its gaps) and
shipments; the rows the batch record and the review-by-exception list take. Lab-scoped, a
fixed number of queries per call."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Prefetch, QuerySet

from protocol_tracker.core.actors import Person
from protocol_tracker.custody.models import (
    HandOff,
    IdentityScan,
    Item,
    LoggerFile,
    ScanMethod,
    Shipment,
)
from protocol_tracker.runs.models import Run


def items_of_run(*, run: Run) -> QuerySet[Item]:
    return (
        Item.objects.for_lab(run.lab_id).filter(run=run).select_related("coi").order_by("item_id")
    )


def item_by_item_id(*, lab_id: int, item_id: str) -> Item | None:
    return (
        Item.objects.for_lab(lab_id)
        .filter(item_id=(item_id or "").strip().upper())
        .select_related("coi", "run")
        .first()
    )


def items_visible_to(user: Person) -> QuerySet[Item]:
    return Item.objects.for_user(user).select_related("coi", "run")


def scans_of_run(*, run: Run) -> QuerySet[IdentityScan]:
    return (
        IdentityScan.objects.for_lab(run.lab_id)
        .filter(run=run)
        .select_related(
            "checkpoint",
            "stage_run__stage",
            "item",
            "scanned_by",
            "witness_signature",
            "qc_result",
        )
        .order_by("scanned_at", "pk")
    )


def scans_visible_to(user: Person) -> QuerySet[IdentityScan]:
    return IdentityScan.objects.for_user(user).select_related(
        "checkpoint", "item", "witness_signature", "qc_result"
    )


def handoffs_visible_to(user: Person) -> QuerySet[HandOff]:
    return HandOff.objects.for_user(user).select_related("item", "run")


def shipments_visible_to(user: Person) -> QuerySet[Shipment]:
    return Shipment.objects.for_user(user).prefetch_related(
        Prefetch("logger_files", queryset=LoggerFile.objects.order_by("uploaded_at", "pk"))
    )


def shipments_of_run(*, run: Run) -> QuerySet[Shipment]:
    return (
        Shipment.objects.for_lab(run.lab_id)
        .filter(run=run)
        .prefetch_related(
            Prefetch(
                "logger_files",
                queryset=LoggerFile.objects.select_related("deviation").order_by(
                    "uploaded_at", "pk"
                ),
            )
        )
        .order_by("packed_at", "pk")
    )


def shipment_for_user(*, shipment_id: int, user: Person) -> Shipment:
    return (
        Shipment.objects.for_user(user)
        .select_related("run__lab", "run__donor__coi", "created_by")
        .prefetch_related(
            Prefetch(
                "logger_files",
                queryset=LoggerFile.objects.select_related("deviation", "uploaded_by").order_by(
                    "uploaded_at", "pk"
                ),
            )
        )
        .get(pk=shipment_id)
    )


def handoff_for_user(*, handoff_id: int, user: Person) -> HandOff:
    return (
        HandOff.objects.for_user(user)
        .select_related("item__coi", "run__lab", "sent_by", "received_by")
        .get(pk=handoff_id)
    )


@dataclass
class ChainLink:
    handoff: HandOff
    gap: str = ""  # why this hand-off breaks the chain ("" when it does not)


@dataclass
class ItemChain:
    item: Item
    links: list[ChainLink] = field(default_factory=list)

    @property
    def gaps(self) -> list[ChainLink]:
        return [link for link in self.links if link.gap]

    @property
    def where(self) -> str:
        last = self.links[-1].handoff if self.links else None
        if last is None:
            return ""
        return last.to_location if last.received_at else f"→ {last.to_location}"


def custody_chain(*, run: Run) -> list[ItemChain]:
    """Each item of ``run`` with its hand-offs in order; a hand-off that starts somewhere other
    than where the one before delivered the item is a gap (the item arrived where no hand-off
    sent it), and so is one sent while the one before was never received. Two queries."""
    chains = {item.pk: ItemChain(item=item) for item in items_of_run(run=run)}
    handoffs = (
        HandOff.objects.for_lab(run.lab_id)
        .filter(run=run)
        .select_related("sent_by", "received_by", "shipment")
        .order_by("sent_at", "pk")
    )
    previous: dict[int, HandOff] = {}
    for handoff in handoffs:
        chain = chains.get(handoff.item_id)
        if chain is None:
            continue
        handoff.item = chain.item
        before = previous.get(handoff.item_id)
        gap = ""
        if before is not None:
            if before.received_at is None:
                gap = f"sent again before the hand-off to {before.to_location} was received"
            elif before.to_location.casefold() != handoff.from_location.casefold():
                gap = (
                    f"left {handoff.from_location} but the last hand-off delivered it to "
                    f"{before.to_location}"
                )
        chain.links.append(ChainLink(handoff=handoff, gap=gap))
        previous[handoff.item_id] = handoff
    return list(chains.values())


def custody_for_batch_record(run: Run) -> list[dict]:
    """The custody chain as plain rows for the batch record (one per hand-off, in order):
    item, kind, from, to, sent, received, condition, temperature, scans, gap."""
    rows = []
    for chain in custody_chain(run=run):
        for link in chain.links:
            h = link.handoff
            rows.append(
                {
                    "item": chain.item.item_id,
                    "kind": chain.item.get_kind_display(),
                    "from": f"{h.from_party} ({h.from_location})",
                    "to": f"{h.to_party} ({h.to_location})",
                    "sent_at": h.sent_at,
                    "sent_by": h.sent_by.get_username(),
                    "received_at": h.received_at,
                    "received_by": h.received_by.get_username() if h.received_by else "",
                    "condition": h.get_condition_display() if h.condition else "",
                    "temperature_c": h.temperature_c,
                    "scanned": bool(h.sent_scan) and (bool(h.received_scan) or not h.received_at),
                    "shipment": f"SH-{h.shipment_id}" if h.shipment_id else "",
                    "gap": link.gap,
                }
            )
    return rows


def identity_scans_for_batch_record(run: Run) -> list[dict]:
    """The identity scans of ``run`` as plain rows: checkpoint, scanned, verdict, who, witness."""
    return [
        {
            "checkpoint": scan.checkpoint.name,
            "stage": scan.stage_run.stage.name,
            "scanned": scan.scanned,
            "verdict": scan.get_verdict_display(),
            "passed": scan.passed,
            "reason": scan.reason,
            "method": scan.get_method_display(),
            "scanned_by": scan.scanned_by.get_username(),
            "scanned_at": scan.scanned_at,
            "witness": scan.witness_signature.signer_name if scan.witness_signature else "",
        }
        for scan in scans_of_run(run=run)
    ]


def manual_identity_entries(run: Run) -> list[dict]:
    """For review by exception: the identity entries typed by hand and every witnessed scan of
    ``run`` (who typed, who witnessed, what, the verdict)."""
    scans = scans_of_run(run=run).filter(method=ScanMethod.MANUAL) | scans_of_run(run=run).filter(
        witness_signature__isnull=False
    )
    return [
        {
            "kind": "identity_manual_entry"
            if scan.method == ScanMethod.MANUAL
            else "identity_witnessed",
            "object_type": "custody.identityscan",
            "object_id": scan.pk,
            "stage_run": scan.stage_run_id,
            "checkpoint": scan.checkpoint.name,
            "scanned": scan.scanned,
            "verdict": scan.verdict,
            "by": scan.scanned_by.get_username(),
            "witness": scan.witness_signature.signer_name if scan.witness_signature else "",
            "at": scan.scanned_at,
        }
        for scan in scans.order_by("scanned_at", "pk").distinct()
    ]


def latest_scans_by_checkpoint(*, run: Run) -> dict[tuple[int, int], IdentityScan]:
    """The last scan of each (stage run, checkpoint) of ``run``."""
    latest: dict[tuple[int, int], IdentityScan] = {}
    for scan in scans_of_run(run=run):
        latest[(scan.stage_run_id, scan.checkpoint_id)] = scan
    return latest


def scans_by_stage_run(*, run: Run) -> dict[int, list[IdentityScan]]:
    grouped: dict[int, list[IdentityScan]] = defaultdict(list)
    for scan in scans_of_run(run=run):
        grouped[scan.stage_run_id].append(scan)
    return grouped
