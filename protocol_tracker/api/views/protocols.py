"""Protocol versions: read them; lab admins create drafts, publish, version and retire."""

from __future__ import annotations

from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response

from labs.models import CAN_ADMINISTER, CAN_REVIEW, Lab
from labs.selectors import labs_for_user, role_in_lab
from protocol_tracker.api.filters import ProtocolFilter
from protocol_tracker.api.idempotency import idempotent
from protocol_tracker.api.permissions import describe_roles
from protocol_tracker.api.principals import actor_of
from protocol_tracker.api.serializers.protocols import (
    ConventionConfirmSerializer,
    ConventionSerializer,
    ProtocolApprovalSerializer,
    ProtocolCreateSerializer,
    ProtocolDetailSerializer,
    ProtocolListSerializer,
    ProtocolPublishSerializer,
    ProtocolRetireSerializer,
)
from protocol_tracker.api.views.base import LabScopedViewSet
from protocol_tracker.protocols import selectors, services
from protocol_tracker.protocols.models import ProtocolTemplate


def lab_for_create(request, lab: Lab | None, roles) -> Lab:
    """The lab a create targets: the one given, else the only lab where the caller may."""
    user = request.user
    if lab is not None:
        if role_in_lab(user, lab.pk) not in {str(r) for r in roles}:
            raise PermissionDenied(
                _("This needs the %(roles)s role in this lab.") % {"roles": describe_roles(roles)}
            )
        return lab
    role_in_lab(user, 0)
    candidates = [
        lab_id
        for lab_id, role in getattr(user, "_lab_roles", {}).items()
        if role in {str(r) for r in roles}
    ]
    if len(candidates) != 1:
        raise ValidationError({"lab": [_("Required: you may do this in several labs.")]})
    return labs_for_user(user).get(pk=candidates[0])


@extend_schema_view(
    list=extend_schema(summary="Protocol versions of your labs"),
    retrieve=extend_schema(summary="A protocol version with its stages, tasks and checkpoints"),
)
class ProtocolViewSet(LabScopedViewSet):
    model = ProtocolTemplate
    selector = staticmethod(selectors.protocols_visible_to)
    serializer_class = ProtocolDetailSerializer
    serializers = {
        "list": ProtocolListSerializer,
        "create": ProtocolCreateSerializer,
        "publish": ProtocolPublishSerializer,
        "retire": ProtocolRetireSerializer,
        "conventions_confirm": ConventionConfirmSerializer,
    }
    filterset_class = ProtocolFilter
    instrument_actions = frozenset({"list", "retrieve"})
    action_roles = {
        "create": CAN_ADMINISTER,
        "publish": CAN_REVIEW,
        "new_version": CAN_ADMINISTER,
        "retire": CAN_REVIEW,
        "conventions_confirm": CAN_REVIEW,
    }

    def retrieve(self, request, *args, **kwargs):
        try:
            protocol = selectors.protocol_detail(
                protocol_id=int(kwargs["pk"]), viewer=actor_of(request)
            )
        except (ProtocolTemplate.DoesNotExist, ValueError, OverflowError):
            raise Http404 from None
        return Response(self.get_serializer(protocol).data)

    @extend_schema(
        request=ProtocolCreateSerializer,
        responses={201: ProtocolDetailSerializer},
        summary="Create a draft (empty, or whole from `stages`)",
    )
    @idempotent
    def create(self, request):
        data = self.validated()
        lab = lab_for_create(request, data.get("lab"), CAN_ADMINISTER)
        if data.get("stages") is not None:
            definition = {
                "code": data["code"],
                "name": data["name"],
                "description": data["description"],
                "stages": data["stages"],
            }
            protocol = services.protocol_import(
                lab=lab, definition=definition, actor=request.user, publish=False
            )
        else:
            protocol = services.protocol_create_draft(
                lab=lab,
                code=data["code"],
                name=data["name"],
                description=data["description"],
                actor=request.user,
            )
        return self._detail(protocol, status.HTTP_201_CREATED)

    def _detail(self, protocol, status_code=status.HTTP_200_OK):
        fresh = selectors.protocol_detail(protocol_id=protocol.pk, viewer=self.request.user)
        return self.output(
            fresh,
            ProtocolDetailSerializer,
            status_code=status_code,
            headers={"Location": f"/api/v1/protocols/{protocol.pk}/"}
            if status_code == status.HTTP_201_CREATED
            else None,
        )

    @extend_schema(
        request=ProtocolPublishSerializer,
        responses=ProtocolDetailSerializer,
        summary="Approve a draft for use (reviewer, not its author; signed with your password)",
    )
    @action(detail=True, methods=["post"])
    def publish(self, request, pk=None):
        protocol = self.get_object()
        data = self.validated()
        protocol = services.protocol_publish(
            protocol=protocol,
            actor=request.user,
            password=data["password"],
            reason=data["reason"],
            reviewed_hash=data["reviewed_hash"],
            retire_previous=data["retire_previous"],
        )
        return self._detail(protocol)

    @extend_schema(
        responses=ConventionSerializer(many=True),
        summary="The draft's convention-marked specs and their confirmation in the lab",
    )
    @action(detail=True, methods=["get"])
    def conventions(self, request, pk=None):
        rows = selectors.protocol_conventions(protocol=self.get_object())
        return Response(ConventionSerializer(rows, many=True).data)

    @extend_schema(
        request=ConventionConfirmSerializer,
        responses={201: ConventionSerializer(many=True)},
        summary="Confirm convention-marked specs for the lab (reviewer; one signature)",
    )
    @action(detail=True, methods=["post"], url_path="conventions/confirm")
    @idempotent
    def conventions_confirm(self, request, pk=None):
        protocol = self.get_object()
        data = self.validated()
        services.conventions_confirm(
            protocol=protocol,
            checkpoint_keys=data["checkpoint_keys"],
            actor=request.user,
            password=data["password"],
            comment=data["comment"],
        )
        rows = selectors.protocol_conventions(protocol=protocol)
        return Response(ConventionSerializer(rows, many=True).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        responses=ProtocolApprovalSerializer(many=True),
        summary="The version's change control: its signed approval (with the diff), retirement",
    )
    @action(detail=True, methods=["get"])
    def approvals(self, request, pk=None):
        rows = selectors.protocol_approvals(protocol=self.get_object())
        return Response(ProtocolApprovalSerializer(rows, many=True).data)

    @extend_schema(
        request=None,
        responses={201: ProtocolDetailSerializer},
        summary="Start a new draft version copied from this one",
    )
    @action(detail=True, methods=["post"], url_path="new-version")
    @idempotent
    def new_version(self, request, pk=None):
        draft = services.protocol_new_version(protocol=self.get_object(), actor=request.user)
        return self._detail(draft, status.HTTP_201_CREATED)

    @extend_schema(
        request=ProtocolRetireSerializer,
        responses=ProtocolDetailSerializer,
        summary="Retire a published version (reviewer, signed; no new runs on it)",
    )
    @action(detail=True, methods=["post"])
    def retire(self, request, pk=None):
        protocol = self.get_object()
        data = self.validated()
        protocol = services.protocol_retire(
            protocol=protocol, actor=request.user, password=data["password"], reason=data["reason"]
        )
        return self._detail(protocol)
