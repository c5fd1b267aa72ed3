"""Admin for protocol templates: every save goes through the services.

Drafts can be designed here (add / change forms call ``protocol_create_draft``,
``stage_template_add``, ``checkpoint_template_update``, ...); published and retired versions and
everything under them are view-only. Publishing, new versions and retiring are admin actions.
Nothing is deleted from the admin (discard a draft through the web designer or the service).
The richer designer (reordering, diff) is the web UI's.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpResponseRedirect

from labs.admin import ADMIN_ROLES, LabScopedAdmin
from protocol_tracker.core.errors import DomainError
from protocol_tracker.protocols import services
from protocol_tracker.protocols.models import (
    CheckpointTemplate,
    ProtocolStatus,
    ProtocolTemplate,
    StageTemplate,
    TaskTemplate,
)


def _protocol_of(obj) -> ProtocolTemplate | None:
    if obj is None:
        return None
    if isinstance(obj, ProtocolTemplate):
        return obj
    if isinstance(obj, TaskTemplate):
        return obj.stage.protocol
    return obj.protocol


class ServiceBackedAdmin(LabScopedAdmin):
    """Read-only once the protocol is frozen; saves call ``create`` / ``update`` services."""

    def has_change_permission(self, request, obj=None):
        protocol = _protocol_of(obj)
        if protocol is not None and protocol.is_frozen:
            return False
        return super().has_change_permission(request, obj)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # The admin wraps this view in a transaction; a domain error rolls the save back.
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as exc:
            detail = "; ".join(f"{k}: {', '.join(v)}" for k, v in exc.fields.items())
            self.message_user(request, f"{exc.message} {detail}".strip(), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def save_related(self, request, form, formsets, change):
        # Related rows (depends_on) were written by the service in save_model.
        return None

    # Choosable parents and dependencies: drafts of the labs the user administers.
    draft_fields: dict[str, str] = {}

    def _draft_queryset(self, db_field, request):
        qs = db_field.related_model.objects.all()
        if not request.user.is_superuser:
            qs = qs.for_user(request.user, roles=ADMIN_ROLES)
        return qs.filter(**{self.draft_fields[db_field.name]: ProtocolStatus.DRAFT})

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name in self.draft_fields:
            kwargs["queryset"] = self._draft_queryset(db_field, request)
            return admin.ModelAdmin.formfield_for_foreignkey(self, db_field, request, **kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name in self.draft_fields:
            kwargs["queryset"] = self._draft_queryset(db_field, request).select_related("protocol")
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    @staticmethod
    def _changes(form) -> dict:
        return {f: form.cleaned_data[f] for f in form.changed_data}

    @staticmethod
    def _adopt(obj, saved) -> None:
        obj.__dict__.update({k: v for k, v in saved.__dict__.items() if k != "_state"})
        obj._state.adding = False


class StageInline(admin.TabularInline):
    model = StageTemplate
    fields = ("order", "key", "name", "kind", "expected_duration", "window_early", "window_late")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ProtocolTemplate)
class ProtocolTemplateAdmin(ServiceBackedAdmin):
    list_display = ("code", "version", "name", "status", "lab", "published_at", "published_by")
    list_filter = ("status", "lab")
    search_fields = ("code", "name")
    inlines = [StageInline]
    # Publishing and retiring are a reviewer's e-signed acts (change control): the web UI and the
    # API, never an admin bulk action.
    actions = ["new_version"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("lab", "code", "name", "description")
        return (
            "lab",
            "code",
            "version",
            "status",
            "name",
            "description",
            "previous_version",
            "created_by",
            "created_at",
            "published_by",
            "published_at",
            "definition_hash",
        )

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return (
            "lab",
            "code",
            "version",
            "status",
            "previous_version",
            "created_by",
            "created_at",
            "published_by",
            "published_at",
            "definition_hash",
        )

    def save_model(self, request, obj, form, change):
        if change:
            saved = services.protocol_update(
                protocol=obj, actor=request.user, **self._changes(form)
            )
        else:
            data = form.cleaned_data
            saved = services.protocol_create_draft(
                lab=data["lab"], code=data["code"], name=data["name"],
                description=data.get("description", ""), actor=request.user,
            )  # fmt: skip
        self._adopt(obj, saved)

    def _each(self, request, queryset, verb: str, call) -> None:
        done = 0
        for protocol in queryset.order_by("pk"):
            try:
                result = call(protocol)
            except DomainError as exc:
                self.message_user(request, f"{protocol}: {exc.message}", messages.ERROR)
            else:
                done += 1
                self.message_user(request, f"{result}: {verb}.", messages.SUCCESS)
        if not done:
            self.message_user(request, f"Nothing {verb}.", messages.WARNING)

    @admin.action(description="Create a new draft version from the selected")
    def new_version(self, request, queryset):
        self._each(
            request,
            queryset,
            "new draft version created",
            lambda p: services.protocol_new_version(protocol=p, actor=request.user),
        )


@admin.register(StageTemplate)
class StageTemplateAdmin(ServiceBackedAdmin):
    list_display = ("protocol", "order", "key", "name", "kind", "expected_duration")
    list_filter = ("kind", "protocol__status")
    search_fields = ("key", "name", "protocol__code")
    list_select_related = ("protocol",)
    fields = (
        "protocol",
        "key",
        "order",
        "name",
        "kind",
        "expected_duration",
        "window_early",
        "window_late",
        "reminder_lead",
        "depends_on",
        "description",
        "source",
    )
    filter_horizontal = ("depends_on",)
    draft_fields = {"protocol": "status", "depends_on": "protocol__status"}

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if "order" in form.base_fields:
            form.base_fields["order"].required = False  # empty: after the last stage
        return form

    def get_readonly_fields(self, request, obj=None):
        return ("protocol",) if obj is not None else ()

    def save_model(self, request, obj, form, change):
        changes = self._changes(form)
        if "depends_on" in changes:
            changes["depends_on"] = [s.key for s in changes["depends_on"]]
        if change:
            saved = services.stage_template_update(stage=obj, actor=request.user, **changes)
        else:
            data = form.cleaned_data
            saved = services.stage_template_add(
                protocol=data["protocol"], key=data["key"], name=data["name"], kind=data["kind"],
                expected_duration=data["expected_duration"], window_early=data["window_early"],
                window_late=data["window_late"], reminder_lead=data.get("reminder_lead"),
                depends_on=[s.key for s in data.get("depends_on") or ()],
                description=data.get("description", ""), source=data.get("source", ""),
                order=data.get("order"), actor=request.user,
            )  # fmt: skip
        self._adopt(obj, saved)


@admin.register(TaskTemplate)
class TaskTemplateAdmin(ServiceBackedAdmin):
    list_display = ("stage", "key", "name", "every", "on_days")
    search_fields = ("key", "name")
    list_select_related = ("stage__protocol",)
    fields = ("stage", "key", "name", "every", "on_days", "description")
    draft_fields = {"stage": "protocol__status"}

    def get_readonly_fields(self, request, obj=None):
        return ("stage",) if obj is not None else ()

    def save_model(self, request, obj, form, change):
        if change:
            saved = services.task_template_update(
                task=obj, actor=request.user, **self._changes(form)
            )
        else:
            data = form.cleaned_data
            saved = services.task_template_add(
                stage=data["stage"], key=data["key"], name=data["name"], every=data.get("every"),
                on_days=data.get("on_days"), description=data.get("description", ""),
                actor=request.user,
            )  # fmt: skip
        self._adopt(obj, saved)


@admin.register(CheckpointTemplate)
class CheckpointTemplateAdmin(ServiceBackedAdmin):
    list_display = ("protocol", "stage", "key", "name", "assay", "unit", "blocking")
    list_filter = ("blocking", "value_type", "protocol__status")
    search_fields = ("key", "name", "assay")
    list_select_related = ("protocol", "stage")
    fields = (
        "stage",
        "key",
        "order",
        "assay",
        "name",
        "metric",
        "unit",
        "value_type",
        "spec",
        "blocking",
        "recorded_by",
        "analyte",
        "pending_allowed",
        "retest_every_passages",
        "retest_every_days",
        "requires_consent",
        "source",
        "notes",
    )
    draft_fields = {"stage": "protocol__status"}

    def get_readonly_fields(self, request, obj=None):
        return ("stage",) if obj is not None else ()

    def save_model(self, request, obj, form, change):
        if change:
            saved = services.checkpoint_template_update(
                checkpoint=obj, actor=request.user, **self._changes(form)
            )
        else:
            data = dict(form.cleaned_data)
            stage = data.pop("stage")
            data.pop("order", None)
            saved = services.checkpoint_template_add(stage=stage, actor=request.user, **data)
        self._adopt(obj, saved)
