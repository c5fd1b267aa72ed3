"""API for a person's notifications: ``NotificationViewSet`` (registered as ``notifications``).

- ``GET  notifications/`` mine, newest first (``?unread=true|false``)
- ``GET  notifications/{id}/``
- ``POST notifications/{id}/read/`` and ``notifications/{id}/unread/``
- ``POST notifications/read-all/``
- ``GET|PUT|PATCH notifications/preferences/`` email per kind, digest, language
- ``POST notifications/calendar/`` create my calendar URL (idempotent: the same URL while it lives)
- ``POST notifications/calendar/rotate/`` revoke the calendar URL and issue a new one

``GET`` requests here (and ``GET me/``) write nothing: a calendar URL exists only once it was
asked for with a ``POST``.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from protocol_tracker.api.serializers.common import MAX_ID
from protocol_tracker.api.serializers.notifications import (
    CalendarUrlSerializer,
    NotificationSerializer,
    PreferenceSerializer,
)
from protocol_tracker.reminders import services
from protocol_tracker.reminders.models import CalendarToken
from protocol_tracker.reminders.selectors import (
    notification_preference_for,
    notifications_for_user,
)


def calendar_url(request: HttpRequest, token: CalendarToken | None) -> str | None:
    """The absolute URL of the iCal feed that ``token`` opens (None without a token)."""
    if token is None:
        return None
    return request.build_absolute_uri(reverse("web:calendar_feed", kwargs={"token": token.secret}))


def _flag(raw: str | None) -> bool | None:
    if raw is None or raw == "":
        return None
    lowered = raw.lower()
    if lowered in ("1", "true", "yes"):
        return True
    if lowered in ("0", "false", "no"):
        return False
    raise serializers.ValidationError({"unread": ["Expected true or false."]})


class NotificationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """The caller's own notifications; another person's are indistinguishable from missing."""

    serializer_class = NotificationSerializer
    lookup_value_regex = r"[0-9]{1,19}"

    def get_object(self):
        if int(self.kwargs[self.lookup_field]) > MAX_ID:
            raise Http404
        return super().get_object()

    def get_queryset(self):
        unread = _flag(self.request.query_params.get("unread")) if self.action == "list" else None
        return notifications_for_user(self.request.user, unread=unread)

    @extend_schema(parameters=[OpenApiParameter("unread", bool, required=False)])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=None, responses=NotificationSerializer)
    @action(detail=True, methods=["post"])
    def read(self, request, pk=None):
        notification = services.notification_mark_read(
            notification=self.get_object(), user=request.user
        )
        return Response(NotificationSerializer(notification).data)

    @extend_schema(request=None, responses=NotificationSerializer)
    @action(detail=True, methods=["post"])
    def unread(self, request, pk=None):
        notification = services.notification_mark_unread(
            notification=self.get_object(), user=request.user
        )
        return Response(NotificationSerializer(notification).data)

    @extend_schema(
        request=None,
        responses={200: {"type": "object", "properties": {"marked": {"type": "integer"}}}},
    )
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request):
        return Response({"marked": services.notifications_mark_all_read(user=request.user)})

    @extend_schema(methods=["GET"], request=None, responses=PreferenceSerializer)
    @extend_schema(
        methods=["PUT", "PATCH"], request=PreferenceSerializer, responses=PreferenceSerializer
    )
    @action(detail=False, methods=["get", "put", "patch"], pagination_class=None)
    def preferences(self, request):
        if request.method == "GET":
            return Response(PreferenceSerializer(notification_preference_for(request.user)).data)
        serializer = PreferenceSerializer(data=request.data, partial=request.method == "PATCH")
        serializer.is_valid(raise_exception=True)
        preference = services.notification_preference_update(
            user=request.user, **serializer.validated_data
        )
        return Response(PreferenceSerializer(preference).data)

    @extend_schema(request=None, responses=CalendarUrlSerializer)
    @action(detail=False, methods=["post"], url_path="calendar", pagination_class=None)
    def calendar(self, request):
        token = services.calendar_token_issue(user=request.user)
        return Response({"calendar_url": calendar_url(request, token)})

    @extend_schema(request=None, responses=CalendarUrlSerializer)
    @action(detail=False, methods=["post"], url_path="calendar/rotate", pagination_class=None)
    def calendar_rotate(self, request):
        token = services.calendar_token_rotate(user=request.user, actor=request.user)
        return Response({"calendar_url": calendar_url(request, token)})
