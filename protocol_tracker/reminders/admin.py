"""Admin for lab admins: failed sends and webhook deliveries are visible (and retryable) here.

Notifications and deliveries are read-only: they change only through services. Webhooks are
edited through ``webhook_create`` / ``webhook_update`` so that each change is audited.
"""

from django.contrib import admin, messages
from django.db import models

from labs.admin import LabScopedAdmin
from protocol_tracker.core.errors import DomainError
from protocol_tracker.reminders.models import Notification, Webhook, WebhookDelivery
from protocol_tracker.reminders.services import (
    notification_retry,
    webhook_create,
    webhook_update,
)


@admin.register(Notification)
class NotificationAdmin(LabScopedAdmin):
    read_only_model = True
    list_display = (
        "created_at",
        "lab",
        "kind",
        "object_type",
        "object_id",
        "recipient",
        "status",
        "attempts",
        "last_error",
        "sent_at",
    )
    list_filter = ("status", "kind", "lab")
    search_fields = ("recipient__username", "last_error")
    date_hierarchy = "created_at"
    list_select_related = ("lab", "recipient")
    actions = ["retry_failed"]

    @admin.action(description="Retry the selected failed sends")
    def retry_failed(self, request, queryset):
        retried = 0
        for notification in queryset.filter(status="failed").order_by("pk"):
            try:
                notification_retry(notification=notification, actor=request.user)
                retried += 1
            except DomainError as exc:
                self.message_user(request, f"#{notification.pk}: {exc.message}", messages.ERROR)
        self.message_user(request, f"Queued {retried} notification(s) to send again.")


class DeliveryInline(admin.TabularInline):
    model = WebhookDelivery
    fields = ("created_at", "event", "event_id", "status", "attempts", "last_error", "delivered_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ("-id",)

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("-id")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Webhook)
class WebhookAdmin(LabScopedAdmin):
    list_display = ("url", "lab", "events", "active", "created_at")
    list_filter = ("active", "lab")
    list_select_related = ("lab",)
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    fields = ("lab", "url", "events", "secret", "active", "description")
    inlines = [DeliveryInline]

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            saved = webhook_update(
                webhook=obj,
                actor=request.user,
                url=data["url"],
                events=data["events"],
                active=data["active"],
                secret=data.get("secret") or None,
                description=data.get("description", ""),
            )
        else:
            saved = webhook_create(
                lab=data["lab"],
                url=data["url"],
                events=data["events"],
                actor=request.user,
                secret=data.get("secret") or "",
                description=data.get("description", ""),
            )
        obj.pk = saved.pk

    def save_related(self, request, form, formsets, change):
        pass  # the inline is read-only


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(LabScopedAdmin):
    read_only_model = True
    list_display = (
        "created_at",
        "webhook",
        "event",
        "event_id",
        "status",
        "attempts",
        "last_error",
        "delivered_at",
    )
    list_filter = ("status", "event")
    list_select_related = ("webhook__lab",)
    search_fields = ("event_id",)
    readonly_fields = (
        "webhook",
        "event",
        "event_id",
        "payload",
        "status",
        "attempts",
        "last_error",
        "responses",
        "created_at",
        "delivered_at",
    )
