"""Input and output serializers of the plans API (no logic: services and selectors decide)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from core.currencies import CurrencyField
from core.params import ID_MAX
from hierarchy.models import JobFunction
from plans.models import (
    Plan,
    PlanAcknowledgement,
    PlanAssignment,
    PlanCase,
    PlanVersion,
    Quota,
)

SOURCE_HELP = (
    "The plan in the plan language as YAML or JSON text (docs/plan-language.md); "
    "or send `spec` as a JSON object instead."
)


class PlanSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    version_count = serializers.IntegerField(read_only=True, default=None)
    published_count = serializers.IntegerField(read_only=True, default=None)
    versions_url = serializers.SerializerMethodField()

    class Meta:
        model = Plan
        fields = [
            "id",
            "code",
            "name",
            "description",
            "function",
            "template",
            "created_at",
            "created_by",
            "archived_at",
            "archived_by",
            "version_count",
            "published_count",
            "versions_url",
        ]

    def get_versions_url(self, obj: Plan) -> str:
        return f"/api/v1/plans/{obj.pk}/versions/"


class PlanVersionSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = PlanVersion
        fields = [
            "id",
            "plan",
            "number",
            "status",
            "valid_from",
            "valid_to",
            "source",
            "spec",
            "spec_hash",
            "based_on",
            "note",
            "created_at",
            "created_by",
            "updated_at",
            "published_at",
            "published_by",
        ]


class PlanCreateSerializer(serializers.Serializer):  # type: ignore[type-arg]
    code = serializers.SlugField(max_length=64)
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    function = serializers.ChoiceField(choices=JobFunction.choices, default=JobFunction.OTHER)
    template = serializers.CharField(required=False, allow_blank=True, default="", max_length=64)
    # The API calls the text "source"; DRF's Field has an attribute of that name too.
    source = serializers.CharField(  # type: ignore[assignment]
        required=False, max_length=200_000, trim_whitespace=False, help_text=SOURCE_HELP
    )
    spec = serializers.DictField(required=False)
    valid_from = serializers.DateField(required=False, help_text="Proposed start of version 1")


class VersionSaveSerializer(serializers.Serializer):  # type: ignore[type-arg]
    # The API calls the text "source"; DRF's Field has an attribute of that name too.
    source = serializers.CharField(  # type: ignore[assignment]
        required=False, max_length=200_000, trim_whitespace=False, help_text=SOURCE_HELP
    )
    spec = serializers.DictField(required=False)
    valid_from = serializers.DateField(required=False)
    note = serializers.CharField(required=False, allow_blank=True, max_length=300)


class DraftCreateSerializer(serializers.Serializer):  # type: ignore[type-arg]
    based_on = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=ID_MAX,
        help_text="Version number to copy (default: the latest)",
    )


class PublishSerializer(serializers.Serializer):  # type: ignore[type-arg]
    valid_from = serializers.DateField(
        required=False, help_text="In force from this day (default: the draft's valid_from)"
    )
    carry_assignments = serializers.BooleanField(default=True)


class ArchiveSerializer(serializers.Serializer):  # type: ignore[type-arg]
    archived = serializers.BooleanField(default=True)


class PlanAssignmentSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    holder_kind = serializers.CharField(read_only=True)
    holder_name = serializers.SerializerMethodField()
    plan_version_number = serializers.IntegerField(source="plan_version.number", read_only=True)

    class Meta:
        model = PlanAssignment
        fields = [
            "id",
            "plan",
            "plan_version",
            "plan_version_number",
            "holder_kind",
            "person",
            "role",
            "node",
            "holder_name",
            "target_incentive",
            "currency",
            "valid_from",
            "valid_to",
            "created_at",
            "created_by",
        ]

    def get_holder_name(self, obj: PlanAssignment) -> str:
        holder: Any = obj.person or obj.role or obj.node
        return str(holder)


class AssignmentRowSerializer(serializers.Serializer):  # type: ignore[type-arg]
    person_id = serializers.IntegerField(required=False, min_value=1, max_value=ID_MAX)
    role_id = serializers.IntegerField(required=False, min_value=1, max_value=ID_MAX)
    node_id = serializers.IntegerField(required=False, min_value=1, max_value=ID_MAX)
    target_incentive = serializers.DecimalField(
        max_digits=20, decimal_places=4, min_value=0, help_text="Variable pay at target"
    )
    currency = CurrencyField(required=False, help_text="Default: the plan's currency")
    valid_from = serializers.DateField()
    valid_to = serializers.DateField(required=False, allow_null=True)


class AssignmentCreateSerializer(AssignmentRowSerializer):
    plan_version = serializers.IntegerField(
        min_value=1, max_value=ID_MAX, help_text="A published version's id"
    )


class BulkAssignmentSerializer(serializers.Serializer):  # type: ignore[type-arg]
    plan_version = serializers.IntegerField(min_value=1, max_value=ID_MAX)
    # ListSerializer takes max_length; the stubs do not know it.
    rows = AssignmentRowSerializer(  # type: ignore[call-arg]
        many=True, allow_empty=False, max_length=5000
    )


class AssignmentEndSerializer(serializers.Serializer):  # type: ignore[type-arg]
    valid_to = serializers.DateField(help_text="The first day the assignment no longer holds")


class PlanTemplateSerializer(serializers.Serializer):  # type: ignore[type-arg]
    key = serializers.CharField()
    name = serializers.CharField()
    function = serializers.CharField()
    summary = serializers.CharField()
    plan = serializers.DictField()
    sample = serializers.DictField()


# --- quotas -------------------------------------------------------------------------------------


class QuotaSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    holder_kind = serializers.CharField(read_only=True)
    holder_name = serializers.SerializerMethodField()

    class Meta:
        model = Quota
        fields = [
            "id",
            "holder_kind",
            "person",
            "node",
            "holder_name",
            "quota_id",
            "plan",
            "amount",
            "currency",
            "valid_from",
            "valid_to",
            "created_at",
            "created_by",
            "updated_at",
        ]

    def get_holder_name(self, obj: Quota) -> str:
        holder: Any = obj.person if obj.person_id is not None else obj.node
        return str(holder)


class QuotaCreateSerializer(serializers.Serializer):  # type: ignore[type-arg]
    person_id = serializers.IntegerField(required=False, min_value=1, max_value=ID_MAX)
    node_id = serializers.IntegerField(required=False, min_value=1, max_value=ID_MAX)
    quota_id = serializers.CharField(max_length=64, help_text="The quota id the plan spec reads")
    amount = serializers.DecimalField(max_digits=20, decimal_places=4, min_value=0)
    currency = CurrencyField(required=False, help_text="Default: the plan's currency")
    plan = serializers.IntegerField(
        required=False, min_value=1, max_value=ID_MAX, help_text="The plan whose spec names it"
    )
    valid_from = serializers.DateField()
    valid_to = serializers.DateField(help_text="Exclusive: the first day it no longer holds")


class QuotaUpdateSerializer(serializers.Serializer):  # type: ignore[type-arg]
    amount = serializers.DecimalField(max_digits=20, decimal_places=4, min_value=0, required=False)
    currency = CurrencyField(required=False)
    valid_from = serializers.DateField(required=False)
    valid_to = serializers.DateField(required=False)


class QuotaEndSerializer(serializers.Serializer):  # type: ignore[type-arg]
    valid_to = serializers.DateField()


class QuotaImportSerializer(serializers.Serializer):  # type: ignore[type-arg]
    plan = serializers.IntegerField(
        required=False, min_value=1, max_value=ID_MAX, help_text="Plan of the rows naming none"
    )
    dry_run = serializers.BooleanField(required=False, default=False)
    mode = serializers.ChoiceField(
        choices=["all_or_nothing", "partial"], required=False, default="all_or_nothing"
    )


class QuotaUploadSerializer(QuotaImportSerializer):
    file = serializers.FileField(help_text="CSV, UTF-8; the columns of docs/plans.md")


class QuotaBulkSerializer(QuotaImportSerializer):
    # ListSerializer takes max_length; the stubs do not know it.
    rows = serializers.ListField(child=serializers.DictField(), allow_empty=False, max_length=10000)


class RowErrorSerializer(serializers.Serializer):  # type: ignore[type-arg]
    line = serializers.IntegerField()
    column = serializers.CharField()
    code = serializers.CharField()
    message = serializers.CharField()
    value = serializers.CharField()


class QuotaImportResultSerializer(serializers.Serializer):  # type: ignore[type-arg]
    status = serializers.CharField()
    reason = serializers.CharField()
    counts = serializers.DictField(child=serializers.IntegerField())
    errors = RowErrorSerializer(many=True)  # type: ignore[assignment]
    quotas = QuotaSerializer(many=True)


# --- acknowledgements ----------------------------------------------------------------------------


class PlanAcknowledgementSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    person_name = serializers.CharField(source="person.full_name", read_only=True)
    plan_version_number = serializers.IntegerField(source="plan_version.number", read_only=True)

    class Meta:
        model = PlanAcknowledgement
        fields = [
            "id",
            "person",
            "person_name",
            "plan",
            "plan_version",
            "plan_version_number",
            "spec_hash",
            "acknowledged_at",
            "user",
            "ip_address",
        ]


class AcknowledgeSerializer(serializers.Serializer):  # type: ignore[type-arg]
    plan_version = serializers.IntegerField(
        min_value=1, max_value=ID_MAX, help_text="A published version assigned to you"
    )
    person_id = serializers.IntegerField(
        required=False, min_value=1, max_value=ID_MAX, help_text="Default: the signed-in person"
    )


class PlanCaseSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = PlanCase
        fields = [
            "id",
            "plan_version",
            "name",
            "person",
            "inputs_source",
            "inputs",
            "expected_total",
            "expected_components",
            "created_at",
            "created_by",
            "updated_at",
        ]


class PlanCaseWriteSerializer(serializers.Serializer):  # type: ignore[type-arg]
    name = serializers.CharField(max_length=200)
    person = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    inputs_source = serializers.CharField(
        required=False,
        max_length=100_000,
        trim_whitespace=False,
        help_text="The inputs in the engine's readable format (YAML or JSON text); or `inputs`.",
    )
    inputs = serializers.DictField(
        required=False, help_text="The inputs as a JSON object, instead of `inputs_source`."
    )
    expected_total = serializers.DecimalField(max_digits=20, decimal_places=4)
    expected_components = serializers.DictField(
        child=serializers.DecimalField(max_digits=20, decimal_places=4),
        required=False,
        default=dict,
        help_text="Optional: the expected payout of some components, each checked exactly.",
    )


class PlanCaseUpdateSerializer(PlanCaseWriteSerializer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for f in self.fields.values():
            f.required = False
        self.fields["person"].default = None
        self.fields["expected_components"].default = None


class CaseCheckSerializer(serializers.Serializer):  # type: ignore[type-arg]
    component = serializers.CharField()
    expected = serializers.CharField(allow_null=True)
    actual = serializers.CharField()
    passed = serializers.BooleanField()


class CaseResultSerializer(serializers.Serializer):  # type: ignore[type-arg]
    case = serializers.IntegerField(allow_null=True)
    name = serializers.CharField()
    person = serializers.CharField()
    passed = serializers.BooleanField()
    currency = serializers.CharField()
    expected_total = serializers.CharField()
    actual_total = serializers.CharField(allow_null=True)
    components = CaseCheckSerializer(many=True)
    error = serializers.CharField()
    differences = serializers.ListField(child=serializers.CharField())


class CaseRunSerializer(serializers.Serializer):  # type: ignore[type-arg]
    passed = serializers.IntegerField()
    failed = serializers.IntegerField()
    results = CaseResultSerializer(many=True)


# --- the scheme view (plans.scheme) -------------------------------------------------------------


class SchemeCountSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """A (name, people) pair."""

    name = serializers.CharField()
    people = serializers.IntegerField()

    def to_representation(self, instance: Any) -> dict[str, Any]:
        name, people = instance
        return {"name": name, "people": people}


class SchemePlanSerializer(serializers.Serializer):  # type: ignore[type-arg]
    plan_id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    version_number = serializers.IntegerField()
    people = serializers.IntegerField(help_text="People on the plan on the day")
    by_team = SchemeCountSerializer(many=True, help_text="People on it by team (node)")
    by_role = SchemeCountSerializer(many=True, help_text="People on it by job role")


class SchemeEdgeSerializer(serializers.Serializer):  # type: ignore[type-arg]
    plan_id = serializers.IntegerField()
    plan = serializers.CharField()
    component_id = serializers.CharField()
    component = serializers.CharField()
    kind = serializers.CharField(
        help_text="gate, team_pool, shared_milestone, pool, override or mbo"
    )
    kind_label = serializers.CharField()
    on = serializers.CharField(help_text="node, person, plan or participants")
    target_ref = serializers.CharField(help_text="The node, person or plan the spec names")
    target = serializers.CharField(help_text="Its name")
    target_plan_id = serializers.IntegerField(allow_null=True)
    measure = serializers.CharField()
    producers = serializers.IntegerField(help_text="People who produce the metric or pay read")
    producer_plans = SchemeCountSerializer(many=True, help_text="The plans those people are on")
    sentence = serializers.CharField()
    warning = serializers.CharField(help_text="Empty, or why nobody produces what it reads")


class SchemeSerializer(serializers.Serializer):  # type: ignore[type-arg]
    day = serializers.DateField()
    plans = SchemePlanSerializer(many=True)
    edges = SchemeEdgeSerializer(many=True)
    warnings = serializers.ListField(child=serializers.CharField())
    cycles = serializers.ListField(child=serializers.ListField(child=serializers.CharField()))
