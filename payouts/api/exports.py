"""Finance export API: approved payouts (paginated, filtered), export batches (idempotent
create, files in CSV / XLSX / JSON, the payroll file, the GL summary, mark paid) and the
tenant's earning codes. Thin views: each calls one service or selector of payouts/exports.py.

Reading needs ``payouts.view`` (finance, tenant admin, comp admin; API scope ``read:payouts``);
creating batches, marking them paid and editing earning codes need ``payouts.export``
(finance; API scopes ``write:exports`` or ``write:payouts``). Exports cover the whole tenant,
so a node-scoped member is refused them (``require_tenant_wide``).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import serializers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.base import IDEMPOTENCY_HEADER, TenantAPIView
from core.api.filters import (
    ChoiceFilter,
    FilterSet,
    IdFilter,
    Ordering,
    list_parameters,
)
from core.api.pagination import paginate
from core.errors import ValidationFailedError
from hierarchy.access import request_access
from payouts import exports
from payouts.models import EntryKind, ExportContent, ExportFormat, ExportStatus

TAG = "Exports"
ERRORS = {
    400: OpenApiResponse(description="Bad input, in the error envelope"),
    403: OpenApiResponse(description="Your role or scopes do not allow this"),
    404: OpenApiResponse(description="Not found (or another tenant's)"),
}
WRITE_ERRORS = {
    **ERRORS,
    409: OpenApiResponse(description="Conflict: nothing left to export, already paid, key reused"),
}


# Response examples: the shapes the demo's closed FY2027 Q3 answers (docs/api.md walks them).
PAYOUT_EXAMPLE = {
    "id": 264,
    "period": 21,
    "period_label": "FY2027 Q3",
    "person": 20,
    "employee_id": "E000020",
    "name": "Marcus Manager",
    "plan": 3,
    "component": "override",
    "kind": "earned",
    "amount": "63824.7800",
    "currency": "USD",
    "payout_line": 144,
    "status": "approved",
    "export_batch": None,
}
BATCH_EXAMPLE = {
    "id": 1,
    "number": 1,
    "periods": [21],
    "person": None,
    "business_unit": None,
    "format": "csv",
    "pay_date": "2026-11-30",
    "status": "created",
    "line_count": 453,
    "totals": {"USD": "4161393.8700"},
    "sha256": "4311640fe60468c3d63a93cbb83b83913a3d8b2e068e2e6feb3bc170d11f905b",
    "idempotency_key": "payroll-fy2027-q3",
    "created_by": "api:payroll",
    "created_at": "2026-12-01T17:14:09.131996Z",
    "paid_at": None,
}
PAID_EXAMPLE = {**BATCH_EXAMPLE, "status": "paid", "paid_at": "2026-12-01T17:14:12.965148Z"}


def _user(request: Request) -> int | None:
    return request.user.pk if getattr(request, "membership", None) else None


def _tenant_wide(request: Request) -> None:
    request_access(request).require_tenant_wide(exports.EXPORTS_WHAT)


class FileNegotiation(DefaultContentNegotiation):
    """``?format=`` names the file, not a DRF renderer: errors are always the JSON envelope."""

    def select_renderer(self, request: Any, renderers: Any, format_suffix: Any = None) -> Any:
        return JSONRenderer(), JSONRenderer.media_type


def _file_response(file: exports.File) -> HttpResponse:
    response = HttpResponse(file.data, content_type=file.content_type)
    response["Content-Disposition"] = f'attachment; filename="{file.filename}"'
    response["X-Content-SHA256"] = file.sha256
    response["Cache-Control"] = "private, no-store"
    return response


# --- payouts read ------------------------------------------------------------------------------


def _by_business_unit(queryset: Any, name: str, value: Any) -> Any:
    return queryset if value is None else exports.in_business_unit(queryset, value)


class PayoutFilter(FilterSet):
    period = IdFilter(field_name="period_id", help_text="Period id")
    person = IdFilter(field_name="person_id", help_text="Person id")
    business_unit = IdFilter(
        method=_by_business_unit,
        help_text="Node id: people in its subtree during each period",
    )
    status = ChoiceFilter(
        field_name="export_status",
        choices=[
            ("approved", "Approved, not exported"),
            ("exported", "Exported"),
            ("paid", "Paid"),
        ],
    )
    kind = ChoiceFilter(choices=[(k, str(EntryKind(k).label)) for k in exports.EXPORTABLE_KINDS])
    currency = ChoiceFilter(field_name="currency", choices=[])
    ordering = Ordering(fields=("created_at", "amount"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from core.currencies import CURRENCY_CODES

        self.filters["currency"].extra["choices"] = [(c, c) for c in sorted(CURRENCY_CODES)]


class PayoutListView(TenantAPIView):
    """Approved payable amounts, one row per ledger entry, with their export state."""

    permission = "payouts.view"

    class OutputSerializer(serializers.Serializer):  # type: ignore[type-arg]
        id = serializers.IntegerField(help_text="The ledger entry")
        period = serializers.IntegerField(source="period_id")
        period_label = serializers.CharField(source="period.label")
        person = serializers.IntegerField(source="person_id")
        employee_id = serializers.CharField(source="person.employee_id")
        name = serializers.CharField(source="person.full_name")
        plan = serializers.IntegerField(source="plan_id", allow_null=True)
        component = serializers.CharField(source="component_id")
        kind = serializers.CharField()
        amount = serializers.DecimalField(
            source="payable", max_digits=20, decimal_places=4, help_text="Signed: payable"
        )
        currency = serializers.CharField()
        payout_line = serializers.IntegerField(source="line_id", allow_null=True)
        status = serializers.CharField(source="export_status")
        export_batch = serializers.IntegerField(source="export_batch_id", allow_null=True)

    @extend_schema(
        tags=[TAG],
        summary="List approved payouts",
        description=(
            "Every approved payable amount of approved or closed periods — earned lines, "
            "adjustments, draw recoveries, holds, releases, clawbacks (signed) — with whether "
            "it is still to export (`approved`), in a batch (`exported`) or `paid`. "
            "Filter by period, status, person, business unit (a node id), kind or currency."
        ),
        parameters=list_parameters(PayoutFilter),
        responses={200: OutputSerializer(many=True), **ERRORS},
        examples=[
            OpenApiExample(
                "Approved, not exported",
                value={
                    "count": 453,
                    "next": "/api/v1/payouts/?limit=1&offset=1&status=approved",
                    "previous": None,
                    "results": [PAYOUT_EXAMPLE],
                },
                response_only=True,
            )
        ],
    )
    def get(self, request: Request) -> Response:
        _tenant_wide(request)
        return paginate(
            self, request, exports.payout_list(), self.OutputSerializer, filterset=PayoutFilter
        )


# --- export batches ----------------------------------------------------------------------------


class BatchSerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.IntegerField()
    number = serializers.IntegerField()
    periods = serializers.ListField(source="period_ids", child=serializers.IntegerField())
    person = serializers.IntegerField(source="person_id", allow_null=True)
    business_unit = serializers.IntegerField(source="business_unit_id", allow_null=True)
    format = serializers.CharField()
    pay_date = serializers.DateField()
    status = serializers.CharField()
    line_count = serializers.IntegerField()
    totals = serializers.DictField(child=serializers.CharField())
    sha256 = serializers.CharField(help_text="SHA-256 of the batch's lines file in its format")
    idempotency_key = serializers.CharField()
    created_by = serializers.CharField(source="created_by_label")
    created_at = serializers.DateTimeField()
    paid_at = serializers.DateTimeField(allow_null=True)


class ExportBatchFilter(FilterSet):
    status = ChoiceFilter(choices=ExportStatus.choices)
    ordering = Ordering(fields=("number", "created_at"))


class ExportBatchListView(TenantAPIView):
    """The tenant's export batches; create one (with an ``Idempotency-Key``)."""

    permission = "payouts.view"
    write_permission = "payouts.export"

    class InputSerializer(serializers.Serializer):  # type: ignore[type-arg]
        periods = serializers.ListField(
            child=serializers.IntegerField(min_value=1), min_length=1, max_length=24
        )
        person = serializers.IntegerField(required=False, allow_null=True, min_value=1)
        business_unit = serializers.IntegerField(required=False, allow_null=True, min_value=1)
        format = serializers.ChoiceField(choices=ExportFormat.choices, default="csv")
        pay_date = serializers.DateField(required=False, allow_null=True)

    @extend_schema(
        tags=[TAG],
        summary="List export batches",
        parameters=list_parameters(ExportBatchFilter),
        responses={200: BatchSerializer(many=True), **ERRORS},
    )
    def get(self, request: Request) -> Response:
        _tenant_wide(request)
        return paginate(
            self,
            request,
            exports.export_batch_list(),
            BatchSerializer,
            filterset=ExportBatchFilter,
        )

    @extend_schema(
        tags=[TAG],
        summary="Create an export batch of approved payouts",
        description=(
            "Exports every approved amount of the periods (narrowed to a person or a business "
            "unit) that no earlier batch exported: each becomes an exported line of its own, "
            "so an amount is exported once. The `Idempotency-Key` header is required: the same "
            "key returns the same batch (200) with the same bytes; the same key with a "
            "different selection is a 409. `pay_date` defaults to today (the tenant's "
            "day), or the last period's last day when that is later. Payroll rows that "
            "sum to zero are left out."
        ),
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                required=True,
                description="Any unique string; repeat it to retry safely",
            )
        ],
        request=InputSerializer,
        responses={201: BatchSerializer, 200: BatchSerializer, **WRITE_ERRORS},
        examples=[
            OpenApiExample(
                "Q1 payroll",
                value={"periods": [12], "format": "csv", "pay_date": "2026-04-15"},
                request_only=True,
            ),
            OpenApiExample(
                "Created", value=BATCH_EXAMPLE, response_only=True, status_codes=["201"]
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        _tenant_wide(request)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        batch, created = exports.export_batch_create(
            period_ids=data["periods"],
            person_id=data.get("person"),
            business_unit_id=data.get("business_unit"),
            format=data["format"],
            pay_date=data.get("pay_date"),
            idempotency_key=request._request.META.get(IDEMPOTENCY_HEADER, ""),
            user_id=_user(request),
        )
        return Response(
            BatchSerializer(batch).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class ExportBatchDetailView(TenantAPIView):
    """One export batch."""

    permission = "payouts.view"

    @extend_schema(
        tags=[TAG], summary="Get an export batch", responses={200: BatchSerializer, **ERRORS}
    )
    def get(self, request: Request, batch_id: int) -> Response:
        _tenant_wide(request)
        return Response(BatchSerializer(exports.export_batch_get(batch_id=batch_id)).data)


def _format(request: Request, default: str, allowed: tuple[str, ...]) -> str:
    value = request.query_params.get("format") or default
    if value not in allowed:
        raise ValidationFailedError(
            f"Unknown format {value!r}: use {', '.join(allowed)}.",
            code="invalid_parameter",
            details={"format": [f"Use {', '.join(allowed)}."]},
        )
    return value


def _reject_other_params(request: Request, allowed: set[str]) -> None:
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        raise ValidationFailedError(
            f"Unknown query parameter(s): {', '.join(unknown)}.",
            code="unknown_parameter",
            details={name: ["Unknown parameter."] for name in unknown},
        )


FILE_RESPONSES = {
    (200, "text/csv"): OpenApiTypes.BINARY,
    (200, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"): (
        OpenApiTypes.BINARY
    ),
    (200, "application/json"): OpenApiTypes.OBJECT,
    **{(code, "application/json"): r for code, r in ERRORS.items()},
}


class ExportBatchFileView(TenantAPIView):
    """A batch's lines (or payroll file, or GL summary) as CSV, XLSX or JSON."""

    permission = "payouts.view"
    content_negotiation_class = FileNegotiation

    @extend_schema(
        tags=[TAG],
        summary="Download a batch's file",
        description=(
            "`content=lines` (default): one row per exported line. `content=gl`: the GL / "
            "accrual summary by cost centre (the person's `cost_centre` attribute when the "
            "batch was made), period and currency. `content=payroll`: as /payroll/. The "
            "first download's bytes are kept: asking again returns the same bytes "
            "(`X-Content-SHA256`). Cells beginning `= + - @`, tab or CR are neutralised."
        ),
        parameters=[
            OpenApiParameter("format", OpenApiTypes.STR, enum=list(ExportFormat.values)),
            OpenApiParameter("content", OpenApiTypes.STR, enum=list(ExportContent.values)),
        ],
        responses=FILE_RESPONSES,
    )
    def get(self, request: Request, batch_id: int) -> HttpResponse:
        _tenant_wide(request)
        _reject_other_params(request, {"format", "content"})
        batch = exports.export_batch_get(batch_id=batch_id)
        fmt = _format(request, batch.format, tuple(ExportFormat.values))
        content = request.query_params.get("content") or ExportContent.LINES
        if content not in ExportContent.values:
            raise ValidationFailedError(
                exports.UNKNOWN_CONTENT,
                code="invalid_parameter",
                details={"content": [exports.UNKNOWN_CONTENT]},
            )
        return _file_response(
            exports.export_batch_file(batch_id=batch.pk, content=content, format=fmt)
        )


class ExportBatchPayrollView(TenantAPIView):
    """The batch's payroll file: employee id, earning code, amount, currency, pay date."""

    permission = "payouts.view"
    content_negotiation_class = FileNegotiation

    @extend_schema(
        tags=[TAG],
        summary="Download a batch's payroll file",
        description=(
            "One row per employee, earning code and currency (the components' amounts summed "
            "under the tenant's earning code mapping), amount rounded to the currency's minor "
            "unit, with the batch's pay date. A component without an earning code is a 400 "
            "naming it. CSV (default) or `?format=xlsx`."
        ),
        parameters=[OpenApiParameter("format", OpenApiTypes.STR, enum=["csv", "xlsx"])],
        responses=FILE_RESPONSES,
    )
    def get(self, request: Request, batch_id: int) -> HttpResponse:
        _tenant_wide(request)
        _reject_other_params(request, {"format"})
        fmt = _format(request, ExportFormat.CSV, (ExportFormat.CSV, ExportFormat.XLSX))
        return _file_response(
            exports.export_batch_file(batch_id=batch_id, content=ExportContent.PAYROLL, format=fmt)
        )


class ExportBatchMarkPaidView(TenantAPIView):
    """Record that payroll paid the batch: a PAID ledger entry per exported line."""

    permission = "payouts.export"

    @extend_schema(
        tags=[TAG],
        summary="Mark an export batch paid",
        description=(
            "Writes one `paid` ledger entry per exported line (unique per payout line) and "
            "freezes the batch. A batch is paid once: again is a 409 `already_paid`."
        ),
        request=None,
        responses={200: BatchSerializer, **WRITE_ERRORS},
        examples=[OpenApiExample("Paid", value=PAID_EXAMPLE, response_only=True)],
    )
    def post(self, request: Request, batch_id: int) -> Response:
        _tenant_wide(request)
        batch = exports.export_batch_mark_paid(batch_id=batch_id, user_id=_user(request))
        return Response(BatchSerializer(batch).data)


# --- earning codes -----------------------------------------------------------------------------


class EarningCodeSerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.IntegerField(read_only=True)
    component = serializers.CharField(source="component_id", max_length=100)
    plan = serializers.IntegerField(
        source="plan_id", allow_null=True, required=False, min_value=1, help_text="Empty: all"
    )
    code = serializers.CharField(max_length=40)
    description = serializers.CharField(max_length=200, allow_blank=True, default="")
    updated_at = serializers.DateTimeField(read_only=True)


class EarningCodeListView(TenantAPIView):
    """The tenant's earning codes; set one (create, or change the code of an existing pair)."""

    permission = "payouts.view"
    write_permission = "payouts.export"

    @extend_schema(
        tags=[TAG],
        summary="List earning codes",
        responses={200: EarningCodeSerializer(many=True), **ERRORS},
    )
    def get(self, request: Request) -> Response:
        return paginate(self, request, exports.earning_code_list(), EarningCodeSerializer)

    @extend_schema(
        tags=[TAG],
        summary="Map a component to a payroll earning code",
        description=(
            "A mapping without `plan` applies to the component in every plan; one with a plan "
            "overrides it for that plan. Setting an existing pair changes its code (200)."
        ),
        request=EarningCodeSerializer,
        responses={201: EarningCodeSerializer, 200: EarningCodeSerializer, **ERRORS},
        examples=[
            OpenApiExample(
                "Commission",
                value={"component": "commission", "code": "COMM", "description": "Commission"},
                request_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        _tenant_wide(request)
        serializer = EarningCodeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        mapping, created = exports.earning_code_set(
            component_id=data["component_id"],
            plan_id=data.get("plan_id"),
            code=data["code"],
            description=data.get("description", ""),
        )
        return Response(
            EarningCodeSerializer(mapping).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class EarningCodeDetailView(TenantAPIView):
    """One earning code mapping; remove it."""

    permission = "payouts.view"
    write_permission = "payouts.export"

    @extend_schema(
        tags=[TAG],
        summary="Get an earning code",
        responses={200: EarningCodeSerializer, **ERRORS},
    )
    def get(self, request: Request, code_id: int) -> Response:
        return Response(EarningCodeSerializer(exports.earning_code_get(code_id=code_id)).data)

    @extend_schema(tags=[TAG], summary="Remove an earning code", responses={204: None, **ERRORS})
    def delete(self, request: Request, code_id: int) -> Response:
        _tenant_wide(request)
        exports.earning_code_delete(code_id=code_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
