"""Incentive-data API: imports, transactions, credits, crediting rules, FX rates, KPI values."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import parsers, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import params
from core.api.base import TenantAPIView
from core.api.filters import list_parameters
from core.api.pagination import paginate
from core.currencies import CurrencyField
from core.errors import ApplicationError, NotFoundError, ValidationFailedError
from core.imports.report import FORMATS as REPORT_FORMATS
from core.imports.report import report_response
from hierarchy.access import request_access
from incentives import selectors, services
from incentives.api import filters
from incentives.mappings import FIELDS, PRESETS
from incentives.models import (
    Credit,
    CreditingRule,
    CreditRollup,
    FxRate,
    IngestBatch,
    IngestError,
    IngestKind,
    IngestMode,
    KpiValue,
    RuleKind,
    Transaction,
    TransactionKind,
)

KIND_SLUGS = {
    "transactions": IngestKind.TRANSACTIONS,
    "kpi-values": IngestKind.KPI_VALUES,
    "fx-rates": IngestKind.FX_RATES,
    "crediting-rules": IngestKind.CREDITING_RULES,
}


class PayloadTooLargeError(ApplicationError):
    code = "payload_too_large"
    status = 413


def _person_user_id(request: Request) -> int | None:
    """Return the signed-in person's user id (None for an API client)."""
    return request.user.pk if getattr(request, "membership", None) else None


def _kind(slug: str) -> str:
    if slug not in KIND_SLUGS:
        raise NotFoundError("Not found.")
    return KIND_SLUGS[slug]


# --- imports ------------------------------------------------------------------------------------


class IngestBatchSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    progress_pct = serializers.IntegerField(read_only=True)
    errors_url = serializers.SerializerMethodField()

    class Meta:
        model = IngestBatch
        fields = [
            "id",
            "kind",
            "source_format",
            "filename",
            "mapping",
            "mode",
            "dry_run",
            "status",
            "reason",
            "message",
            "rows_total",
            "rows_processed",
            "progress_pct",
            "counts",
            "error_count",
            "content_sha256",
            "size_bytes",
            "created_at",
            "finished_at",
            "errors_url",
        ]

    def to_representation(self, instance: IngestBatch) -> dict[str, Any]:
        data: dict[str, Any] = super().to_representation(instance)
        # While a worker imports, its rows are invisible: the progress channel knows more.
        progress = selectors.ingest_batch_progress(batch=instance)
        data["rows_processed"], data["progress_pct"] = progress.rows_processed, progress.pct
        return data

    def get_errors_url(self, obj: IngestBatch) -> str:
        return f"/api/v1/imports/{obj.pk}/errors.csv"


class IngestErrorSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = IngestError
        fields = ["line", "column", "code", "message", "value"]


def _batch_response(batch: IngestBatch) -> Response:
    code = status.HTTP_202_ACCEPTED if batch.finished_at is None else status.HTTP_201_CREATED
    return Response(IngestBatchSerializer(batch).data, status=code)


class IngestRowsView(TenantAPIView):
    """JSON bulk import: ``{"rows": [...], "mode", "dry_run", "mapping"}``."""

    permission = "transactions.view"
    write_permission = "transactions.change"

    class InputSerializer(serializers.Serializer):  # type: ignore[type-arg]
        rows = serializers.ListField(child=serializers.DictField(), allow_empty=False)
        mode = serializers.ChoiceField(
            choices=IngestMode.choices, default=IngestMode.ALL_OR_NOTHING
        )
        dry_run = serializers.BooleanField(default=False)
        mapping = serializers.CharField(default="", allow_blank=True)

    @extend_schema(
        summary="Import JSON rows", request=InputSerializer, responses={201: IngestBatchSerializer}
    )
    def post(self, request: Request, kind: str) -> Response:
        batch_kind = _kind(kind)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if len(data["rows"]) > settings.INGEST_JSON_MAX_ROWS:
            raise PayloadTooLargeError(
                f"At most {settings.INGEST_JSON_MAX_ROWS} rows per request; upload a CSV file "
                "for more.",
                details={"max_rows": settings.INGEST_JSON_MAX_ROWS},
            )
        batch = services.ingest_rows(
            request=services.IngestRequest(
                kind=batch_kind,
                source_format="json",
                mode=data["mode"],
                dry_run=data["dry_run"],
                mapping=data["mapping"],
            ),
            rows=data["rows"],
            created_by_id=_person_user_id(request),
        )
        return _batch_response(batch)


class IngestCsvView(TenantAPIView):
    """CSV import: a multipart ``file`` or a ``text/csv`` body; options in the query string."""

    permission = "transactions.view"
    write_permission = "transactions.change"
    parser_classes = [parsers.MultiPartParser, parsers.FileUploadParser]

    @extend_schema(
        summary="Import a CSV file",
        parameters=[
            OpenApiParameter("mode", str, enum=IngestMode.values),
            OpenApiParameter("dry_run", bool),
            OpenApiParameter("mapping", str),
            OpenApiParameter("filename", str, description="For a text/csv body"),
        ],
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
            },
            "text/csv": {"type": "string"},
        },
        responses={201: IngestBatchSerializer, 202: IngestBatchSerializer},
    )
    def post(self, request: Request, kind: str) -> Response:
        batch_kind = _kind(kind)
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length > settings.INGEST_MAX_BYTES:
            raise PayloadTooLargeError(
                f"Files are limited to {settings.INGEST_MAX_BYTES} bytes.",
                details={"max_bytes": settings.INGEST_MAX_BYTES},
            )
        if request.content_type.startswith("multipart/"):
            upload = request.FILES.get("file")
            if upload is None:
                raise ValidationFailedError(
                    "Send the CSV as the multipart field 'file'.", code="file_required"
                )
            if upload.size and upload.size > settings.INGEST_MAX_BYTES:
                raise PayloadTooLargeError(
                    f"Files are limited to {settings.INGEST_MAX_BYTES} bytes."
                )
            data, filename = upload.chunks(), upload.name or "upload.csv"
        else:
            raw = request._request
            data = iter(lambda: raw.read(1 << 20), b"")  # streamed to disk, 1 MB at a time
            filename = params.text(request, "filename", max_length=255)
        mode = params.choice(request, "mode", IngestMode.values, default=IngestMode.ALL_OR_NOTHING)
        batch = services.ingest_start(
            request=services.IngestRequest(
                kind=batch_kind,
                source_format="csv",
                mode=mode or IngestMode.ALL_OR_NOTHING,
                dry_run=params.boolean(request, "dry_run"),
                mapping=params.text(request, "mapping", max_length=100),
                filename=filename,
            ),
            data=data,
            created_by_id=_person_user_id(request),
        )
        return _batch_response(batch)


class IngestBatchListView(TenantAPIView):
    """The tenant's imports of incentive data (transactions, KPI values, FX rates, crediting
    rules), newest first, with status and counts."""

    permission = "transactions.view"

    @extend_schema(
        parameters=list_parameters(filters.IngestBatchFilter),
        responses=IngestBatchSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        return paginate(
            self,
            request,
            selectors.ingest_batch_list(),
            IngestBatchSerializer,
            filterset=filters.IngestBatchFilter,
        )


class IngestBatchDetailView(TenantAPIView):
    """One import with its status and progress (poll it while a worker runs it)."""

    permission = "transactions.view"

    @extend_schema(responses=IngestBatchSerializer)
    def get(self, request: Request, batch_id: int) -> Response:
        return Response(IngestBatchSerializer(selectors.ingest_batch_get(batch_id=batch_id)).data)


class IngestRetryView(TenantAPIView):
    """Run a failed import again with its stored file (failed on an error or a lost worker):
    the same answer as the upload (201 finished, 202 queued)."""

    permission = "transactions.view"
    write_permission = "transactions.change"

    @extend_schema(request=None, responses={201: IngestBatchSerializer, 202: IngestBatchSerializer})
    def post(self, request: Request, batch_id: int) -> Response:
        selectors.ingest_batch_get(batch_id=batch_id)  # 404 when not found or not yours
        return _batch_response(services.ingest_retry(batch_id=batch_id))


class IngestErrorListView(TenantAPIView):
    """An import's row-level errors as JSON (paginated)."""

    permission = "transactions.view"

    @extend_schema(
        summary="List an import's row errors",
        parameters=list_parameters(filters.IngestErrorFilter),
        responses=IngestErrorSerializer(many=True),
    )
    def get(self, request: Request, batch_id: int) -> Response:
        batch = selectors.ingest_batch_get(batch_id=batch_id)
        return paginate(
            self,
            request,
            selectors.ingest_error_list(batch=batch),
            IngestErrorSerializer,
            filterset=filters.IngestErrorFilter,
        )


class IngestErrorCsvView(TenantAPIView):
    """An import's row-level report as a download (line, column, code, message, value): CSV,
    or JSON with ``?fmt=json``; formula cells neutralised either way."""

    permission = "transactions.view"

    @extend_schema(
        summary="Download an import's error report",
        parameters=[OpenApiParameter("fmt", str, enum=list(REPORT_FORMATS))],
        responses={(200, "text/csv"): str, (200, "application/json"): dict},
    )
    def get(self, request: Request, batch_id: int) -> HttpResponse:
        batch = selectors.ingest_batch_get(batch_id=batch_id)
        fmt = params.choice(request, "fmt", list(REPORT_FORMATS), default="csv") or "csv"
        return report_response(
            selectors.ingest_error_list(batch=batch).iterator(),
            filename=f"import-{batch.pk}-errors",
            fmt=fmt,
        )


class ColumnMappingView(TenantAPIView):
    """Fields Quotient reads, the built-in presets and the tenant's saved mappings; POST saves
    (or replaces) a mapping by name."""

    permission = "transactions.view"
    write_permission = "transactions.change"

    class InputSerializer(serializers.Serializer):  # type: ignore[type-arg]
        name = serializers.CharField(max_length=100)
        kind = serializers.ChoiceField(choices=IngestKind.choices, default=IngestKind.TRANSACTIONS)
        columns = serializers.DictField(child=serializers.CharField(), allow_empty=False)
        defaults = serializers.DictField(child=serializers.CharField(), default=dict)

    @extend_schema(responses={200: dict})
    def get(self, request: Request) -> Response:
        return Response(
            {
                "fields": FIELDS,
                "presets": {
                    k: {"label": v["label"], "kind": v["kind"], "columns": v["columns"]}
                    for k, v in PRESETS.items()
                },
                "saved": [
                    {
                        "id": m.pk,
                        "name": m.name,
                        "kind": m.kind,
                        "columns": m.columns,
                        "defaults": m.defaults,
                    }
                    for m in selectors.column_mapping_list()
                ],
            }
        )

    @extend_schema(request=InputSerializer, responses={201: dict})
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        mapping = services.column_mapping_save(**serializer.validated_data)
        return Response(
            {
                "id": mapping.pk,
                "name": mapping.name,
                "kind": mapping.kind,
                "columns": mapping.columns,
                "defaults": mapping.defaults,
            },
            status=status.HTTP_201_CREATED,
        )


class FxConvertView(TenantAPIView):
    """Convert an amount with the tenant's rate in force on a day."""

    permission = "transactions.view"

    @extend_schema(
        summary="Convert an amount between currencies",
        parameters=[
            OpenApiParameter("amount", str, required=True, description="e.g. 1234.50"),
            OpenApiParameter("from", str, required=True, description="ISO 4217 code"),
            OpenApiParameter("to", str, required=True, description="ISO 4217 code"),
            OpenApiParameter("on", OpenApiTypes.DATE, required=True),
        ],
        responses={200: dict},
    )
    def get(self, request: Request) -> Response:
        from incentives.fx import convert, rate_on

        amount = params.amount(request, "amount")
        day = params.day(request, "on")
        if day is None:
            raise params.invalid("on", "is required (YYYY-MM-DD).")
        currency, to = params.currency(request, "from"), params.currency(request, "to")
        rate = rate_on(currency=currency, quote_currency=to, day=day)
        return Response(
            {
                "amount": str(amount),
                "from": currency,
                "to": to,
                "on": str(day),
                "rate": str(rate),
                "converted": str(
                    convert(amount=amount, currency=currency, to_currency=to, day=day)
                ),
            }
        )


# --- transactions and credits -------------------------------------------------------------------


class TransactionSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    owner_employee_id = serializers.CharField(source="owner.employee_id", default=None)
    is_current = serializers.BooleanField(read_only=True)

    class Meta:
        model = Transaction
        fields = [
            "id",
            "source",
            "external_id",
            "version",
            "is_current",
            "kind",
            "amount",
            "currency",
            "quantity",
            "booked_on",
            "closed_on",
            "collected_on",
            "owner_employee_id",
            "account",
            "product",
            "region",
            "attributes",
            "touches",
            "is_cancelled",
            "recorded_at",
            "superseded_at",
            "batch",
        ]


class CreditSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    person_employee_id = serializers.CharField(source="person.employee_id")
    person_name = serializers.CharField(source="person.full_name")
    rule_name = serializers.CharField(source="rule.name")
    transaction_external_id = serializers.CharField(source="transaction.external_id")
    period_label = serializers.CharField(source="period.label", default=None)
    belongs_to_period_label = serializers.CharField(source="belongs_to_period.label", default=None)
    share_pct = serializers.DecimalField(max_digits=9, decimal_places=4, read_only=True)

    class Meta:
        model = Credit
        fields = [
            "id",
            "transaction",
            "transaction_external_id",
            "person_employee_id",
            "person_name",
            "rule",
            "rule_name",
            "rule_version",
            "kind",
            "share_pct",
            "amount",
            "currency",
            "credit_date",
            "period_label",
            "is_correction",
            "belongs_to_period_label",
            "multiplier",
            "baseline",
            "computed_at",
            "superseded_at",
        ]


class CreditRollupSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    person_employee_id = serializers.CharField(source="person.employee_id")
    person_name = serializers.CharField(source="person.full_name")
    rule_name = serializers.CharField(source="rule.name")
    period_label = serializers.CharField(source="period.label", default=None)

    class Meta:
        model = CreditRollup
        fields = [
            "id",
            "person",
            "person_employee_id",
            "person_name",
            "rule",
            "rule_name",
            "rule_version",
            "credit_date",
            "transaction_kind",
            "region",
            "product",
            "credit_count",
            "amount",
            "currency",
            "period_label",
            "computed_at",
        ]


class RollupReachedSerializer(serializers.Serializer):  # type: ignore[type-arg]
    manager_employee_id = serializers.CharField(source="manager.employee_id")
    manager_name = serializers.CharField(source="manager.full_name")
    through_employee_id = serializers.CharField(source="credit.person.employee_id")
    credit = serializers.IntegerField(source="credit.pk")
    rule_name = serializers.CharField(source="rule.name")
    levels = serializers.IntegerField(source="level")
    amount = serializers.DecimalField(source="credit.amount", max_digits=20, decimal_places=4)
    currency = serializers.CharField(source="credit.currency")


class TransactionListView(TenantAPIView):
    """Current transactions; ``?history=true`` includes superseded versions."""

    permission = "transactions.view"

    @extend_schema(
        parameters=list_parameters(filters.TransactionFilter),
        responses=TransactionSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        qs = selectors.transaction_list(history=params.boolean(request, "history"))
        return paginate(
            self, request, qs, TransactionSerializer, filterset=filters.TransactionFilter
        )


class TransactionDetailView(TenantAPIView):
    """One transaction version, all versions of it, and who got credit for it and why."""

    permission = "transactions.view"

    @extend_schema(
        responses={
            200: inline_serializer(
                "TransactionDetail",
                {
                    "transaction": TransactionSerializer(),
                    "versions": TransactionSerializer(many=True),
                    "credits": CreditSerializer(many=True),
                    "rollups_reached": RollupReachedSerializer(many=True),
                },
            )
        }
    )
    def get(self, request: Request, transaction_id: int) -> Response:
        tx = selectors.transaction_get(transaction_id=transaction_id)
        access = request_access(request)
        credits = list(
            selectors.credit_list(access=access, filters={"transaction_id": tx.pk}, history=True)
        )
        current = [c for c in credits if c.superseded_at is None]
        return Response(
            {
                "transaction": TransactionSerializer(tx).data,
                "versions": TransactionSerializer(
                    selectors.transaction_versions(tx=tx), many=True
                ).data,
                "credits": CreditSerializer(credits, many=True).data,
                "rollups_reached": RollupReachedSerializer(
                    selectors.transaction_rollups_reached(access=access, credits=current),
                    many=True,
                ).data,
            }
        )


class CreditListView(TenantAPIView):
    """Credits: who got credit, for which deal, by which rule; filter by person, period…

    Readers of transactions see the credits the access policy lets them; an employee her own
    credits, a manager also her team's (on the days they were in her team)."""

    permission = ("transactions.view", "payouts.view.self", "payouts.view.team")

    @extend_schema(
        parameters=list_parameters(filters.CreditFilter), responses=CreditSerializer(many=True)
    )
    def get(self, request: Request) -> Response:
        qs = selectors.credit_list(
            access=request_access(request), history=params.boolean(request, "history")
        )
        return paginate(self, request, qs, CreditSerializer, filterset=filters.CreditFilter)


class CreditRollupListView(TenantAPIView):
    """Managers' roll-up totals: the team's credits summed per day, kind, region, product."""

    permission = "transactions.view"

    @extend_schema(
        summary="List managers' credit roll-ups",
        parameters=list_parameters(filters.CreditRollupFilter),
        responses=CreditRollupSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        qs = selectors.credit_rollup_list(access=request_access(request))
        return paginate(
            self, request, qs, CreditRollupSerializer, filterset=filters.CreditRollupFilter
        )


class CreditRecalculateView(TenantAPIView):
    """Recompute credits for some transactions (ids) or all; returns counts and conflicts."""

    permission = "transactions.change"

    class InputSerializer(serializers.Serializer):  # type: ignore[type-arg]
        transaction_ids = serializers.ListField(
            child=serializers.IntegerField(min_value=1), required=False, max_length=10_000
        )

        def validate_transaction_ids(self, ids: list[int]) -> list[int]:
            # One query, inside the request's tenant scope: another tenant's id "does not
            # exist", exactly like an id nobody has.
            found = set(Transaction.objects.filter(pk__in=ids).values_list("pk", flat=True))
            missing = sorted(set(ids) - found)
            if missing:
                raise serializers.ValidationError(
                    f'Invalid pk "{missing[0]}" - object does not exist.'
                )
            return ids

    @extend_schema(
        request=inline_serializer(
            "CreditRecalculateRequest",
            {
                "transaction_ids": serializers.ListField(
                    child=serializers.IntegerField(), required=False
                )
            },
        ),
        responses={200: dict},
    )
    def post(self, request: Request) -> Response:
        request_access(request).require_tenant_wide("recomputing credits")
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ids = serializer.validated_data.get("transaction_ids")
        started = services.credits_recalculate_start(
            transaction_ids=list(ids) if ids is not None else None
        )
        if started.queued:
            return Response({"status": "queued"}, status=status.HTTP_202_ACCEPTED)
        summary = started.result
        return Response(
            {
                "transactions": summary.transactions,
                "credits_written": summary.credits_written,
                "corrections_written": summary.corrections_written,
                "superseded": summary.superseded,
                "conflicts": [c.__dict__ for c in summary.conflicts[:1000]],
                "conflict_count": len(summary.conflicts),
            }
        )


# --- crediting rules ----------------------------------------------------------------------------


RULES = "changing crediting rules"  # they credit everyone in the tenant


class CreditingRuleSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = CreditingRule
        fields = [
            "id",
            "name",
            "kind",
            "priority",
            "transaction_kinds",
            "config",
            "valid_from",
            "valid_to",
            "version",
            "is_active",
        ]
        read_only_fields = ["id", "version"]


class CreditingRuleListView(TenantAPIView):
    """Crediting rules (direct, splits, territories, attribution, roll-ups) in priority order;
    POST creates one from a day on."""

    permission = "transactions.view"
    write_permission = "transactions.change"

    class InputSerializer(serializers.Serializer):  # type: ignore[type-arg]
        name = serializers.CharField(max_length=100)
        kind = serializers.ChoiceField(choices=RuleKind.choices)
        priority = serializers.IntegerField(min_value=0, default=100)
        transaction_kinds = serializers.ListField(
            child=serializers.ChoiceField(choices=TransactionKind.choices), default=list
        )
        config = serializers.DictField(default=dict)
        valid_from = serializers.DateField()
        valid_to = serializers.DateField(required=False, allow_null=True)

    @extend_schema(
        parameters=list_parameters(filters.CreditingRuleFilter),
        responses=CreditingRuleSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        return paginate(
            self,
            request,
            selectors.crediting_rule_list(),
            CreditingRuleSerializer,
            filterset=filters.CreditingRuleFilter,
        )

    @extend_schema(request=InputSerializer, responses={201: CreditingRuleSerializer})
    def post(self, request: Request) -> Response:
        request_access(request).require_tenant_wide(RULES)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        rule = services.crediting_rule_create(**serializer.validated_data)
        return Response(CreditingRuleSerializer(rule).data, status=status.HTTP_201_CREATED)


class CreditingRuleDetailView(TenantAPIView):
    """One crediting rule; PATCH changes its priority, kinds, configuration, dates or active
    flag (credits are recomputed by POST /credits/recalculate/)."""

    permission = "transactions.view"
    write_permission = "transactions.change"

    class InputSerializer(serializers.Serializer):  # type: ignore[type-arg]
        priority = serializers.IntegerField(min_value=0, required=False)
        transaction_kinds = serializers.ListField(
            child=serializers.ChoiceField(choices=TransactionKind.choices), required=False
        )
        config = serializers.DictField(required=False)
        valid_from = serializers.DateField(required=False)
        valid_to = serializers.DateField(required=False, allow_null=True)
        is_active = serializers.BooleanField(required=False)

    @extend_schema(responses=CreditingRuleSerializer)
    def get(self, request: Request, rule_id: int) -> Response:
        return Response(CreditingRuleSerializer(selectors.crediting_rule_get(rule_id=rule_id)).data)

    @extend_schema(request=InputSerializer, responses=CreditingRuleSerializer)
    def patch(self, request: Request, rule_id: int) -> Response:
        selectors.crediting_rule_get(rule_id=rule_id)
        request_access(request).require_tenant_wide(RULES)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        rule = services.crediting_rule_update(rule_id=rule_id, **serializer.validated_data)
        return Response(CreditingRuleSerializer(rule).data)


# --- FX rates and KPI values --------------------------------------------------------------------


class FxRateSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = FxRate
        fields = ["id", "currency", "quote_currency", "valid_on", "rate"]


class FxRateListView(TenantAPIView):
    """FX rates by date; POST sets (or corrects) one day's rate."""

    permission = "transactions.view"
    write_permission = "transactions.change"

    class InputSerializer(serializers.Serializer):  # type: ignore[type-arg]
        currency = CurrencyField()
        quote_currency = CurrencyField()
        valid_on = serializers.DateField()
        # A zero rate converts everything to nothing and cannot be inverted: the smallest
        # positive NUMERIC(12, 8) is the floor.
        rate = serializers.DecimalField(
            max_digits=12, decimal_places=8, min_value=Decimal("0.00000001")
        )

    @extend_schema(
        parameters=list_parameters(filters.FxRateFilter), responses=FxRateSerializer(many=True)
    )
    def get(self, request: Request) -> Response:
        return paginate(
            self,
            request,
            selectors.fx_rate_list(),
            FxRateSerializer,
            filterset=filters.FxRateFilter,
        )

    @extend_schema(request=InputSerializer, responses={201: FxRateSerializer})
    def post(self, request: Request) -> Response:
        request_access(request).require_tenant_wide(
            "setting FX rates"
        )  # they convert everyone's pay
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fx = services.fx_rate_set(**serializer.validated_data)
        return Response(FxRateSerializer(fx).data, status=status.HTTP_201_CREATED)


class KpiValueSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    period_label = serializers.CharField(source="period.label")
    subject = serializers.CharField(source="subject_label")

    class Meta:
        model = KpiValue
        fields = [
            "id",
            "metric",
            "subject_type",
            "subject",
            "period_label",
            "value",
            "source",
            "status",
            "signed_off_at",
            "recorded_at",
        ]


class KpiValueListView(TenantAPIView):
    """KPI values (CSAT, NRR, on-time-in-full…) per person, node or the company and period, with
    their sign-off state."""

    permission = "transactions.view"

    @extend_schema(
        parameters=list_parameters(filters.KpiValueFilter),
        responses=KpiValueSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        return paginate(
            self,
            request,
            selectors.kpi_value_list(),
            KpiValueSerializer,
            filterset=filters.KpiValueFilter,
        )


class KpiValueSignOffView(TenantAPIView):
    """Sign off a draft KPI value (its owner or a comp admin; a person, not an API client)."""

    permission = "transactions.change"

    @extend_schema(request=None, responses=KpiValueSerializer)
    def post(self, request: Request, kpi_value_id: int) -> Response:
        user_id = _person_user_id(request)
        if user_id is None:
            raise ValidationFailedError(
                "A person signs off, not an API client.", code="person_required"
            )
        kpi = services.kpi_value_sign_off(kpi_value_id=kpi_value_id, user_id=user_id)
        return Response(KpiValueSerializer(kpi).data)
