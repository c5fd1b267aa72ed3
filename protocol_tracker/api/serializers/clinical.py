"""Recipients, visits and their values, CGM imports, the outcome picture."""

from __future__ import annotations

from rest_framework import serializers

from labs.models import Lab
from protocol_tracker.api.serializers.common import ScopedPrimaryKeyField, SparseFieldsMixin
from protocol_tracker.clinical.measures import Measure
from protocol_tracker.clinical.models import (
    CGMImport,
    CGMTargetSet,
    Formulation,
    InfusionRoute,
    Recipient,
    TherapyEvent,
    TherapyEventKind,
    Visit,
    VisitKind,
    VisitValue,
)
from protocol_tracker.runs.models import Donor, Run


class FormulationSerializer(serializers.ModelSerializer):
    run_code = serializers.CharField(source="run.code", read_only=True)

    class Meta:
        model = Formulation
        fields = [
            "id",
            "run",
            "run_code",
            "weight_kg",
            "volume_ml",
            "dose_cells",
            "dose_ieq",
            "route",
            "expires_at",
            "supersedes",
            "reason",
            "recorded_by",
            "recorded_at",
        ]
        read_only_fields = fields


class RecipientSerializer(SparseFieldsMixin, serializers.ModelSerializer):
    donor_code = serializers.CharField(source="donor.code", read_only=True)
    formulation = serializers.SerializerMethodField()
    baseline_visit = serializers.SerializerMethodField()

    class Meta:
        model = Recipient
        fields = [
            "id",
            "lab",
            "donor",
            "donor_code",
            "cgm_target_set",
            "formulation",
            "baseline_visit",
            "created_at",
        ]
        read_only_fields = fields

    def get_formulation(self, obj) -> dict | None:
        current = getattr(obj, "current_formulation", None)
        return FormulationSerializer(current[0]).data if current else None

    def get_baseline_visit(self, obj) -> int | None:
        visits = getattr(obj, "baseline_visits", None)
        return visits[0].pk if visits else None


class RecipientCreateSerializer(serializers.Serializer):
    lab = ScopedPrimaryKeyField(model=Lab, required=False)
    donor = ScopedPrimaryKeyField(model=Donor, help_text="The donor: autologous, the recipient.")
    cgm_target_set = serializers.ChoiceField(
        choices=CGMTargetSet.choices, default=CGMTargetSet.STANDARD
    )


class FormulationCreateSerializer(serializers.Serializer):
    run = ScopedPrimaryKeyField(model=Run, help_text="The recipient's own run.")
    weight_kg = serializers.FloatField(help_text="Body weight at formulation (kg).")
    volume_ml = serializers.FloatField(help_text="Product volume (mL).")
    dose_cells = serializers.FloatField(required=False, allow_null=True)
    dose_ieq = serializers.FloatField(required=False, allow_null=True)
    route = serializers.ChoiceField(
        choices=InfusionRoute.choices, default=InfusionRoute.NON_INTRATHECAL
    )
    expires_at = serializers.DateTimeField(help_text="Product expiry, with a time zone offset.")
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class TargetSetSerializer(serializers.Serializer):
    cgm_target_set = serializers.ChoiceField(choices=CGMTargetSet.choices)
    reason = serializers.CharField()


class TherapyEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = TherapyEvent
        fields = ["id", "recipient", "kind", "drug", "on_date", "note", "recorded_at"]
        read_only_fields = fields


class TherapyEventCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=TherapyEventKind.choices)
    on_date = serializers.DateField()
    drug = serializers.CharField(required=False, allow_blank=True, default="")
    note = serializers.CharField(required=False, allow_blank=True, default="")


class ValueInputSerializer(serializers.Serializer):
    measure = serializers.ChoiceField(choices=Measure.choices)
    value = serializers.JSONField(help_text="A number (or a decimal string).")
    unit = serializers.CharField(required=False, allow_blank=True, default="")


class VisitValueSerializer(serializers.ModelSerializer):
    class Meta:
        model = VisitValue
        fields = [
            "id",
            "measure",
            "value",
            "unit",
            "value_canonical",
            "source",
            "cgm_import",
            "supersedes",
            "reason",
            "recorded_at",
        ]
        read_only_fields = fields


class VisitSerializer(SparseFieldsMixin, serializers.ModelSerializer):
    recipient_code = serializers.CharField(source="recipient.donor.code", read_only=True)
    values = serializers.SerializerMethodField()

    class Meta:
        model = Visit
        fields = [
            "id",
            "recipient",
            "recipient_code",
            "run",
            "kind",
            "visit_date",
            "label",
            "note",
            "values",
            "recorded_at",
        ]
        read_only_fields = fields

    def get_values(self, obj) -> list[dict]:
        return VisitValueSerializer(getattr(obj, "current", []), many=True).data


class VisitCreateSerializer(serializers.Serializer):
    recipient = ScopedPrimaryKeyField(model=Recipient)
    run = ScopedPrimaryKeyField(model=Run)
    kind = serializers.ChoiceField(choices=VisitKind.choices)
    visit_date = serializers.DateField()
    label = serializers.CharField(required=False, allow_blank=True, default="", max_length=64)
    note = serializers.CharField(required=False, allow_blank=True, default="")
    values = ValueInputSerializer(many=True, required=False, default=list)


class ValuesSerializer(serializers.Serializer):
    values = ValueInputSerializer(many=True, allow_empty=False)


class CorrectValueSerializer(serializers.Serializer):
    value = serializers.IntegerField(help_text="The id of the value to correct.")
    new_value = serializers.JSONField()
    unit = serializers.CharField(required=False, allow_blank=True, default="")
    reason = serializers.CharField()


class CGMImportCreateSerializer(serializers.Serializer):
    file = serializers.FileField(
        allow_empty_file=False, help_text="Dexcom Clarity or LibreView CSV"
    )
    device_timezone = serializers.CharField(
        help_text="IANA time zone of the device, e.g. Asia/Shanghai"
    )
    unit = serializers.ChoiceField(
        choices=[("mg/dL", "mg/dL"), ("mmol/L", "mmol/L")], required=False, allow_blank=True
    )


class CGMImportSerializer(serializers.ModelSerializer):
    class Meta:
        model = CGMImport
        fields = [
            "id",
            "visit",
            "format",
            "filename",
            "sha256_original",
            "sha256_stored",
            "size_bytes",
            "device",
            "device_timezone",
            "unit",
            "summary",
            "metrics",
            "imported_at",
        ]
        read_only_fields = fields


class OutcomesSerializer(serializers.Serializer):
    """The outcome picture: visits (values in both unit systems, Igls 2018 / 2.0 and VX-880 with
    their inputs, CGM targets), series over days since transplant, events, dose per kg."""

    recipient = serializers.IntegerField()
    code = serializers.CharField()
    cgm_target_set = serializers.CharField()
    transplant_date = serializers.DateField(allow_null=True)
    egfr_threshold = serializers.FloatField()
    baseline_visit = serializers.IntegerField(allow_null=True)
    visits = serializers.ListField(child=serializers.DictField())
    series = serializers.DictField(child=serializers.ListField(child=serializers.DictField()))
    baseline = serializers.DictField()
    events = serializers.ListField(child=serializers.DictField())
    insulin_free_since_day = serializers.IntegerField(allow_null=True)
    latest_igls = serializers.CharField(allow_null=True)
    latest_day = serializers.IntegerField(allow_null=True)
    dosing = serializers.DictField(allow_null=True)
    latest_values = serializers.DictField(child=serializers.FloatField())
    schedule = serializers.ListField(
        child=serializers.DictField(),
        help_text="The protocol's follow-up visits and which kept each.",
    )
