"""``/api/v1/``: the resources, auth, the OpenAPI schema and its offline docs."""

from __future__ import annotations

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.routers import SimpleRouter

from protocol_tracker.api.views.auth import MeView, PersonalTokenViewSet, TokenView
from protocol_tracker.api.views.cellbank import (
    BoxViewSet,
    InventoryViewSet,
    PositionViewSet,
    TankViewSet,
    VesselViewSet,
    VialViewSet,
)
from protocol_tracker.api.views.clinical import RecipientViewSet, VisitViewSet
from protocol_tracker.api.views.docs import RedocView, SwaggerView
from protocol_tracker.api.views.identity import (
    ComputedResultViewSet,
    DonorIdentifiersViewSet,
    HandOffViewSet,
    IdentityScanViewSet,
    ItemViewSet,
    LabelPrintViewSet,
    RunLabelsViewSet,
    ShipmentViewSet,
)
from protocol_tracker.api.views.labs import AuditEventViewSet, LabViewSet
from protocol_tracker.api.views.materials import (
    EquipmentViewSet,
    MaterialLotViewSet,
    MaterialViewSet,
)
from protocol_tracker.api.views.notifications import NotificationViewSet
from protocol_tracker.api.views.protocols import ProtocolViewSet
from protocol_tracker.api.views.qc import (
    DeviationViewSet,
    InstrumentUploadViewSet,
    QCResultViewSet,
)
from protocol_tracker.api.views.release import (
    DispositionGroupViewSet,
    QCExportView,
    RunReleaseViewSet,
)
from protocol_tracker.api.views.runs import (
    DonorViewSet,
    RunViewSet,
    StageRunViewSet,
    TaskOccurrenceViewSet,
)

app_name = "api"

router = SimpleRouter()
router.register("labs", LabViewSet, basename="lab")
router.register("protocols", ProtocolViewSet, basename="protocol")
router.register("donors", DonorViewSet, basename="donor")
router.register("runs", RunViewSet, basename="run")
router.register("runs", RunReleaseViewSet, basename="run-release")
router.register("disposition-groups", DispositionGroupViewSet, basename="disposition-group")
router.register("stage-runs", StageRunViewSet, basename="stage-run")
router.register("task-occurrences", TaskOccurrenceViewSet, basename="task-occurrence")
router.register("qc-results", QCResultViewSet, basename="qc-result")
router.register("deviations", DeviationViewSet, basename="deviation")
router.register("audit-events", AuditEventViewSet, basename="audit-event")
router.register("instrument-uploads", InstrumentUploadViewSet, basename="instrument-upload")
router.register("notifications", NotificationViewSet, basename="notification")
router.register("auth/tokens", PersonalTokenViewSet, basename="personal-token")
router.register("custody-items", ItemViewSet, basename="custody-item")
router.register("identity-scans", IdentityScanViewSet, basename="identity-scan")
router.register("handoffs", HandOffViewSet, basename="handoff")
router.register("shipments", ShipmentViewSet, basename="shipment")
router.register("label-prints", LabelPrintViewSet, basename="label-print")
router.register("computed-results", ComputedResultViewSet, basename="computed-result")
router.register("recipients", RecipientViewSet, basename="recipient")
router.register("visits", VisitViewSet, basename="visit")
router.register("materials", MaterialViewSet, basename="material")
router.register("material-lots", MaterialLotViewSet, basename="material-lot")
router.register("equipment", EquipmentViewSet, basename="equipment")
router.register("storage/tanks", TankViewSet, basename="tank")
router.register("storage/boxes", BoxViewSet, basename="box")
router.register("storage/positions", PositionViewSet, basename="position")
router.register("vials", VialViewSet, basename="vial")
router.register("vessels", VesselViewSet, basename="vessel")
router.register("inventory", InventoryViewSet, basename="inventory")


@api_view(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
@authentication_classes([])
@permission_classes([AllowAny])
def not_found(request, path=""):
    """Anything else under /api/v1/: a problem-details 404, never an HTML page."""
    raise NotFound()


not_found.cls.schema = None  # not an operation of the API

urlpatterns = [
    path("auth/token/", TokenView.as_view(), name="auth-token"),
    path("me/", MeView.as_view(), name="me"),
    path("qc-exports/", QCExportView.as_view(), name="qc-export"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("redoc/", RedocView.as_view(url_name="api:schema"), name="redoc"),
    path(
        "runs/<int:pk>/labels/",
        RunLabelsViewSet.as_view({"get": "list", "post": "create"}),
        name="run-labels",
    ),
    path(
        "donors/<int:pk>/patient-identifiers/",
        DonorIdentifiersViewSet.as_view({"get": "kinds", "post": "create"}),
        name="donor-patient-identifiers",
    ),
    path(
        "donors/<int:pk>/patient-identifiers/reveal/",
        DonorIdentifiersViewSet.as_view({"post": "reveal"}),
        name="donor-patient-identifiers-reveal",
    ),
    *router.urls,
    re_path(r"^(?P<path>[\s\S]*)$", not_found, name="not-found"),
]
