"""Personal tokens and the caller: ``auth/token/``, ``auth/tokens/``, ``me/``."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.response import Response
from rest_framework.views import APIView

from labs.selectors import memberships_for_user
from protocol_tracker.api.models import PersonalToken
from protocol_tracker.api.pagination import IdCursorPagination
from protocol_tracker.api.permissions import IsPerson
from protocol_tracker.api.schema import error_codes
from protocol_tracker.api.serializers.common import MAX_ID
from protocol_tracker.api.serializers.labs import (
    MeSerializer,
    PersonalTokenSerializer,
    TokenIssuedSerializer,
    TokenRequestSerializer,
)
from protocol_tracker.api.services import personal_token_issue, personal_token_revoke
from protocol_tracker.api.throttling import TokenIssueThrottle
from protocol_tracker.api.views.base import ID_PATTERN
from protocol_tracker.api.views.notifications import calendar_url
from protocol_tracker.reminders.selectors import calendar_token_for


class TokenView(APIView):
    """Exchange a username and password for a personal token; revoke the token in use."""

    def get_authenticators(self):
        # Getting a token needs no prior authentication (and no CSRF token).
        if getattr(self.request, "method", None) == "POST":
            return []
        return super().get_authenticators()

    def get_authenticate_header(self, request) -> str:
        # Wrong credentials are a 401 (DRF makes it a 403 when no scheme is announced).
        return "Token"

    def get_permissions(self):
        if getattr(self.request, "method", None) == "POST":
            return [permissions.AllowAny()]
        return [IsPerson()]

    def get_throttles(self):
        if getattr(self.request, "method", None) == "POST":
            return [TokenIssueThrottle()]
        return super().get_throttles()

    @extend_schema(
        operation_id="auth_token_create",
        request=TokenRequestSerializer,
        responses={201: TokenIssuedSerializer},
        auth=[],
        summary="Get a personal token",
        description="Send `username` and `password`; the `token` in the answer is shown once. "
        "Send it as `Authorization: Token <token>`. Five wrong passwords lock the "
        "username from that address for an hour (429).",
    )
    @error_codes(extra=("401",), omit=("409",))
    def post(self, request):
        serializer = TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = authenticate(request._request, username=data["username"], password=data["password"])
        if getattr(request._request, "axes_locked_out", False):
            # django-axes would replace our answer with its HTML lockout page; the API keeps
            # its own problem shape instead (the lockout itself stays in force).
            request._request.axes_locked_out = False
            raise Throttled(detail=_("Too many failed logins for this username; try again later."))
        if user is None or not user.is_active:
            raise AuthenticationFailed(_("Wrong username or password."))
        token, secret = personal_token_issue(user=user, name=data.get("name") or "")
        body = {
            "token": secret,
            "id": token.pk,
            "name": token.name,
            "prefix": token.prefix,
            "created_at": token.created_at,
        }
        return Response(TokenIssuedSerializer(body).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="auth_token_destroy",
        request=None,
        responses={204: OpenApiResponse(description="The token used for this call is revoked.")},
        summary="Revoke the token in use",
    )
    def delete(self, request):
        if isinstance(request.auth, PersonalToken):
            personal_token_revoke(token=request.auth, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PersonalTokenViewSet(
    mixins.ListModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    """The caller's personal tokens (never their secrets); DELETE revokes one."""

    permission_classes = [IsPerson]
    serializer_class = PersonalTokenSerializer
    pagination_class = IdCursorPagination
    lookup_value_regex = ID_PATTERN
    filter_backends: list = []

    def get_queryset(self):
        return PersonalToken.objects.filter(user=self.request.user)

    def get_object(self):
        if int(self.kwargs["pk"]) > MAX_ID:
            raise Http404
        return super().get_object()

    @extend_schema(responses={204: OpenApiResponse(description="Revoked.")})
    def destroy(self, request, *args, **kwargs):
        personal_token_revoke(token=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    permission_classes = [IsPerson]

    @extend_schema(responses=MeSerializer, summary="The caller, their labs and roles")
    def get(self, request):
        user = request.user
        memberships = memberships_for_user(user)
        body = {
            "id": user.pk,
            "username": user.get_username(),
            "email": user.email,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "labs": [
                {
                    "id": m.lab.pk,
                    "name": m.lab.name,
                    "slug": m.lab.slug,
                    "timezone": m.lab.timezone,
                    "role": m.role,
                }
                for m in memberships
            ],
            "calendar_url": calendar_url(request, calendar_token_for(user)),
        }
        return Response(MeSerializer(body).data)
