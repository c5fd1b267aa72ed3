"""Labs, the caller (``/me/``) and personal tokens."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from labs.models import Lab, Role
from labs.selectors import role_in_lab
from protocol_tracker.api.principals import InstrumentPrincipal
from protocol_tracker.api.serializers.common import HoursField, SparseFieldsMixin


class LabSerializer(SparseFieldsMixin, serializers.ModelSerializer):
    reminder_lead_hours = HoursField(source="reminder_lead", read_only=True)
    escalation_delay_hours = HoursField(source="escalation_delay", read_only=True)
    role = serializers.SerializerMethodField(help_text="The caller's role in this lab.")

    class Meta:
        model = Lab
        fields = [
            "id",
            "name",
            "slug",
            "timezone",
            "reminder_lead_hours",
            "escalation_delay_hours",
            "digest_hour",
            "role",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=Role.choices, allow_null=True))
    def get_role(self, lab) -> str | None:
        request = self.context.get("request")
        user = getattr(request, "user", None)
        if user is None or isinstance(user, InstrumentPrincipal):
            return None
        return role_in_lab(user, lab.pk)


class MembershipOutSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The lab's id.")
    name = serializers.CharField()
    slug = serializers.CharField()
    timezone = serializers.CharField()
    role = serializers.ChoiceField(choices=Role.choices)


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.EmailField(allow_blank=True)
    first_name = serializers.CharField(allow_blank=True)
    last_name = serializers.CharField(allow_blank=True)
    labs = MembershipOutSerializer(many=True)
    calendar_url = serializers.URLField(
        allow_null=True,
        help_text="The caller's secret iCal feed of due stages and bench tasks; null until "
        "they create it with `POST /api/v1/notifications/calendar/`.",
    )


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(
        max_length=512, trim_whitespace=False, style={"input_type": "password"}, write_only=True
    )
    name = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        default="",
        help_text="A label to recognise the token by (e.g. the script).",
    )


class TokenIssuedSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send as `Authorization: Token <token>`. Shown once.")
    id = serializers.IntegerField()
    name = serializers.CharField(allow_blank=True)
    prefix = serializers.CharField()
    created_at = serializers.DateTimeField()


class PersonalTokenSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(allow_blank=True)
    prefix = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)
