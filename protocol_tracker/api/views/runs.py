"""Donors, runs, stage runs and bench tasks: reads plus one service call per action."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from labs.models import CAN_REVIEW, CAN_WORK
from protocol_tracker.api.filters import (
    DonorFilter,
    RunFilter,
    StageRunFilter,
    TaskOccurrenceFilter,
)
from protocol_tracker.api.idempotency import idempotent
from protocol_tracker.api.pagination import AscendingIdCursorPagination
from protocol_tracker.api.serializers.materials import TaskDoneSerializer, lot_uses
from protocol_tracker.api.serializers.release import StageCompleteSerializer
from protocol_tracker.api.serializers.runs import (
    AssignSerializer,
    DonorCreateSerializer,
    DonorSerializer,
    LineageSerializer,
    ReasonSerializer,
    RejectSerializer,
    ReleaseSerializer,
    RunCreateSerializer,
    RunDetailSerializer,
    RunListSerializer,
    StageRunSerializer,
    TaskOccurrenceSerializer,
)
from protocol_tracker.api.views.base import LabScopedViewSet, LeanColumns
from protocol_tracker.api.views.materials import StageUsageActions
from protocol_tracker.api.views.protocols import lab_for_create
from protocol_tracker.outcomes import services as outcome_services
from protocol_tracker.qc import selectors as qc_selectors
from protocol_tracker.qc import services as qc_services
from protocol_tracker.runs import selectors
from protocol_tracker.runs import services as run_services
from protocol_tracker.runs.models import Donor, Run, StageRun, TaskOccurrence
from protocol_tracker.runs.services import TaskResolutionInput
from protocol_tracker.usage import services as usage_services


def _location(kind: str, pk: int) -> dict:
    return {"Location": f"/api/v1/{kind}/{pk}/"}


@extend_schema_view(
    list=extend_schema(summary="Donors of your labs (pseudonymous codes)"),
    retrieve=extend_schema(summary="One donor"),
)
class DonorViewSet(LabScopedViewSet):
    model = Donor
    selector = staticmethod(selectors.donors_for_user)
    serializer_class = DonorSerializer
    serializers = {"create": DonorCreateSerializer}
    filterset_class = DonorFilter
    action_roles = {"create": CAN_WORK}
    lean = LeanColumns(
        {
            "id": "id",
            "lab": "lab_id",
            "code": "code",
            "coi": "coi__value",
            "consent": "consent_given",
            "consent_scope": "consent_scope",
            "consent_version": "consent_version",
            "created_at": "created_at",
        }
    )

    @extend_schema(
        request=DonorCreateSerializer,
        responses={201: DonorSerializer},
        summary="Register a donor: a code and their consent",
    )
    @idempotent
    def create(self, request):
        data = self.validated()
        lab = lab_for_create(request, data.get("lab"), CAN_WORK)
        donor = run_services.donor_create(
            lab=lab,
            code=data["code"],
            consent_given=data["consent"],
            consent_scope=data["consent_scope"],
            consent_version=data["consent_version"],
            actor=request.user,
        )
        return self.output(
            donor,
            DonorSerializer,
            status_code=status.HTTP_201_CREATED,
            headers=_location("donors", donor.pk),
        )


RUN_LEAN = LeanColumns(
    {
        "id": "id",
        "lab": "lab_id",
        "code": "code",
        "status": "status",
        "protocol": "protocol_id",
        "protocol_code": "protocol__code",
        "protocol_name": "protocol__name",
        "protocol_version": "protocol__version",
        "donor": "donor_id",
        "donor_code": "donor__code",
        "coi": "donor__coi__value",
        "parent": "parent_id",
        "assignee": "assignee_id",
        "passage": "passage",
        "planned_start": "planned_start",
        "started_at": "started_at",
        "completed_at": "completed_at",
        "closed_at": "closed_at",
        "conditional_release": "conditional_release",
        "flagged": "flagged",
        "created_at": "created_at",
    }
)


@extend_schema_view(
    list=extend_schema(summary="Runs (batches) of your labs", responses=RunListSerializer),
    retrieve=extend_schema(summary="A run with its stage runs, results, deviations, signatures"),
)
class RunViewSet(LabScopedViewSet):
    model = Run
    selector = staticmethod(selectors.runs_visible_to)
    serializer_class = RunDetailSerializer
    serializers = {
        "list": RunListSerializer,
        "create": RunCreateSerializer,
        "hold": ReasonSerializer,
        "terminate": ReasonSerializer,
        "release": ReleaseSerializer,
        "reject": RejectSerializer,
    }
    filterset_class = RunFilter
    lean = RUN_LEAN
    instrument_actions = frozenset({"list"})
    action_roles = {
        "create": CAN_WORK,
        "start": CAN_WORK,
        "hold": CAN_WORK,
        "resume": CAN_WORK,
        "terminate": CAN_REVIEW,
        "release": CAN_REVIEW,
        "reject": CAN_REVIEW,
    }

    def retrieve(self, request, *args, **kwargs):
        pk = self.kwargs["pk"]
        try:
            detail = qc_selectors.run_detail(run_id=int(pk), user=request.user)
        except (Run.DoesNotExist, ValueError, OverflowError):
            raise Http404 from None
        self.check_object_permissions(request, detail)
        return Response(self.get_serializer(detail).data)

    def _detail(self, run, status_code=status.HTTP_200_OK, headers=None):
        detail = qc_selectors.run_detail(run_id=run.pk, user=self.request.user)
        return self.output(detail, RunDetailSerializer, status_code=status_code, headers=headers)

    @extend_schema(
        request=RunCreateSerializer,
        responses={201: RunDetailSerializer},
        summary="Plan a run: a published protocol, a donor, optionally a parent run",
    )
    @idempotent
    def create(self, request):
        data = self.validated()
        protocol = data["protocol"]
        self.require_role_in(protocol.lab_id)
        run = run_services.run_create(
            lab=protocol.lab,
            protocol=protocol,
            donor=data["donor"],
            actor=request.user,
            code=data.get("code"),
            parent=data.get("parent"),
            planned_start=data.get("planned_start"),
            assignee=data.get("assignee"),
        )
        return self._detail(run, status.HTTP_201_CREATED, _location("runs", run.pk))

    @extend_schema(request=None, responses=RunDetailSerializer, summary="planned → active")
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        return self._detail(run_services.run_start(run=self.get_object(), actor=request.user))

    @extend_schema(
        request=ReasonSerializer, responses=RunDetailSerializer, summary="active → on hold"
    )
    @action(detail=True, methods=["post"])
    def hold(self, request, pk=None):
        run = self.get_object()
        data = self.validated()
        return self._detail(
            run_services.run_hold(run=run, actor=request.user, reason=data["reason"])
        )

    @extend_schema(request=None, responses=RunDetailSerializer, summary="on hold → active")
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        return self._detail(run_services.run_resume(run=self.get_object(), actor=request.user))

    @extend_schema(
        request=ReasonSerializer,
        responses=RunDetailSerializer,
        summary="Stop a run for good (reviewer)",
    )
    @action(detail=True, methods=["post"])
    def terminate(self, request, pk=None):
        run = self.get_object()
        data = self.validated()
        return self._detail(
            run_services.run_terminate(run=run, actor=request.user, reason=data["reason"])
        )

    @extend_schema(
        request=ReleaseSerializer,
        responses=RunDetailSerializer,
        summary="Release with your signature (password); conditional with `pending_tests`",
    )
    @action(detail=True, methods=["post"])
    def release(self, request, pk=None):
        run = self.get_object()
        data = self.validated()
        run = outcome_services.run_release(
            run=run,
            actor=request.user,
            password=data["password"],
            pending_tests=data["pending_tests"],
            audit_trail_reviewed=data["audit_trail_reviewed"],
        )
        return self._detail(run)

    @extend_schema(
        request=RejectSerializer,
        responses=RunDetailSerializer,
        summary="Reject with your signature (password) and a reason",
    )
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        run = self.get_object()
        data = self.validated()
        run = outcome_services.run_reject(
            run=run, actor=request.user, password=data["password"], reason=data["reason"]
        )
        return self._detail(run)

    @extend_schema(responses=LineageSerializer, summary="The run's lineage tree (from its root)")
    @action(detail=True, methods=["get"])
    def lineage(self, request, pk=None):
        run = self.get_object()
        tree = selectors.run_lineage(run=run)
        nodes = []

        def visit(node, depth):
            r = node.run
            nodes.append(
                {
                    "id": r.pk,
                    "code": r.code,
                    "status": r.status,
                    "parent": r.parent_id,
                    "protocol": r.protocol_id,
                    "protocol_code": r.protocol.code,
                    "passage": r.passage,
                    "depth": depth,
                }
            )
            for child in node.children:
                visit(child, depth + 1)

        visit(tree, 0)
        body = {
            "run": run.pk,
            "root": tree.run.pk,
            "donor_code": tree.run.donor.code,
            "nodes": nodes,
        }
        return Response(LineageSerializer(body).data)


STAGE_RUN_LEAN = LeanColumns(
    {
        "id": "id",
        "run": "run_id",
        "run_code": "run__code",
        "stage": "stage_id",
        "key": "stage__key",
        "name": "stage__name",
        "kind": "stage__kind",
        "order": "order",
        "status": "status",
        "planned_start": "planned_start",
        "due_at": "due_at",
        "started_at": "started_at",
        "started_by": "started_by_id",
        "completed_at": "completed_at",
        "completed_by": "completed_by_id",
        "assignee": "assignee_id",
        "notes": "notes",
    }
)


@extend_schema_view(
    list=extend_schema(summary="Stage runs (filter by run, status, stage kind, due time)"),
    retrieve=extend_schema(summary="One stage run"),
)
class StageRunViewSet(StageUsageActions, LabScopedViewSet):
    model = StageRun
    selector = staticmethod(selectors.stage_runs_visible_to)
    serializer_class = StageRunSerializer
    serializers = {"complete": StageCompleteSerializer, "assign": AssignSerializer}
    filterset_class = StageRunFilter
    pagination_class = AscendingIdCursorPagination
    lean = STAGE_RUN_LEAN
    instrument_actions = frozenset({"list", "retrieve"})
    action_roles = {
        "start": CAN_WORK,
        "complete": CAN_WORK,
        "assign": CAN_WORK,
        "record_usage": CAN_WORK,
    }

    def _out(self, stage_run):
        fresh = self.get_queryset().get(pk=stage_run.pk)
        return self.output(fresh, StageRunSerializer)

    @extend_schema(request=None, responses=StageRunSerializer, summary="ready → in progress")
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        return self._out(run_services.stage_start(stage_run=self.get_object(), actor=request.user))

    @extend_schema(
        request=StageCompleteSerializer,
        responses=StageRunSerializer,
        summary="Complete the stage (every blocking checkpoint met; the lots and equipment of "
        "its bill recorded, or given here; open bench tasks resolved; a reason when outside the "
        "window)",
    )
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        stage_run = self.get_object()
        data = self.validated()
        return self._out(
            qc_services.stage_complete(
                stage_run=stage_run,
                actor=request.user,
                note=data["note"],
                window_reason=data["window_reason"],
                task_resolutions=[
                    TaskResolutionInput(t["occurrence"], t["resolution"], t["reason"])
                    for t in data["tasks"]
                ],
                lots=lot_uses(data["lots"]),
                equipment=data["equipment"],
            )
        )

    @extend_schema(
        request=AssignSerializer,
        responses=StageRunSerializer,
        summary="Assign the stage to someone in the lab (null unassigns)",
    )
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        stage_run = self.get_object()
        data = self.validated()
        return self._out(
            run_services.stage_assign(
                stage_run=stage_run, assignee=data["assignee"], actor=request.user
            )
        )


@extend_schema_view(
    list=extend_schema(summary="Bench task occurrences (filter by run, due time, open)"),
    retrieve=extend_schema(summary="One bench task occurrence"),
)
class TaskOccurrenceViewSet(LabScopedViewSet):
    model = TaskOccurrence
    selector = staticmethod(selectors.task_occurrences_for_user)
    serializer_class = TaskOccurrenceSerializer
    serializers = {"done": TaskDoneSerializer}
    filterset_class = TaskOccurrenceFilter
    pagination_class = AscendingIdCursorPagination
    action_roles = {"done": CAN_WORK}

    @extend_schema(
        request=TaskDoneSerializer,
        responses=TaskOccurrenceSerializer,
        summary="Log the bench task as done, with the lots its bill of materials needs",
    )
    @action(detail=True, methods=["post"])
    def done(self, request, pk=None):
        occurrence = self.get_object()
        data = self.validated()
        occurrence, _ = usage_services.task_record(
            occurrence=occurrence,
            actor=request.user,
            note=data["note"],
            lots=lot_uses(data["lots"]),
        )
        return self.output(self.get_queryset().get(pk=occurrence.pk), TaskOccurrenceSerializer)
