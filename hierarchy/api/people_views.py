"""People, hierarchies, nodes, job roles, assignments, periods and HR imports. Thin views: each
method calls one service or selector; another tenant's object is a 404 because every lookup
goes through the tenant-scoped managers. Who may see or change whom, and which fields, is the
access policy's (``hierarchy/access.py``)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import params
from core.api.base import TenantAPIView
from core.api.filters import list_parameters
from core.api.pagination import paginate
from core.api.parsers import SafeJSONParser
from core.currencies import CurrencyField
from core.errors import NotFoundError, ValidationFailedError
from core.imports import RowError, report_response
from core.imports.report import FORMATS as REPORT_FORMATS
from hierarchy import org_selectors as sel
from hierarchy import people, periods
from hierarchy.access import PEOPLE_READ, PERSON_OUTPUT_FIELDS, request_access
from hierarchy.api import filters
from hierarchy.imports import hr_import
from hierarchy.models import (
    Assignment,
    Hierarchy,
    HierarchyKind,
    ImportBatch,
    ImportKind,
    JobFunction,
    JobRole,
    Node,
    Period,
    Person,
)
from hierarchy.periods import tenant_today

MAX_UPLOAD_BYTES = 50 * 1024 * 1024

AS_OF = OpenApiParameter("as_of", OpenApiTypes.DATE, description="Day asked about (default today)")
PERIOD = OpenApiParameter("period", OpenApiTypes.INT, description="A period id: its [start, end)")
START = OpenApiParameter("start", OpenApiTypes.DATE, description="Window start (inclusive)")
END = OpenApiParameter("end", OpenApiTypes.DATE, description="Window end (exclusive)")
WINDOW = [AS_OF, PERIOD, START, END]
KNOWN_AT = OpenApiParameter(
    "known_at", OpenApiTypes.DATETIME, description="Replay the org as Quotient knew it then"
)


def _as_of(request: Request) -> date:
    """Return ``?as_of=`` (default: today in the tenant's time zone)."""
    today = tenant_today(request.tenant)  # type: ignore[attr-defined]
    return params.day(request, "as_of", default=today) or today


def _window(request: Request) -> tuple[date, date]:
    """Return the window asked about: ?period=, or ?start=&end=, or ?as_of= (default today)."""
    period_id = params.identifier(request, "period")
    if period_id is not None:
        period = periods.period_list().filter(pk=period_id).first()
        if period is None:
            message = "Unknown period."
            raise ValidationFailedError(message, details={"period": [message]})
        return period.start, period.end
    start, end = params.day(request, "start"), params.day(request, "end")
    if start and end:
        if end <= start:
            raise ValidationFailedError("end must be after start.", details={"end": ["after"]})
        return start, end
    return sel.window_of(as_of=_as_of(request))


STRUCTURE = "changing its structure"


def visible_people(request: Request, start: date, end: date) -> QuerySet[Person]:
    """Return the people the caller may see in the window (the access policy)."""
    return request_access(request).people(start=start, end=end)


def _visible_assignment(request: Request, assignment_id: int) -> Assignment:
    assignment = sel.assignment_get(assignment_id=assignment_id)
    if not visible_people(request, *_window(request)).filter(pk=assignment.person_id).exists():
        raise NotFoundError("Assignment not found.")
    return assignment


def _writable_assignment(request: Request, assignment_id: int) -> Assignment:
    """Return an assignment the caller may change: its person and its node are theirs."""
    assignment = sel.assignment_get(assignment_id=assignment_id)
    access = request_access(request)
    access.check_person_writable(assignment.person_id)
    if not access.node_writable(assignment.node_id, assignment.valid_from, assignment.valid_to):
        raise NotFoundError("Assignment not found.")
    return assignment


# --- people ------------------------------------------------------------------------------------


class PersonListSerializer(serializers.ListSerializer):  # type: ignore[type-arg]
    """Asks the access policy about the whole page at once (one query, not one per person)."""

    def to_representation(self, data: Any) -> list[Any]:
        items = list(data.all() if isinstance(data, QuerySet) else data)
        request = self.context.get("request")
        if request is not None:
            request_access(request).pay_visible_ids(p.pk for p in items)
        return super().to_representation(items)


class PersonOutputSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    """A person, with the fields the access policy lets the caller see: salary, attributes and
    the linked user only for whoever answers for that person's pay, or the person themselves."""

    def to_representation(self, instance: Person) -> dict[str, Any]:
        data: dict[str, Any] = super().to_representation(instance)
        request = self.context.get("request")
        shown = set(request_access(request).person_fields(instance)) if request else set()
        return {k: v for k, v in data.items() if k in shown}

    class Meta:
        model = Person
        fields = list(PERSON_OUTPUT_FIELDS)
        list_serializer_class = PersonListSerializer


class PersonInputSerializer(serializers.Serializer):  # type: ignore[type-arg]
    employee_id = serializers.CharField(max_length=64)
    full_name = serializers.CharField(max_length=200)
    email = serializers.EmailField(required=False, allow_blank=True)
    user_id = serializers.IntegerField(required=False, allow_null=True)
    manager_id = serializers.IntegerField(required=False, allow_null=True)
    hire_date = serializers.DateField()
    termination_date = serializers.DateField(required=False, allow_null=True)
    home_currency = CurrencyField(required=False)
    base_salary = serializers.DecimalField(
        max_digits=20, decimal_places=4, required=False, allow_null=True, min_value=0
    )
    attributes = serializers.DictField(required=False)


class PersonListView(TenantAPIView):
    """People the caller may see (``?q=`` searches), or create one."""

    permission = PEOPLE_READ
    write_permission = "people.change"

    @extend_schema(
        parameters=list_parameters(filters.PersonFilter),
        responses=PersonOutputSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        start, end = _window(request)
        people_qs = visible_people(request, start, end).order_by("full_name", "employee_id")
        return paginate(
            self, request, people_qs, PersonOutputSerializer, filterset=filters.PersonFilter
        )

    @extend_schema(request=PersonInputSerializer, responses={201: PersonOutputSerializer})
    def post(self, request: Request) -> Response:
        # Someone new belongs to no node yet: outside every node scope.
        request_access(request).require_tenant_wide("adding a person")
        serializer = PersonInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        person = people.person_create(**serializer.validated_data)
        return Response(
            PersonOutputSerializer(person, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


class PersonDetailView(TenantAPIView):
    """One person: read, change, or delete (only if never assigned)."""

    permission = PEOPLE_READ
    write_permission = "people.change"

    def _get(self, request: Request, person_id: int) -> Person:
        start, end = _window(request)
        return request_access(request).person_get(person_id=person_id, start=start, end=end)

    def _get_writable(self, request: Request, person_id: int) -> Person:
        person = self._get(request, person_id)
        request_access(request).check_person_writable(person.pk)
        return person

    @extend_schema(parameters=WINDOW, responses=PersonOutputSerializer)
    def get(self, request: Request, person_id: int) -> Response:
        return Response(
            PersonOutputSerializer(self._get(request, person_id), context={"request": request}).data
        )

    @extend_schema(request=PersonInputSerializer(partial=True), responses=PersonOutputSerializer)
    def patch(self, request: Request, person_id: int) -> Response:
        current = self._get_writable(request, person_id)
        serializer = PersonInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        if "manager_id" in serializer.validated_data:
            request_access(request).check_manager(
                serializer.validated_data["manager_id"], current=current.manager_id
            )
        person = people.person_update(person_id=person_id, **serializer.validated_data)
        return Response(PersonOutputSerializer(person, context={"request": request}).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, person_id: int) -> Response:
        self._get_writable(request, person_id)
        people.person_delete(person_id=person_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PersonTerminateView(TenantAPIView):
    """Record a termination: assignments running past it end on that date."""

    permission = "people.change"

    class InputSerializer(serializers.Serializer):  # type: ignore[type-arg]
        termination_date = serializers.DateField()

    @extend_schema(request=InputSerializer, responses=PersonOutputSerializer)
    def post(self, request: Request, person_id: int) -> Response:
        request_access(request).check_person_writable(person_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        person = people.person_terminate(person_id=person_id, **serializer.validated_data)
        return Response(PersonOutputSerializer(person, context={"request": request}).data)


SEGMENT_FIELDS: dict[str, serializers.Field] = (  # type: ignore[type-arg]
    {
        "assignment_id": serializers.IntegerField(),
        "node_id": serializers.IntegerField(),
        "node_name": serializers.CharField(),
        "hierarchy_id": serializers.IntegerField(),
        "hierarchy_name": serializers.CharField(),
        "role_id": serializers.IntegerField(),
        "role_name": serializers.CharField(),
        "function": serializers.CharField(),
        "title": serializers.CharField(),
        "allocation_pct": serializers.DecimalField(max_digits=5, decimal_places=2),
        "is_manager": serializers.BooleanField(),
        "start": serializers.DateField(),
        "end": serializers.DateField(),
        "days": serializers.IntegerField(),
        "weighted_days": serializers.DecimalField(max_digits=12, decimal_places=4),
        "share": serializers.DecimalField(max_digits=12, decimal_places=8),
    }
)


def segment_data(s: sel.Segment) -> dict[str, Any]:
    return {
        "assignment_id": s.assignment_id,
        "node_id": s.node_id,
        "node_name": s.node_name,
        "hierarchy_id": s.hierarchy_id,
        "hierarchy_name": s.hierarchy_name,
        "role_id": s.role_id,
        "role_name": s.role_name,
        "function": s.function,
        "title": s.title,
        "allocation_pct": str(s.allocation_pct),
        "is_manager": s.is_manager,
        "start": s.start.isoformat(),
        "end": s.end.isoformat(),
        "days": s.days,
        "weighted_days": str(s.weighted_days.quantize(_Q4)),
        "share": str(s.share.quantize(_Q8)),
    }


_Q4 = Decimal("0.0001")
_Q8 = Decimal("0.00000001")


class PersonTimelineView(TenantAPIView):
    """A person's assignments over a window as day-counted segments (the pro-ration input)."""

    permission = PEOPLE_READ

    @extend_schema(
        parameters=[PERIOD, START, END, AS_OF, KNOWN_AT],
        responses=inline_serializer(
            "Timeline",
            {
                "person_id": serializers.IntegerField(),
                "start": serializers.DateField(),
                "end": serializers.DateField(),
                "days": serializers.IntegerField(),
                "segments": inline_serializer("TimelineSegment", SEGMENT_FIELDS, many=True),
            },
        ),
    )
    def get(self, request: Request, person_id: int) -> Response:
        start, end = _window(request)
        person = request_access(request).person_get(person_id=person_id, start=start, end=end)
        segments = sel.person_timeline(
            person=person, start=start, end=end, known_at=params.moment(request, "known_at")
        )
        return Response(
            {
                "person_id": person.pk,
                "start": start.isoformat(),
                "end": end.isoformat(),
                "days": (end - start).days,
                "segments": [segment_data(s) for s in segments],
            }
        )


class PersonManagersView(TenantAPIView):
    """A person's manager chain on ``as_of``, nearest first."""

    permission = PEOPLE_READ

    @extend_schema(
        parameters=[AS_OF, KNOWN_AT, OpenApiParameter("hierarchy", OpenApiTypes.INT)],
        responses=inline_serializer(
            "ManagerChainLink",
            {
                "person": PersonOutputSerializer(),
                "node_id": serializers.IntegerField(),
                "node_name": serializers.CharField(),
                "levels_up": serializers.IntegerField(),
            },
            many=True,
        ),
    )
    def get(self, request: Request, person_id: int) -> Response:
        start, end = _window(request)
        person = request_access(request).person_get(person_id=person_id, start=start, end=end)
        chain = sel.manager_chain(
            person=person,
            as_of=start,
            hierarchy_id=params.identifier(request, "hierarchy"),
            known_at=params.moment(request, "known_at"),
        )
        # One pay-visibility query for the whole chain (each link's serializer then reads it).
        request_access(request).pay_visible_ids(c.person.pk for c in chain)
        return Response(
            [
                {
                    "person": PersonOutputSerializer(c.person, context={"request": request}).data,
                    "node_id": c.node.pk,
                    "node_name": c.node.name,
                    "levels_up": c.levels_up,
                }
                for c in chain
            ]
        )


# --- job roles ---------------------------------------------------------------------------------


class JobRoleSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = JobRole
        fields = ["id", "name", "function"]


class JobRoleInputSerializer(serializers.Serializer):  # type: ignore[type-arg]
    name = serializers.CharField(max_length=120)
    function = serializers.ChoiceField(choices=JobFunction.choices)


class JobRoleListView(TenantAPIView):
    """Job roles (what people do: Account Executive, SDR…); POST creates one (comp admin)."""

    permission = "people.view"
    write_permission = "people.change"

    @extend_schema(
        parameters=list_parameters(filters.JobRoleFilter), responses=JobRoleSerializer(many=True)
    )
    def get(self, request: Request) -> Response:
        return paginate(
            self, request, sel.job_role_list(), JobRoleSerializer, filterset=filters.JobRoleFilter
        )

    @extend_schema(request=JobRoleInputSerializer, responses={201: JobRoleSerializer})
    def post(self, request: Request) -> Response:
        request_access(request).require_tenant_wide(STRUCTURE)
        serializer = JobRoleInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        role = people.job_role_create(**serializer.validated_data)
        return Response(JobRoleSerializer(role).data, status=status.HTTP_201_CREATED)


class JobRoleDetailView(TenantAPIView):
    """One job role: read, rename or change its function, or delete it while nobody holds it."""

    permission = "people.view"
    write_permission = "people.change"

    @extend_schema(responses=JobRoleSerializer)
    def get(self, request: Request, role_id: int) -> Response:
        return Response(JobRoleSerializer(sel.job_role_get(role_id=role_id)).data)

    @extend_schema(request=JobRoleInputSerializer(partial=True), responses=JobRoleSerializer)
    def patch(self, request: Request, role_id: int) -> Response:
        request_access(request).require_tenant_wide(STRUCTURE)
        sel.job_role_get(role_id=role_id)
        serializer = JobRoleInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        role = people.job_role_update(role_id=role_id, **serializer.validated_data)
        return Response(JobRoleSerializer(role).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, role_id: int) -> Response:
        request_access(request).require_tenant_wide(STRUCTURE)
        people.job_role_delete(role_id=role_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- hierarchies and nodes ---------------------------------------------------------------------


class HierarchySerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = Hierarchy
        fields = ["id", "code", "name", "kind"]


class HierarchyInputSerializer(serializers.Serializer):  # type: ignore[type-arg]
    code = serializers.SlugField(max_length=64)
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=HierarchyKind.choices)


class HierarchyListView(TenantAPIView):
    """The tenant's hierarchies (reporting, region, function, business unit…); POST creates one."""

    permission = "people.view"
    write_permission = "people.change"

    @extend_schema(
        parameters=list_parameters(filters.HierarchyFilter),
        responses=HierarchySerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        return paginate(
            self,
            request,
            sel.hierarchy_list(),
            HierarchySerializer,
            filterset=filters.HierarchyFilter,
        )

    @extend_schema(request=HierarchyInputSerializer, responses={201: HierarchySerializer})
    def post(self, request: Request) -> Response:
        request_access(request).require_tenant_wide(STRUCTURE)
        serializer = HierarchyInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        hierarchy = people.hierarchy_create(**serializer.validated_data)
        return Response(HierarchySerializer(hierarchy).data, status=status.HTTP_201_CREATED)


class HierarchyDetailView(TenantAPIView):
    """One hierarchy: read, rename or change its kind, or delete it while it has no nodes."""

    permission = "people.view"
    write_permission = "people.change"

    @extend_schema(responses=HierarchySerializer)
    def get(self, request: Request, hierarchy_id: int) -> Response:
        return Response(HierarchySerializer(sel.hierarchy_get(hierarchy_id=hierarchy_id)).data)

    @extend_schema(
        request=inline_serializer(
            "HierarchyPatch",
            {"name": serializers.CharField(required=False), "kind": serializers.CharField()},
        ),
        responses=HierarchySerializer,
    )
    def patch(self, request: Request, hierarchy_id: int) -> Response:
        request_access(request).require_tenant_wide(STRUCTURE)
        sel.hierarchy_get(hierarchy_id=hierarchy_id)
        serializer = HierarchyInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = {k: v for k, v in serializer.validated_data.items() if k in {"name", "kind"}}
        hierarchy = people.hierarchy_update(hierarchy_id=hierarchy_id, **data)
        return Response(HierarchySerializer(hierarchy).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, hierarchy_id: int) -> Response:
        request_access(request).require_tenant_wide(STRUCTURE)
        people.hierarchy_delete(hierarchy_id=hierarchy_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


def tree_data(item: sel.TreeNode) -> dict[str, Any]:
    return {
        "id": item.node.pk,
        "code": item.node.code,
        "name": item.node.name,
        "direct": item.direct,
        "total": item.total,
        "managers": item.managers,
        "children": [tree_data(c) for c in item.children],
    }


class HierarchyTreeView(TenantAPIView):
    """The hierarchy as it stood on ``as_of``: nested nodes with headcounts and managers."""

    permission = "people.view"

    @extend_schema(parameters=[AS_OF], responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, hierarchy_id: int) -> Response:
        hierarchy = sel.hierarchy_get(hierarchy_id=hierarchy_id)
        as_of = _as_of(request)
        roots = sel.org_tree(
            hierarchy=hierarchy,
            as_of=as_of,
            within=request_access(request).scope,
        )
        return Response(
            {
                "hierarchy": HierarchySerializer(hierarchy).data,
                "as_of": as_of.isoformat(),
                "roots": [tree_data(r) for r in roots],
            }
        )


class NodeSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    hierarchy_id = serializers.IntegerField()

    class Meta:
        model = Node
        fields = ["id", "hierarchy_id", "code", "name"]


class NodeDetailSerializer(NodeSerializer):
    parents = serializers.SerializerMethodField()

    class Meta(NodeSerializer.Meta):
        fields = [*NodeSerializer.Meta.fields, "parents"]

    def get_parents(self, node: Node) -> list[dict[str, Any]]:
        return [
            {
                "parent_id": link.parent_id,
                "valid_from": link.valid_from.isoformat(),
                "valid_to": link.valid_to.isoformat() if link.valid_to else None,
            }
            for link in sel.node_parent_history(node_id=node.pk)
        ]


class NodeListView(TenantAPIView):
    """Nodes (``?hierarchy=``, ``?q=``), or create one under a parent from a date."""

    permission = "people.view"
    write_permission = "people.change"

    class InputSerializer(serializers.Serializer):  # type: ignore[type-arg]
        hierarchy_id = serializers.IntegerField()
        code = serializers.SlugField(max_length=64)
        name = serializers.CharField(max_length=200)
        parent_id = serializers.IntegerField(required=False, allow_null=True)
        valid_from = serializers.DateField()
        valid_to = serializers.DateField(required=False, allow_null=True)

    @extend_schema(
        parameters=list_parameters(filters.NodeFilter), responses=NodeSerializer(many=True)
    )
    def get(self, request: Request) -> Response:
        return paginate(
            self, request, sel.node_list(), NodeSerializer, filterset=filters.NodeFilter
        )

    @extend_schema(request=InputSerializer, responses={201: NodeDetailSerializer})
    def post(self, request: Request) -> Response:
        request_access(request).require_tenant_wide(STRUCTURE)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        node = people.node_create(**serializer.validated_data)
        return Response(NodeDetailSerializer(node).data, status=status.HTTP_201_CREATED)


class NodeDetailView(TenantAPIView):
    """One node with its effective-dated parents: read, rename, or delete (if unused)."""

    permission = "people.view"
    write_permission = "people.change"

    class InputSerializer(serializers.Serializer):  # type: ignore[type-arg]
        code = serializers.SlugField(max_length=64, required=False)
        name = serializers.CharField(max_length=200, required=False)

    @extend_schema(responses=NodeDetailSerializer)
    def get(self, request: Request, node_id: int) -> Response:
        return Response(NodeDetailSerializer(sel.node_get(node_id=node_id)).data)

    @extend_schema(request=InputSerializer, responses=NodeDetailSerializer)
    def patch(self, request: Request, node_id: int) -> Response:
        request_access(request).require_tenant_wide(STRUCTURE)
        sel.node_get(node_id=node_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        node = people.node_update(node_id=node_id, **serializer.validated_data)
        return Response(NodeDetailSerializer(node).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, node_id: int) -> Response:
        request_access(request).require_tenant_wide(STRUCTURE)
        people.node_delete(node_id=node_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class NodeMoveView(TenantAPIView):
    """Put a node under another parent (``parent_id`` null: a root) from ``valid_from``."""

    permission = "people.change"

    class InputSerializer(serializers.Serializer):  # type: ignore[type-arg]
        parent_id = serializers.IntegerField(allow_null=True)
        valid_from = serializers.DateField()
        valid_to = serializers.DateField(required=False, allow_null=True)

    @extend_schema(request=InputSerializer, responses=NodeDetailSerializer)
    def post(self, request: Request, node_id: int) -> Response:
        request_access(request).require_tenant_wide(STRUCTURE)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        node = people.node_move(node_id=node_id, **serializer.validated_data)
        return Response(NodeDetailSerializer(node).data)


class NodeMembersView(TenantAPIView):
    """People assigned to a node (and by default its subtree) on ``as_of``."""

    permission = "people.view"

    @extend_schema(
        parameters=list_parameters(filters.NodeMemberFilter),
        responses=PersonOutputSerializer(many=True),
    )
    def get(self, request: Request, node_id: int) -> Response:
        node = sel.node_get(node_id=node_id)
        as_of = _as_of(request)
        members = sel.node_members(
            node=node,
            as_of=as_of,
            include_descendants=params.boolean(request, "include_descendants", default=True),
            known_at=params.moment(request, "known_at"),
        )
        members = members.filter(pk__in=visible_people(request, as_of, as_of + timedelta(days=1)))
        return paginate(
            self, request, members, PersonOutputSerializer, filterset=filters.NodeMemberFilter
        )


# --- assignments -------------------------------------------------------------------------------


class AssignmentSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    person_id = serializers.IntegerField()
    node_id = serializers.IntegerField()
    role_id = serializers.IntegerField()

    class Meta:
        model = Assignment
        fields = [
            "id",
            "person_id",
            "node_id",
            "role_id",
            "title",
            "allocation_pct",
            "is_manager",
            "valid_from",
            "valid_to",
            "recorded_at",
        ]


class AssignmentInputSerializer(serializers.Serializer):  # type: ignore[type-arg]
    person_id = serializers.IntegerField()
    node_id = serializers.IntegerField()
    role_id = serializers.IntegerField()
    title = serializers.CharField(max_length=200, required=False, allow_blank=True)
    allocation_pct = serializers.DecimalField(max_digits=5, decimal_places=2, required=False)
    is_manager = serializers.BooleanField(required=False)
    valid_from = serializers.DateField()
    valid_to = serializers.DateField(required=False, allow_null=True)


class AssignmentListView(TenantAPIView):
    """Assignments (``?person=``, ``?node=``, ``?as_of=``, ``?known_at=``), or create one."""

    permission = "people.view"
    write_permission = "people.change"

    @extend_schema(
        parameters=list_parameters(filters.AssignmentFilter),
        responses=AssignmentSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        rows = sel.assignment_list(
            as_of=params.day(request, "as_of"), known_at=params.moment(request, "known_at")
        )
        rows = rows.filter(person__in=visible_people(request, *_window(request)))
        return paginate(
            self, request, rows, AssignmentSerializer, filterset=filters.AssignmentFilter
        )

    @extend_schema(request=AssignmentInputSerializer, responses={201: AssignmentSerializer})
    def post(self, request: Request) -> Response:
        serializer = AssignmentInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        access = request_access(request)
        access.check_person_writable(data["person_id"], missing_as_400=True)
        access.check_node_writable(data["node_id"], data["valid_from"], data.get("valid_to"))
        assignment = people.assignment_create(**data)
        return Response(AssignmentSerializer(assignment).data, status=status.HTTP_201_CREATED)


class AssignmentDetailView(TenantAPIView):
    """One assignment. PATCH supersedes it with a new version (new id, returned); DELETE
    withdraws it (kept for replays with ``known_at``)."""

    permission = "people.view"
    write_permission = "people.change"

    @extend_schema(parameters=WINDOW, responses=AssignmentSerializer)
    def get(self, request: Request, assignment_id: int) -> Response:
        return Response(AssignmentSerializer(_visible_assignment(request, assignment_id)).data)

    @extend_schema(request=AssignmentInputSerializer(partial=True), responses=AssignmentSerializer)
    def patch(self, request: Request, assignment_id: int) -> Response:
        old = _writable_assignment(request, assignment_id)
        serializer = AssignmentInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        if "person_id" in changes:
            message = "An assignment cannot move to another person; create a new one."
            raise ValidationFailedError(message, details={"person_id": [message]})
        request_access(request).check_node_writable(
            changes.get("node_id", old.node_id),
            changes.get("valid_from", old.valid_from),
            changes.get("valid_to", old.valid_to),
        )
        assignment = people.assignment_update(assignment_id=assignment_id, **changes)
        return Response(AssignmentSerializer(assignment).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, assignment_id: int) -> Response:
        _writable_assignment(request, assignment_id)
        people.assignment_delete(assignment_id=assignment_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- periods -----------------------------------------------------------------------------------


PERIODS = "changing the period calendar"


class PeriodSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = Period
        fields = [
            "id",
            "kind",
            "fiscal_year",
            "label",
            "start",
            "end",
            "status",
            "data_lock_date",
        ]


class PeriodListView(TenantAPIView):
    """The period calendar (``?kind=``, ``?fiscal_year=``); POST generates a fiscal year."""

    permission = PEOPLE_READ
    write_permission = ("people.change", "payouts.approve")

    class InputSerializer(serializers.Serializer):  # type: ignore[type-arg]
        fiscal_year = serializers.IntegerField(min_value=1900, max_value=2999)

    @extend_schema(
        parameters=list_parameters(filters.PeriodFilter), responses=PeriodSerializer(many=True)
    )
    def get(self, request: Request) -> Response:
        return paginate(
            self, request, periods.period_list(), PeriodSerializer, filterset=filters.PeriodFilter
        )

    @extend_schema(request=InputSerializer, responses={201: PeriodSerializer(many=True)})
    def post(self, request: Request) -> Response:
        request_access(request).require_tenant_wide(PERIODS)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        rows = periods.period_generate_fiscal_year(**serializer.validated_data)
        return Response(PeriodSerializer(rows, many=True).data, status=status.HTTP_201_CREATED)


class PeriodDetailView(TenantAPIView):
    """One period; PATCH its label or data lock date. Its status moves only through the
    lifecycle endpoints (``submit/``, ``approve/``, ``reopen/``, ``close/``)."""

    permission = PEOPLE_READ
    write_permission = ("people.change", "payouts.approve")

    class InputSerializer(serializers.Serializer):  # type: ignore[type-arg]
        data_lock_date = serializers.DateField(required=False, allow_null=True)
        label = serializers.CharField(max_length=40, required=False)  # type: ignore[assignment]

    @extend_schema(summary="Get a period", responses=PeriodSerializer)
    def get(self, request: Request, period_id: int) -> Response:
        return Response(PeriodSerializer(periods.period_get(period_id=period_id)).data)

    @extend_schema(
        summary="Rename a period or move its data lock (not its status)",
        request=InputSerializer,
        responses=PeriodSerializer,
    )
    def patch(self, request: Request, period_id: int) -> Response:
        periods.period_get(period_id=period_id)
        access = request_access(request)
        access.require_tenant_wide(PERIODS)
        if isinstance(request.data, dict) and "status" in request.data:
            periods.period_update(period_id=period_id, status=request.data.get("status"))
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        # Locking a period is finance's (DESIGN.md "Period lifecycle").
        if "data_lock_date" in data and not access.principal.has("payouts.approve"):
            from rest_framework.exceptions import PermissionDenied

            raise PermissionDenied("Locking a period is finance's.")
        period = periods.period_update(period_id=period_id, **data)
        return Response(PeriodSerializer(period).data)


# --- HR imports --------------------------------------------------------------------------------


class ImportBatchSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = ImportBatch
        fields = [
            "id",
            "kind",
            "source",
            "filename",
            "dry_run",
            "mode",
            "status",
            "reason",
            "row_count",
            "counts",
            "error_count",
            "errors_url",
            "errors",
            "diffs",
            "created_at",
        ]

    error_count = serializers.SerializerMethodField()
    errors_url = serializers.SerializerMethodField()

    def get_error_count(self, batch: ImportBatch) -> int:
        """Rows with at least one error."""
        return int((batch.counts or {}).get("errors", 0))

    def get_errors_url(self, batch: ImportBatch) -> str:
        """The error report (CSV; ``?fmt=json`` for JSON)."""
        return reverse("api-hr-import-errors", args=[batch.pk])


class ImportListView(TenantAPIView):
    """HR imports. POST a CSV (multipart ``file``) or JSON ``rows``; ``dry_run`` previews.

    The import kernel's HTTP contract: a finished import answers 201 with its batch whatever
    its outcome (``committed``, ``committed_with_errors``, ``failed`` with its ``reason``, or
    ``validated`` for a dry run), its row errors ``{line, column, code, message, value}``
    inline and in the report at ``errors_url``. A request that is not an import at all (no
    file and no rows, a file too large) is the error envelope.
    """

    permission = "people.change"
    parser_classes = [SafeJSONParser, MultiPartParser, FormParser]

    class InputSerializer(serializers.Serializer):  # type: ignore[type-arg]
        kind = serializers.ChoiceField(choices=ImportKind.choices)
        dry_run = serializers.BooleanField(required=False, default=False)
        mode = serializers.ChoiceField(
            choices=["all_or_nothing", "partial"], required=False, default="all_or_nothing"
        )
        file = serializers.FileField(required=False)
        rows = serializers.ListField(child=serializers.DictField(), required=False)

    @extend_schema(
        parameters=list_parameters(filters.ImportBatchFilter),
        responses=ImportBatchSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        return paginate(
            self,
            request,
            request_access(request).import_batches(sel.import_batch_list()),
            ImportBatchSerializer,
            filterset=filters.ImportBatchFilter,
        )

    @extend_schema(
        request={
            "multipart/form-data": InputSerializer,
            "application/json": InputSerializer,
        },
        responses={201: ImportBatchSerializer},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        upload = data.get("file")
        if (upload is None) == ("rows" not in data):
            message = "Send either a CSV file or a list of rows."
            raise ValidationFailedError(message, details={"file": [message]})
        if upload is not None and upload.size > MAX_UPLOAD_BYTES:
            message = "The file is larger than 50 MB; split it."
            raise ValidationFailedError(message, details={"file": [message]})
        batch = hr_import(
            kind=data["kind"],
            content=upload,
            rows=data.get("rows"),
            filename=getattr(upload, "name", "") or "",
            dry_run=data["dry_run"],
            partial=data["mode"] == "partial",
            created_by_id=request.user.pk if getattr(request, "membership", None) else None,
            access=request_access(request),
        )
        return Response(ImportBatchSerializer(batch).data, status=status.HTTP_201_CREATED)


class ImportDetailView(TenantAPIView):
    """One HR import: its status, counts and whether it was a dry run."""

    permission = "people.change"

    @extend_schema(responses=ImportBatchSerializer)
    def get(self, request: Request, batch_id: int) -> Response:
        within = request_access(request).import_batches(sel.import_batch_list())
        batch = sel.import_batch_get(batch_id=batch_id, within=within)
        return Response(ImportBatchSerializer(batch).data)


class ImportErrorsView(TenantAPIView):
    """One HR import's error report: CSV (``?fmt=json`` for JSON), formula cells neutralised."""

    permission = "people.change"

    @extend_schema(
        summary="Download an HR import's error report",
        parameters=[OpenApiParameter("fmt", str, enum=list(REPORT_FORMATS))],
        responses={(200, "text/csv"): str, (200, "application/json"): dict},
    )
    def get(self, request: Request, batch_id: int) -> HttpResponse:
        within = request_access(request).import_batches(sel.import_batch_list())
        batch = sel.import_batch_get(batch_id=batch_id, within=within)
        fmt = params.choice(request, "fmt", list(REPORT_FORMATS), default="csv") or "csv"
        # Stored errors become RowErrors again (read-only attributes: the report only reads).
        errors: list[Any] = [RowError(**e) for e in batch.errors]
        return report_response(errors, filename=f"hr-import-{batch.pk}-errors", fmt=fmt)
