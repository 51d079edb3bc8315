"""Statements API: the list a principal may read, one statement with its lines and traces, its
CSV and PDF, and one line's drill-down to credits and transactions.

Every read goes through the access policy (``Access.payees``): an employee reads her own, a
manager her team's as of the period, comp admins and finance everyone; not yours is a 404.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import params
from core.api.base import TenantAPIView
from core.api.pagination import QuotientPagination
from core.pdf import pdf_response
from core.tenancy import get_current_tenant
from hierarchy.access import request_access
from payouts import statements
from payouts.statement_files import filename, statement_csv, statement_pdf

READ = ("payouts.view", "payouts.view.team", "payouts.view.self")


class StatementSummarySerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.CharField(source="key", help_text="<period id>-<person id>")
    period_id = serializers.IntegerField(source="period.pk")
    period = serializers.CharField(source="period.label")
    person_id = serializers.IntegerField(source="person.pk")
    employee_id = serializers.CharField(source="person.employee_id")
    full_name = serializers.CharField(source="person.full_name")
    status = serializers.ChoiceField(
        choices=[statements.FINAL, statements.PROVISIONAL, statements.NO_RUN]
    )
    run_id = serializers.IntegerField(allow_null=True)
    currency = serializers.CharField()
    earned = serializers.DecimalField(max_digits=20, decimal_places=4)
    payable = serializers.DecimalField(max_digits=20, decimal_places=4)
    attainment = serializers.DecimalField(
        max_digits=20,
        decimal_places=8,
        allow_null=True,
        help_text="Earned over target incentive (a fraction), all her components together",
    )
    target = serializers.DecimalField(
        max_digits=20,
        decimal_places=4,
        allow_null=True,
        help_text="Her target incentive for the period (none: no plan assigned)",
    )
    plans = serializers.ListField(child=serializers.CharField())
    frozen = serializers.BooleanField()
    url = serializers.SerializerMethodField()

    def get_url(self, obj: statements.Summary) -> str:
        return f"/api/v1/statements/{obj.key}/"


class StatementListView(TenantAPIView):
    """The statements the caller may read, newest period first (``?period=``, ``?person=``:
    ids)."""

    permission = READ

    @extend_schema(
        parameters=[OpenApiParameter("period", int), OpenApiParameter("person", int)],
        responses={200: StatementSummarySerializer(many=True)},
        examples=[
            OpenApiExample(
                "A final statement",
                value={
                    "count": 217,
                    "next": "/api/v1/statements/?limit=1&offset=1&period=21",
                    "previous": None,
                    "results": [
                        {
                            "id": "21-90",
                            "period_id": 21,
                            "period": "FY2027 Q3",
                            "person_id": 90,
                            "employee_id": "E000090",
                            "full_name": "Ada Ito",
                            "status": "final",
                            "run_id": 1,
                            "currency": "USD",
                            "earned": "35147.3500",
                            "payable": "0.0000",
                            "attainment": "1.41758814",
                            "target": "24794.0000",
                            "plans": ["Sales Account Executive"],
                            "frozen": True,
                            "url": "/api/v1/statements/21-90/",
                        }
                    ],
                },
                response_only=True,
            )
        ],
    )
    def get(self, request: Request) -> Response:
        rows = statements.statement_list(
            access=request_access(request),
            period_id=params.identifier(request, "period"),
            person_id=params.identifier(request, "person"),
        )
        paginator = QuotientPagination()
        page: Any = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(StatementSummarySerializer(page, many=True).data)


def _statement(request: Request, period_id: int, person_id: int) -> dict[str, Any]:
    return statements.statement_get(
        access=request_access(request), period_id=period_id, person_id=person_id
    )


class StatementDetailView(TenantAPIView):
    """One statement: earned by component, every line with its trace sentence and steps, the
    ledger's movements, totals and payable; ``frozen`` once the period was approved."""

    permission = READ

    @extend_schema(responses={200: dict})
    def get(self, request: Request, period_id: int, person_id: int) -> Response:
        return Response(_statement(request, period_id, person_id))


class StatementCsvView(TenantAPIView):
    """The statement as a CSV download (formula cells neutralised)."""

    permission = READ

    @extend_schema(summary="Download a statement as CSV", responses={(200, "text/csv"): str})
    def get(self, request: Request, period_id: int, person_id: int) -> HttpResponse:
        content = _statement(request, period_id, person_id)
        response = HttpResponse(statement_csv(content), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{filename(content, "csv")}"'
        return response


class StatementPdfView(TenantAPIView):
    """The statement as a PDF download."""

    permission = READ

    @extend_schema(
        summary="Download a statement as PDF", responses={(200, "application/pdf"): bytes}
    )
    def get(self, request: Request, period_id: int, person_id: int) -> HttpResponse:
        content = _statement(request, period_id, person_id)
        return pdf_response(
            statement_pdf(content, tenant_name=get_current_tenant().name),
            filename(content, "pdf"),
        )


class ContributionSerializer(serializers.Serializer):  # type: ignore[type-arg]
    amount = serializers.DecimalField(max_digits=20, decimal_places=4)
    credit_id = serializers.IntegerField(source="credit.pk", allow_null=True, default=None)
    credit_amount = serializers.DecimalField(
        source="credit.amount", max_digits=20, decimal_places=4, allow_null=True, default=None
    )
    credit_date = serializers.DateField(source="credit.credit_date", allow_null=True, default=None)
    rule = serializers.CharField(source="credit.rule.name", allow_null=True, default=None)
    transaction_id = serializers.IntegerField(
        source="transaction.pk", allow_null=True, default=None
    )
    transaction = serializers.CharField(
        source="transaction.external_id", allow_null=True, default=None
    )
    transaction_kind = serializers.CharField(
        source="transaction.kind", allow_null=True, default=None
    )
    transaction_amount = serializers.DecimalField(
        source="transaction.amount", max_digits=20, decimal_places=4, allow_null=True, default=None
    )
    currency = serializers.CharField(source="transaction.currency", allow_null=True, default=None)
    booked_on = serializers.DateField(source="transaction.booked_on", allow_null=True, default=None)
    account = serializers.CharField(source="transaction.account", allow_null=True, default=None)


class LineDrillSerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.IntegerField(source="line.pk")
    statement = serializers.SerializerMethodField()
    plan = serializers.CharField(source="line.plan.name")
    component_id = serializers.CharField(source="line.component_id")
    kind = serializers.CharField(source="line.kind")
    amount = serializers.DecimalField(source="line.amount", max_digits=20, decimal_places=4)
    currency = serializers.CharField(source="line.currency")
    attainment = serializers.DecimalField(
        source="line.attainment", max_digits=20, decimal_places=8, allow_null=True
    )
    trace_text = serializers.CharField(source="line.trace_text")
    trace = serializers.JSONField(source="line.trace")
    contributed = serializers.DecimalField(source="total", max_digits=20, decimal_places=4)
    contributions = ContributionSerializer(many=True)

    def get_statement(self, obj: statements.LineDrill) -> str:
        return f"/api/v1/statements/{obj.period.pk}-{obj.person.pk}/"


class StatementLineView(TenantAPIView):
    """One payout line of a statement: its trace and what each credit (and the transaction
    behind it) contributed."""

    permission = READ

    @extend_schema(
        summary="Get a statement line with its trace", responses={200: LineDrillSerializer}
    )
    def get(self, request: Request, line_id: int) -> Response:
        drill = statements.line_get(access=request_access(request), line_id=line_id)
        return Response(LineDrillSerializer(drill).data)
