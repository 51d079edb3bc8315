"""Plans API: the plan language's JSON Schema and validation, plans and their versions (draft,
publish, diff), assignments and the templates. Thin views: each calls one service or selector.
Plans are tenant-wide: a node-scoped admin may read them and assign them inside their nodes,
but not create, edit, publish or archive them."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import params
from core.api.base import TenantAPIView
from core.api.filters import list_parameters
from core.api.pagination import paginate
from core.api.parsers import SafeJSONParser
from core.auth import client_ip
from core.errors import NotFoundError, ValidationFailedError
from core.imports import Outcome
from engine import plan_json_schema, validate_plan
from hierarchy import org_selectors
from hierarchy.access import request_access
from hierarchy.periods import tenant_today
from plans import cases, catalog, documents, quota_import, scheme, selectors, services
from plans.api import filters
from plans.api import serializers as s
from plans.source import dump_spec

MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # a quota file is a few rows per person and period
PLANS = "changing plans"  # a plan pays everyone assigned to it, across the organisation
SALES_AE_SOURCE = catalog.template_source("sales_ae", plan_id="sales-ae-2026", name="Sales AE")


class PlanSchemaView(APIView):
    """The JSON Schema of the plan language (public: it describes the format, not any data)."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []

    @extend_schema(summary="Get the plan language's JSON Schema", responses={200: dict})
    def get(self, request: Request) -> Response:
        return Response(plan_json_schema())


class PlanValidateView(TenantAPIView):
    """Check a plan document: every problem with its exact path, nothing saved."""

    permission = "plans.view"
    write_permission = "plans.view"
    idempotent = False

    @extend_schema(
        summary="Validate a plan document",
        request=dict,
        responses={
            200: inline_serializer(
                "PlanValidation",
                {
                    "valid": serializers.BooleanField(),
                    "errors": serializers.ListField(child=serializers.CharField()),
                },
            )
        },
    )
    def post(self, request: Request) -> Response:
        errors = validate_plan(request.data)
        return Response({"valid": not errors, "errors": errors})


def _user(request: Request) -> int | None:
    """Return the signed-in user's id (None for an API client)."""
    return request.user.pk if getattr(request, "membership", None) else None


def _source(data: dict[str, Any]) -> str:
    return services.source_of(source=data.get("source"), spec=data.get("spec"))


# --- plans --------------------------------------------------------------------------------------


class PlanListView(TenantAPIView):
    """The tenant's plans (not archived unless ``?archived=true``); create one."""

    permission = "plans.view"
    write_permission = "plans.change"

    @extend_schema(
        summary="List plans",
        parameters=list_parameters(filters.PlanFilter),
        responses=s.PlanSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        qs = selectors.plan_list(archived=params.boolean(request, "archived"))
        return paginate(self, request, qs, s.PlanSerializer, filterset=filters.PlanFilter)

    @extend_schema(
        summary="Create a plan and its first draft, from a template or a spec",
        request=s.PlanCreateSerializer,
        responses={201: s.PlanSerializer},
        examples=[
            OpenApiExample(
                "From a template",
                value={
                    "code": "sales-ae-2026",
                    "name": "Sales AE 2026",
                    "template": "sales_ae",
                    "valid_from": "2026-02-01",
                },
                request_only=True,
            ),
            OpenApiExample(
                "From a spec",
                value={
                    "code": "spif-q1",
                    "name": "Q1 SPIF",
                    "spec": {
                        "version": 1,
                        "id": "spif-q1",
                        "currency": "USD",
                        "components": [
                            {
                                "id": "spif",
                                "type": "spif",
                                "amount": 100,
                                "window": {"start": "2026-01-01", "end": "2026-04-01"},
                            }
                        ],
                    },
                },
                request_only=True,
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        request_access(request).require_tenant_wide(PLANS)
        serializer = s.PlanCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        source = (
            None
            if data.get("template") and not (data.get("source") or data.get("spec"))
            else _source(data)
        )
        plan = services.plan_create(
            code=data["code"],
            name=data["name"],
            description=data["description"],
            function=data["function"],
            template=data["template"],
            source=source,
            valid_from=data.get("valid_from"),
            user_id=_user(request),
        )
        return Response(s.PlanSerializer(plan).data, status=status.HTTP_201_CREATED)


class PlanDetailView(TenantAPIView):
    """One plan."""

    permission = "plans.view"

    @extend_schema(summary="Get a plan", responses=s.PlanSerializer)
    def get(self, request: Request, plan_id: int) -> Response:
        return Response(s.PlanSerializer(selectors.plan_get(plan_id=plan_id)).data)


class PlanArchiveView(TenantAPIView):
    """Archive a plan (``{"archived": false}`` brings it back)."""

    permission = "plans.change"

    @extend_schema(
        summary="Archive or unarchive a plan",
        request=s.ArchiveSerializer,
        responses=s.PlanSerializer,
        examples=[OpenApiExample("Archive", value={"archived": True}, request_only=True)],
    )
    def post(self, request: Request, plan_id: int) -> Response:
        request_access(request).require_tenant_wide(PLANS)
        serializer = s.ArchiveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        plan = services.plan_archive(
            plan_id=plan_id,
            user_id=_user(request),
            archived=serializer.validated_data["archived"],
        )
        return Response(s.PlanSerializer(plan).data)


# --- versions -----------------------------------------------------------------------------------


class PlanVersionListView(TenantAPIView):
    """A plan's versions, newest first; start a new draft (a copy of a version)."""

    permission = "plans.view"
    write_permission = "plans.change"

    @extend_schema(
        summary="List a plan's versions",
        parameters=list_parameters(filters.PlanVersionFilter),
        responses=s.PlanVersionSerializer(many=True),
    )
    def get(self, request: Request, plan_id: int) -> Response:
        qs = selectors.plan_version_list(plan_id=plan_id)
        return paginate(
            self, request, qs, s.PlanVersionSerializer, filterset=filters.PlanVersionFilter
        )

    @extend_schema(
        summary="Start a new draft as a copy of a version",
        request=s.DraftCreateSerializer,
        responses={201: s.PlanVersionSerializer},
        examples=[OpenApiExample("Copy version 1", value={"based_on": 1}, request_only=True)],
    )
    def post(self, request: Request, plan_id: int) -> Response:
        request_access(request).require_tenant_wide(PLANS)
        serializer = s.DraftCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        plan = selectors.plan_get(plan_id=plan_id)
        number = serializer.validated_data.get("based_on")
        base = selectors.plan_version_get(plan_id=plan.pk, number=number) if number else None
        draft = services.plan_version_draft_create(
            plan_id=plan.pk, user_id=_user(request), based_on_id=base.pk if base else None
        )
        return Response(s.PlanVersionSerializer(draft).data, status=status.HTTP_201_CREATED)


class PlanVersionDetailView(TenantAPIView):
    """One version. ``PUT`` saves an edit: a draft changes in place (200); a published version
    cannot change, so the edit becomes a new draft (201, with a ``message`` saying so)."""

    permission = "plans.view"
    write_permission = "plans.change"

    @extend_schema(summary="Get a plan version", responses=s.PlanVersionSerializer)
    def get(self, request: Request, plan_id: int, number: int) -> Response:
        version = selectors.plan_version_get(plan_id=plan_id, number=number)
        return Response(s.PlanVersionSerializer(version).data)

    @extend_schema(
        summary="Edit a version (a published one gets a new draft)",
        request=s.VersionSaveSerializer,
        responses={200: s.PlanVersionSerializer, 201: s.PlanVersionSerializer},
        examples=[
            OpenApiExample(
                "Edit the text",
                value={"source": SALES_AE_SOURCE, "note": "tier 2 at 9 %"},
                request_only=True,
            )
        ],
    )
    def put(self, request: Request, plan_id: int, number: int) -> Response:
        request_access(request).require_tenant_wide(PLANS)
        version = selectors.plan_version_get(plan_id=plan_id, number=number)
        serializer = s.VersionSaveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        saved = services.plan_version_save(
            version_id=version.pk,
            source=_source(data),
            user_id=_user(request),
            valid_from=data.get("valid_from"),
            note=data.get("note"),
        )
        body = {**s.PlanVersionSerializer(saved.version).data, "message": saved.message}
        code = status.HTTP_201_CREATED if saved.new_draft else status.HTTP_200_OK
        return Response(body, status=code)


class PlanVersionPublishView(TenantAPIView):
    """Publish a draft: immutable from now on, in force from ``valid_from``."""

    permission = "plans.change"

    @extend_schema(
        summary="Publish a draft version",
        request=s.PublishSerializer,
        responses=s.PlanVersionSerializer,
        examples=[
            OpenApiExample("From 1 February", value={"valid_from": "2026-02-01"}, request_only=True)
        ],
    )
    def post(self, request: Request, plan_id: int, number: int) -> Response:
        request_access(request).require_tenant_wide(PLANS)
        version = selectors.plan_version_get(plan_id=plan_id, number=number)
        serializer = s.PublishSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        published = services.plan_version_publish(
            version_id=version.pk, user_id=_user(request), **serializer.validated_data
        )
        return Response(s.PlanVersionSerializer(published).data)


class PlanVersionDiffView(TenantAPIView):
    """What changed from version ``?against=`` (default: the one before) to this one, in words."""

    permission = "plans.view"

    @extend_schema(
        summary="Compare two versions in words",
        parameters=[OpenApiParameter("against", int, description="The older version's number")],
        responses={
            200: inline_serializer(
                "PlanVersionDiff",
                {
                    "from_version": serializers.IntegerField(),
                    "to_version": serializers.IntegerField(),
                    "changes": serializers.ListField(child=serializers.CharField()),
                },
            )
        },
        examples=[
            OpenApiExample(
                "A changed tier",
                value={
                    "from_version": 1,
                    "to_version": 2,
                    "changes": [
                        "Component 'New business commission': tier 2 rate changed from 8 % to 9 %."
                    ],
                },
                response_only=True,
            )
        ],
    )
    def get(self, request: Request, plan_id: int, number: int) -> Response:
        against = params.integer(request, "against", minimum=1)
        old = against if against is not None else max(number - 1, 1)
        changes = selectors.plan_version_diff(plan_id=plan_id, old=old, new=number)
        return Response({"from_version": old, "to_version": number, "changes": changes})


# --- test cases ---------------------------------------------------------------------------------

CASE_EXAMPLE = {
    "name": "AE at 120 %",
    "person": "alice",
    "inputs_source": (
        "period: {id: 2026-01, start: 2026-01-01, end: 2026-02-01}\n"
        "people:\n  - {person: alice, target_incentive: 8000}\n"
        "quotas:\n  - {holder: alice, quota: new_bookings, amount: 100000}\n"
        "  - {holder: alice, quota: expansion_bookings, amount: 20000}\n"
        "credits:\n  - {id: c1, person: alice, date: 2026-01-08, amount: 120000, "
        "type: new_business}\n"
    ),
    "expected_total": "8900.00",
    "expected_components": {"new_business": "8900.00", "expansion": "0.00"},
}
CASE_RESULT_EXAMPLE = {
    "passed": 0,
    "failed": 1,
    "results": [
        {
            "case": 7,
            "name": "AE at 120 %",
            "person": "alice",
            "passed": False,
            "currency": "USD",
            "expected_total": "8900.00",
            "actual_total": "8700.00",
            "components": [
                {
                    "component": "new_business",
                    "title": "New business commission",
                    "expected": "8900.00",
                    "actual": "8700.00",
                    "passed": False,
                }
            ],
            "error": "",
            "differences": [
                "Case 'AE at 120 %': expected 8,900.00 USD, got 8,700.00 USD (\u2212200.00) "
                "on New business commission",
                "Case 'AE at 120 %': expected 8,900.00 USD, got 8,700.00 USD (\u2212200.00) "
                "in total",
            ],
        }
    ],
}


def _inputs_text(data: dict[str, Any]) -> str | None:
    if data.get("inputs_source") is not None:
        return str(data["inputs_source"])
    if data.get("inputs") is not None:
        return dump_spec(dict(data["inputs"]))
    return None


class PlanCaseListView(TenantAPIView):
    """A version's test cases; add one to a draft (inputs -> the payout a payee must get)."""

    permission = "plans.view"
    write_permission = "plans.change"

    @extend_schema(
        summary="List a version's test cases",
        description="Each case: inputs in the engine's readable format and the expected payout.",
        responses=s.PlanCaseSerializer(many=True),
    )
    def get(self, request: Request, plan_id: int, number: int) -> Response:
        version = selectors.plan_version_get(plan_id=plan_id, number=number)
        rows = cases.plan_case_list(version=version)
        return paginate(self, request, rows, s.PlanCaseSerializer)

    @extend_schema(
        summary="Add a test case to a draft version",
        description=(
            "The expected payout is exact (Decimal, no tolerance): publishing the version is "
            "refused while any of its cases pays something else. A published version's cases "
            "cannot change (409)."
        ),
        request=s.PlanCaseWriteSerializer,
        responses={201: s.PlanCaseSerializer},
        examples=[OpenApiExample("An AE above quota", value=CASE_EXAMPLE, request_only=True)],
    )
    def post(self, request: Request, plan_id: int, number: int) -> Response:
        request_access(request).require_tenant_wide(PLANS)
        version = selectors.plan_version_get(plan_id=plan_id, number=number)
        serializer = s.PlanCaseWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        text = _inputs_text(data)
        if text is None:
            raise ValidationFailedError(
                "Send the inputs as inputs_source text or as an inputs object.",
                code="no_inputs",
                details={"inputs_source": ["required"]},
            )
        case = cases.plan_case_create(
            version_id=version.pk,
            name=data["name"],
            person=data["person"],
            inputs_source=text,
            expected_total=data["expected_total"],
            expected_components=data["expected_components"],
            user_id=_user(request),
        )
        return Response(s.PlanCaseSerializer(case).data, status=status.HTTP_201_CREATED)


class PlanCaseDetailView(TenantAPIView):
    """One test case; change it or delete it (a draft's only)."""

    permission = "plans.view"
    write_permission = "plans.change"

    @extend_schema(summary="Get a test case", responses=s.PlanCaseSerializer)
    def get(self, request: Request, plan_id: int, number: int, case_id: int) -> Response:
        version = selectors.plan_version_get(plan_id=plan_id, number=number)
        case = cases.plan_case_get(version=version, case_id=case_id)
        return Response(s.PlanCaseSerializer(case).data)

    @extend_schema(
        summary="Change a test case",
        description="What is not sent stays as it was.",
        request=s.PlanCaseUpdateSerializer,
        responses=s.PlanCaseSerializer,
        examples=[
            OpenApiExample(
                "A new expectation", value={"expected_total": "9100.00"}, request_only=True
            )
        ],
    )
    def patch(self, request: Request, plan_id: int, number: int, case_id: int) -> Response:
        request_access(request).require_tenant_wide(PLANS)
        version = selectors.plan_version_get(plan_id=plan_id, number=number)
        case = cases.plan_case_get(version=version, case_id=case_id)
        serializer = s.PlanCaseUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        changed = cases.plan_case_update(
            case_id=case.pk,
            user_id=_user(request),
            name=data.get("name"),
            person=data.get("person"),
            inputs_source=_inputs_text(data),
            expected_total=data.get("expected_total"),
            expected_components=data.get("expected_components"),
        )
        return Response(s.PlanCaseSerializer(changed).data)

    @extend_schema(
        summary="Delete a test case",
        description="Only a draft's cases can go.",
        responses={204: None},
    )
    def delete(self, request: Request, plan_id: int, number: int, case_id: int) -> Response:
        request_access(request).require_tenant_wide(PLANS)
        version = selectors.plan_version_get(plan_id=plan_id, number=number)
        case = cases.plan_case_get(version=version, case_id=case_id)
        cases.plan_case_delete(case_id=case.pk, user_id=_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class PlanCaseRunView(TenantAPIView):
    """Run every test case of a version through the engine; nothing is saved."""

    permission = "plans.view"
    write_permission = "plans.view"
    idempotent = False

    @extend_schema(
        summary="Run a version's test cases",
        description=(
            "Each case through engine.compute with the version's spec: passed or failed, expected "
            "against actual per component, and every difference in words."
        ),
        request=None,
        responses=s.CaseRunSerializer,
        examples=[OpenApiExample("One failing", value=CASE_RESULT_EXAMPLE, response_only=True)],
    )
    def post(self, request: Request, plan_id: int, number: int) -> Response:
        version = selectors.plan_version_get(plan_id=plan_id, number=number)
        results = cases.plan_cases_run(version=version)
        passed = sum(1 for r in results if r.passed)
        return Response(
            {
                "passed": passed,
                "failed": len(results) - passed,
                "results": [r.as_dict() for r in results],
            }
        )


class PlanSchemeView(TenantAPIView):
    """The scheme on ``?date=`` (default today): every published plan in force with who is on
    it by team and job role, and every dependency of a plan on another team's metric, another
    person's, or another plan's pay (gates, team pools, shared milestones, pools, overrides,
    shared MBOs), with who produces it; warnings for a metric nobody is assigned to produce, a
    plan nobody is on, and a dependency cycle. People are counted, never named."""

    permission = "plans.view"

    @extend_schema(
        summary="Read the scheme: who is on what, and which plan depends on whom",
        parameters=[
            OpenApiParameter("date", str, description="The day (YYYY-MM-DD); default today")
        ],
        responses=s.SchemeSerializer,
    )
    def get(self, request: Request) -> Response:
        day = params.day(request, "date") or tenant_today(request.tenant)  # type: ignore[attr-defined]
        found = scheme.scheme_get(access=request_access(request), day=day)
        return Response(s.SchemeSerializer(found).data)


# --- assignments --------------------------------------------------------------------------------


def _holder(row: dict[str, Any]) -> services.Holder:
    return services.Holder(
        person_id=row.get("person_id"), role_id=row.get("role_id"), node_id=row.get("node_id")
    )


class PlanAssignmentListView(TenantAPIView):
    """Who is on which plan version, as the access policy lets you see; assign one."""

    permission = "plans.view"
    write_permission = "plans.change"

    @extend_schema(
        summary="List plan assignments",
        parameters=list_parameters(filters.PlanAssignmentFilter),
        responses=s.PlanAssignmentSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        qs = selectors.plan_assignment_list(access=request_access(request))
        return paginate(
            self, request, qs, s.PlanAssignmentSerializer, filterset=filters.PlanAssignmentFilter
        )

    @extend_schema(
        summary="Assign a published version to a person, a job role or a node",
        request=s.AssignmentCreateSerializer,
        responses={201: s.PlanAssignmentSerializer},
        examples=[
            OpenApiExample(
                "A node",
                value={
                    "plan_version": 12,
                    "node_id": 34,
                    "target_incentive": "6000.00",
                    "currency": "USD",
                    "valid_from": "2026-02-01",
                },
                request_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        serializer = s.AssignmentCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        assignment = services.plan_assignment_create(
            access=request_access(request),
            plan_version_id=data["plan_version"],
            holder=_holder(data),
            target_incentive=data["target_incentive"],
            currency=data.get("currency"),
            valid_from=data["valid_from"],
            valid_to=data.get("valid_to"),
            user_id=_user(request),
        )
        return Response(s.PlanAssignmentSerializer(assignment).data, status=status.HTTP_201_CREATED)


class PlanAssignmentBulkView(TenantAPIView):
    """Assign one version to many holders at once: all or nothing, every refused row reported."""

    permission = "plans.change"

    @extend_schema(
        summary="Assign a version to many people, roles or nodes",
        request=s.BulkAssignmentSerializer,
        responses={201: s.PlanAssignmentSerializer(many=True)},
        examples=[
            OpenApiExample(
                "Two people",
                value={
                    "plan_version": 12,
                    "rows": [
                        {"person_id": 5, "target_incentive": "6000", "valid_from": "2026-02-01"},
                        {"person_id": 6, "target_incentive": "5500", "valid_from": "2026-02-01"},
                    ],
                },
                request_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        serializer = s.BulkAssignmentSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        rows = [
            services.BulkRow(
                holder=_holder(row),
                target_incentive=row["target_incentive"],
                valid_from=row["valid_from"],
                currency=row.get("currency"),
                valid_to=row.get("valid_to"),
            )
            for row in data["rows"]
        ]
        made = services.plan_assignment_bulk_create(
            access=request_access(request),
            plan_version_id=data["plan_version"],
            rows=rows,
            user_id=_user(request),
        )
        return Response(
            s.PlanAssignmentSerializer(made, many=True).data, status=status.HTTP_201_CREATED
        )


class PlanAssignmentDetailView(TenantAPIView):
    """One assignment."""

    permission = "plans.view"

    @extend_schema(summary="Get a plan assignment", responses=s.PlanAssignmentSerializer)
    def get(self, request: Request, assignment_id: int) -> Response:
        found = selectors.plan_assignment_get(
            access=request_access(request), assignment_id=assignment_id
        )
        return Response(s.PlanAssignmentSerializer(found).data)


class PlanAssignmentEndView(TenantAPIView):
    """End an assignment on ``valid_to`` (the first day it no longer holds)."""

    permission = "plans.change"

    @extend_schema(
        summary="End a plan assignment",
        request=s.AssignmentEndSerializer,
        responses=s.PlanAssignmentSerializer,
        examples=[
            OpenApiExample("End of June", value={"valid_to": "2026-07-01"}, request_only=True)
        ],
    )
    def post(self, request: Request, assignment_id: int) -> Response:
        access = request_access(request)
        selectors.plan_assignment_get(access=access, assignment_id=assignment_id)
        serializer = s.AssignmentEndSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ended = services.plan_assignment_end(
            access=access, assignment_id=assignment_id, **serializer.validated_data
        )
        return Response(s.PlanAssignmentSerializer(ended).data)


# --- templates ----------------------------------------------------------------------------------


class PlanTemplateListView(TenantAPIView):
    """The plan templates offered when creating a plan (plans/templates/*.yaml)."""

    permission = "plans.view"

    @extend_schema(
        summary="List plan templates",
        parameters=list_parameters(None),
        responses=s.PlanTemplateSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        rows = [t.as_dict() for t in catalog.template_list()]
        return paginate(self, request, rows, s.PlanTemplateSerializer)  # type: ignore[arg-type]


class PlanTemplateDetailView(TenantAPIView):
    """One template, with its plan and sample inputs."""

    permission = "plans.view"

    @extend_schema(summary="Get a plan template", responses=s.PlanTemplateSerializer)
    def get(self, request: Request, key: str) -> Response:
        return Response(s.PlanTemplateSerializer(catalog.template_get(key).as_dict()).data)


# --- quotas -------------------------------------------------------------------------------------


class QuotaListView(TenantAPIView):
    """Quotas of people and nodes, as the access policy lets you see them; create one."""

    permission = "plans.view"
    write_permission = "plans.change"

    @extend_schema(
        summary="List quotas",
        parameters=list_parameters(filters.QuotaFilter),
        responses=s.QuotaSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        qs = selectors.quota_list(access=request_access(request))
        return paginate(self, request, qs, s.QuotaSerializer, filterset=filters.QuotaFilter)

    @extend_schema(
        summary="Give a person or a node a quota for a period or a plan year",
        request=s.QuotaCreateSerializer,
        responses={201: s.QuotaSerializer},
        examples=[
            OpenApiExample(
                "A quarter's new-business quota",
                value={
                    "person_id": 5,
                    "quota_id": "new_bookings",
                    "amount": "300000.00",
                    "currency": "USD",
                    "plan": 3,
                    "valid_from": "2026-01-01",
                    "valid_to": "2026-04-01",
                },
                request_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        serializer = s.QuotaCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        quota = services.quota_create(
            access=request_access(request),
            holder=services.QuotaHolder(
                person_id=data.get("person_id"), node_id=data.get("node_id")
            ),
            quota_id=data["quota_id"],
            amount=data["amount"],
            currency=data.get("currency"),
            plan_id=data.get("plan"),
            valid_from=data["valid_from"],
            valid_to=data["valid_to"],
            user_id=_user(request),
        )
        return Response(s.QuotaSerializer(quota).data, status=status.HTTP_201_CREATED)


class QuotaDetailView(TenantAPIView):
    """One quota; change its amount, currency or dates (the holder and id stay)."""

    permission = "plans.view"
    write_permission = "plans.change"

    @extend_schema(summary="Get a quota", responses=s.QuotaSerializer)
    def get(self, request: Request, quota_pk: int) -> Response:
        found = selectors.quota_get(access=request_access(request), quota_pk=quota_pk)
        return Response(s.QuotaSerializer(found).data)

    @extend_schema(
        summary="Change a quota",
        request=s.QuotaUpdateSerializer,
        responses=s.QuotaSerializer,
        examples=[OpenApiExample("A new amount", value={"amount": "320000"}, request_only=True)],
    )
    def patch(self, request: Request, quota_pk: int) -> Response:
        access = request_access(request)
        selectors.quota_get(access=access, quota_pk=quota_pk)
        serializer = s.QuotaUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        changed = services.quota_update(
            access=access, quota_pk=quota_pk, **serializer.validated_data
        )
        return Response(s.QuotaSerializer(changed).data)


class QuotaEndView(TenantAPIView):
    """End a quota early on ``valid_to`` (the first day it no longer holds)."""

    permission = "plans.change"

    @extend_schema(
        summary="End a quota early",
        request=s.QuotaEndSerializer,
        responses=s.QuotaSerializer,
        examples=[
            OpenApiExample("End of May", value={"valid_to": "2026-06-01"}, request_only=True)
        ],
    )
    def post(self, request: Request, quota_pk: int) -> Response:
        access = request_access(request)
        selectors.quota_get(access=access, quota_pk=quota_pk)
        serializer = s.QuotaEndSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ended = services.quota_end(access=access, quota_pk=quota_pk, **serializer.validated_data)
        return Response(s.QuotaSerializer(ended).data)


def _import_result(outcome: Outcome, *, mode: str, dry_run: bool) -> Response:
    """The import kernel's HTTP contract: 201 whatever the outcome, row errors inline."""
    state, reason = outcome.status(mode=mode, dry_run=dry_run)
    body = {
        "status": state,
        "reason": reason,
        "counts": outcome.counts,
        "errors": [e.as_dict() for e in outcome.errors],
        "quotas": s.QuotaSerializer(outcome.extra.get("quotas", []), many=True).data,
    }
    return Response(body, status=status.HTTP_201_CREATED)


IMPORT_EXAMPLE_ROWS = [
    {"employee_id": "E100", "quota_id": "new_bookings", "amount": "300000", "period": "FY2026 Q1"},
    {
        "node": "west",
        "quota_id": "bookings",
        "amount": "1200000",
        "valid_from": "2026-01-01",
        "valid_to": "2027-01-01",
    },
]


class QuotaBulkView(TenantAPIView):
    """Import quota rows sent as JSON: the CSV upload's columns, checks and row errors."""

    permission = "plans.change"

    @extend_schema(
        summary="Import many quotas (JSON rows), all or nothing by default",
        request=s.QuotaBulkSerializer,
        responses={201: s.QuotaImportResultSerializer},
        examples=[
            OpenApiExample(
                "A person's quarter and a team's year",
                value={"plan": 3, "rows": IMPORT_EXAMPLE_ROWS},
                request_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        serializer = s.QuotaBulkSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        outcome = quota_import.quota_import_rows(
            data["rows"],
            access=request_access(request),
            user_id=_user(request),
            mode=data["mode"],
            dry_run=data["dry_run"],
            plan_id=data.get("plan"),
        )
        return _import_result(outcome, mode=data["mode"], dry_run=data["dry_run"])


class QuotaUploadView(TenantAPIView):
    """Import a CSV file of quotas (multipart ``file``); ``dry_run`` checks without writing."""

    permission = "plans.change"
    parser_classes = [SafeJSONParser, MultiPartParser]

    @extend_schema(
        summary="Upload a CSV file of quotas",
        request={"multipart/form-data": s.QuotaUploadSerializer},
        responses={201: s.QuotaImportResultSerializer},
    )
    def post(self, request: Request) -> Response:
        serializer = s.QuotaUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        upload = data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            message = "The file is larger than 20 MB; split it."
            raise ValidationFailedError(message, details={"file": [message]})
        outcome = quota_import.quota_import_csv(
            upload,
            access=request_access(request),
            user_id=_user(request),
            mode=data["mode"],
            dry_run=data["dry_run"],
            plan_id=data.get("plan"),
        )
        return _import_result(outcome, mode=data["mode"], dry_run=data["dry_run"])


# --- acknowledgements ----------------------------------------------------------------------------

ACK_READERS = ("plans.view", "plans.view.team", "plans.view.self")


class PlanAcknowledgementListView(TenantAPIView):
    """Who acknowledged which plan version's document: an employee sees her own, a manager her
    team's, a comp admin everyone's. POST acknowledges a version assigned to you."""

    permission = ACK_READERS

    @extend_schema(
        summary="List plan acknowledgements",
        parameters=list_parameters(filters.PlanAcknowledgementFilter),
        responses=s.PlanAcknowledgementSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        qs = selectors.plan_acknowledgement_list(access=request_access(request))
        return paginate(
            self,
            request,
            qs,
            s.PlanAcknowledgementSerializer,
            filterset=filters.PlanAcknowledgementFilter,
        )

    @extend_schema(
        summary="Acknowledge your plan document (201 the first time, 200 after)",
        request=s.AcknowledgeSerializer,
        responses={201: s.PlanAcknowledgementSerializer, 200: s.PlanAcknowledgementSerializer},
        examples=[OpenApiExample("Version 14", value={"plan_version": 14}, request_only=True)],
    )
    def post(self, request: Request) -> Response:
        serializer = s.AcknowledgeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        access = request_access(request)
        user_id = _user(request)
        person_id = data.get("person_id")
        if person_id is None:
            me = org_selectors.person_for_user(user_id=user_id) if user_id else None
            if me is None:
                raise NotFoundError("No person is linked to you.")
            person_id = me.pk
        selectors.plan_document_person(access=access, person_id=person_id)
        ack, new = services.plan_acknowledge(
            person_id=person_id,
            plan_version_id=data["plan_version"],
            user_id=user_id,
            ip_address=client_ip(request),
            today=tenant_today(request.tenant),  # type: ignore[attr-defined]
        )
        return Response(
            s.PlanAcknowledgementSerializer(ack).data,
            status=status.HTTP_201_CREATED if new else status.HTTP_200_OK,
        )


class PlanAcknowledgementDetailView(TenantAPIView):
    """One acknowledgement."""

    permission = ACK_READERS

    @extend_schema(summary="Get a plan acknowledgement", responses=s.PlanAcknowledgementSerializer)
    def get(self, request: Request, acknowledgement_id: int) -> Response:
        found = selectors.plan_acknowledgement_get(
            access=request_access(request), acknowledgement_id=acknowledgement_id
        )
        return Response(s.PlanAcknowledgementSerializer(found).data)


# --- plan documents -------------------------------------------------------------------------------


class PlanDocumentPdfView(TenantAPIView):
    """A person's plan document of one assigned published version as a PDF: the target
    incentive, quotas, each component in words and the worked examples at 50 / 100 / 150 % the
    engine computed (the same document as the page). An employee reads her own, a manager her
    team's, a comp admin everyone's; anyone else's is a 404."""

    permission = ACK_READERS

    @extend_schema(
        summary="Download a person's plan document as PDF",
        responses={(200, "application/pdf"): bytes},
    )
    def get(self, request: Request, person_id: int, version_id: int) -> HttpResponse:
        person, _assignment, doc = selectors.plan_document_get(
            access=request_access(request),
            person_id=person_id,
            version_id=version_id,
            day=tenant_today(request.tenant),  # type: ignore[attr-defined]
        )
        return documents.plan_document_response(
            doc,
            person=person,
            tenant_name=request.tenant.name,  # type: ignore[attr-defined]
        )
