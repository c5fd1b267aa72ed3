"""A lab's standing chain-of-identity objects, built through the services: a protocol whose
first stage has an identity checkpoint (a blood tube) and a computed draw-to-processing time,
and whose second a two-person bag check; a working run with labelled items; another donor's
run with a tube of its own (the wrong label)."""

from __future__ import annotations

from dataclasses import dataclass

from protocol_tracker.custody import services as custody
from protocol_tracker.custody.models import Item
from protocol_tracker.protocols.models import CheckpointTemplate
from protocol_tracker.protocols.services import protocol_import
from protocol_tracker.runs import services as run_services
from protocol_tracker.runs.models import Run, StageRun
from tests.builders.custody import item, payload
from tests.builders.definitions import checkpoint_definition, stage_definition
from tests.builders.runs import active_run


def custody_definition(code: str = "custody-test") -> dict:
    return {
        "code": code,
        "name": "Custody (test)",
        "description": "identity and custody test protocol",
        "stages": [
            stage_definition(
                "receipt",
                24,
                name="Blood receipt",
                kind="collection",
                early=24,
                late=24,
                checkpoints=[
                    checkpoint_definition(
                        "tube_identity",
                        assay="identity_scan",
                        name="Tube label scanned",
                        value_type="identity",
                        spec={
                            "expected": "match",
                            "item_kinds": ["blood_tube"],
                            "witness": "manual",
                        },
                        recorded_by="person",
                    ),
                    checkpoint_definition(
                        "draw_to_processing",
                        assay="draw_to_processing",
                        name="Draw to processing",
                        unit="h",
                        spec={"max": 24},
                        recorded_by="system",
                    ),
                ],
            ),
            stage_definition(
                "formulate",
                24,
                name="Formulation",
                kind="release",
                early=24,
                late=24,
                depends_on=["receipt"],
                checkpoints=[
                    checkpoint_definition(
                        "bag_identity",
                        assay="identity_scan",
                        name="Bag label, two-person check",
                        value_type="identity",
                        spec={"expected": "match", "item_kinds": ["bag"], "witness": "always"},
                        recorded_by="person",
                    ),
                ],
            ),
        ],
    }


@dataclass
class CustodyWorld:
    lab: object
    worker: object
    run: Run
    stage_run: StageRun
    checkpoint: CheckpointTemplate
    computed: CheckpointTemplate
    tube: Item
    vial: Item
    other_run: Run
    other_tube: Item

    @property
    def coi(self) -> str:
        return self.run.donor.coi.value

    def good_scan(self) -> str:
        return payload(self.tube)


def custody_world(lab, worker, *, blood_first: bool = False) -> CustodyWorld:
    """``blood_first``: a received blood shipment before the receipt stage starts (so its
    draw-to-processing time waits to be computed)."""
    protocol = protocol_import(lab=lab, definition=custody_definition())
    run = active_run(protocol, worker)
    if blood_first:
        from tests.builders.custody import blood_shipment

        blood_shipment(run, worker)
    sr = run_services.stage_start(
        stage_run=StageRun.objects.get(run=run, stage__key="receipt"), actor=worker
    )
    other = active_run(protocol, worker)
    run = Run.objects.select_related("donor__coi", "lab", "protocol").get(pk=run.pk)
    return CustodyWorld(
        lab=lab,
        worker=worker,
        run=run,
        stage_run=StageRun.objects.select_related("run__donor__coi", "stage").get(pk=sr.pk),
        checkpoint=CheckpointTemplate.objects.get(protocol=protocol, key="tube_identity"),
        computed=CheckpointTemplate.objects.get(protocol=protocol, key="draw_to_processing"),
        tube=item(run, worker, "blood_tube"),
        vial=item(run, worker, "vial"),
        other_run=other,
        other_tube=item(other, worker, "blood_tube"),
    )


def custody_objects(lab, worker) -> dict[str, int]:
    """One of each chain-of-custody record in ``lab``, by the first segment of their routes
    (for the GET walk): item, scan, hand-off, shipment, label print."""
    from datetime import timedelta

    from django.utils import timezone

    world = custody_world(lab, worker)
    scan = custody.identity_scan_record(
        stage_run=world.stage_run,
        checkpoint=world.checkpoint,
        scanned=world.good_scan(),
        actor=worker,
    )
    now = timezone.now()
    shipment = custody.shipment_create(
        run=world.run,
        kind="blood",
        courier="Courier",
        origin="Ward",
        destination="Lab",
        range_min_c=15,
        range_max_c=25,
        packed_at=now - timedelta(hours=2),
        actor=worker,
    )
    handoff = custody.handoff_send(
        item=world.tube,
        from_party="Nurse",
        from_location="Ward",
        to_party="Lab",
        to_location="Lab",
        sent_at=now - timedelta(hours=1),
        scanned=world.good_scan(),
        actor=worker,
    )
    printed = custody.run_labels_print(run=world.run, template="cryovial", count=1, actor=worker)
    return {
        "custody-items": world.tube.pk,
        "identity-scans": scan.pk,
        "handoffs": handoff.pk,
        "shipments": shipment.pk,
        "label-prints": printed.record.pk,
        "labels": printed.record.pk,
        "computed-results": scan.qc_result_id,
        "scan_stage": world.stage_run.pk,
        "scan_checkpoint": world.checkpoint.pk,
    }


__all__ = ["CustodyWorld", "custody", "custody_definition", "custody_objects", "custody_world"]


# --- for the API access matrix: one custody world per lab world, made when first asked --------


def cw_of(world) -> CustodyWorld:
    """The custody world of an API ``LabWorld`` (built once, kept in ``world.extra``)."""
    if "cw" not in world.extra:
        cw = custody_world(world.lab, world.worker)
        custody.identity_scan_record(
            stage_run=cw.stage_run,
            checkpoint=cw.checkpoint,
            scanned=cw.good_scan(),
            actor=cw.worker,
        )
        world.extra["cw"] = cw
        world.extra["shipment"] = shipment_of(cw)
        world.extra["handoff"] = handoff_of(cw, cw.tube)
        world.extra["print"] = custody.run_labels_print(
            run=cw.run, template="cryovial", count=2, actor=cw.worker
        ).record
    return world.extra["cw"]


def shipment_of(cw: CustodyWorld):
    from datetime import timedelta

    from django.utils import timezone

    return custody.shipment_create(
        run=cw.run, kind="product", courier="Cold chain", origin="Lab", destination="Clinic",
        range_min_c=2, range_max_c=8, packed_at=timezone.now() - timedelta(hours=3),
        actor=cw.worker,
    )  # fmt: skip


def handoff_of(cw: CustodyWorld, it: Item):
    from datetime import timedelta

    from django.utils import timezone

    return custody.handoff_send(
        item=it, from_party="Nurse", from_location="Ward", to_party="Lab", to_location="Lab",
        sent_at=timezone.now() - timedelta(hours=1), scanned=payload(it), actor=cw.worker,
    )  # fmt: skip


def logger_csv() -> bytes:
    from datetime import timedelta

    from django.utils import timezone

    start = timezone.now() - timedelta(hours=2)
    rows = ["time,temperature_c"] + [
        f"{(start + timedelta(minutes=5 * i)).isoformat()},5.0" for i in range(12)
    ]
    return ("\n".join(rows) + "\n").encode()


def cw_of_scenario(scenario) -> CustodyWorld:
    """The custody world of a web ``Scenario`` (built once, kept on it): a scanned tube, a
    shipment, a hand-off on its way and a label print."""
    cached = getattr(scenario, "_custody", None)
    if cached is None:
        worker = scenario.run.created_by
        cached = custody_world(scenario.run.lab, worker)
        cached.shipment = shipment_of(cached)
        cached.handoff = handoff_of(cached, cached.tube)
        cached.label_print = custody.run_labels_print(
            run=cached.run, template="cryovial", count=1, actor=worker
        ).record
        scenario._custody = cached
    return cached
