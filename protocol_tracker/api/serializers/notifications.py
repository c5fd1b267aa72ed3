"""A person's notifications, their preferences and their calendar link."""

from __future__ import annotations

from rest_framework import serializers

from protocol_tracker.reminders.models import Notification, NotificationPreference
from protocol_tracker.reminders.rendering import notification_headline


class NotificationSerializer(serializers.ModelSerializer):
    headline = serializers.SerializerMethodField()
    lab = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    run = serializers.SerializerMethodField()
    read = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = [
            "id",
            "kind",
            "headline",
            "lab",
            "object_type",
            "object_id",
            "run",
            "due_at",
            "created_at",
            "read",
            "read_at",
            "status",
            "emailed",
        ]
        read_only_fields = fields

    def get_headline(self, obj: Notification) -> str:
        return notification_headline(obj)

    def get_run(self, obj: Notification) -> str | None:
        return (obj.context or {}).get("run") or None

    def get_read(self, obj: Notification) -> bool:
        return obj.read_at is not None


class PreferenceSerializer(serializers.ModelSerializer):
    class Meta:
        model = NotificationPreference
        fields = ["language", "digest", *NotificationPreference.EMAIL_FIELDS]


class CalendarUrlSerializer(serializers.Serializer):
    calendar_url = serializers.URLField()
