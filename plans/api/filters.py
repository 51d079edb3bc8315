"""The declared query parameters of the plans API's lists (see core/api/filters.py)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from core.api.filters import (
    BooleanFilter,
    CharFilter,
    ChoiceFilter,
    DateFilter,
    FilterSet,
    IdFilter,
    Ordering,
    view_param,
)
from core.temporal import as_of_q
from hierarchy.models import JobFunction
from plans.models import ObjectiveStatus, VersionStatus


def _search(queryset: QuerySet[Any], name: str, value: Any) -> QuerySet[Any]:
    if not value:
        return queryset
    from plans.selectors import plan_list

    return queryset & plan_list(archived=None, search=value)


def _as_of(queryset: QuerySet[Any], name: str, value: Any) -> QuerySet[Any]:
    return queryset if value is None else queryset.filter(as_of_q(value))


class PlanFilter(FilterSet):
    archived = BooleanFilter(method=view_param, help_text="Archived plans instead (default false)")
    function = ChoiceFilter(choices=JobFunction.choices)
    q = CharFilter(method=_search, help_text="Name or code contains")
    ordering = Ordering(fields=("name", "code", "created_at"))


class PlanVersionFilter(FilterSet):
    status = ChoiceFilter(choices=VersionStatus.choices)
    as_of = DateFilter(method=_as_of, help_text="Versions in force on this day")
    ordering = Ordering(fields=("number", "valid_from", "created_at"))


class PlanAssignmentFilter(FilterSet):
    plan = IdFilter(field_name="plan_id", help_text="Plan id")
    plan_version = IdFilter(field_name="plan_version_id", help_text="Plan version id")
    person = IdFilter(field_name="person_id", help_text="Person id")
    role = IdFilter(field_name="role_id", help_text="Job role id")
    node = IdFilter(field_name="node_id", help_text="Node id")
    as_of = DateFilter(method=_as_of, help_text="Assignments in force on this day")
    ordering = Ordering(fields=("valid_from", "created_at", "target_incentive"))


class QuotaFilter(FilterSet):
    plan = IdFilter(field_name="plan_id", help_text="Plan id")
    person = IdFilter(field_name="person_id", help_text="Person id")
    node = IdFilter(field_name="node_id", help_text="Node id")
    quota_id = CharFilter(field_name="quota_id", help_text="Quota id")
    as_of = DateFilter(method=_as_of, help_text="Quotas in force on this day")
    ordering = Ordering(fields=("valid_from", "quota_id", "amount", "created_at"))


class PlanAcknowledgementFilter(FilterSet):
    plan = IdFilter(field_name="plan_id", help_text="Plan id")
    plan_version = IdFilter(field_name="plan_version_id", help_text="Plan version id")
    person = IdFilter(field_name="person_id", help_text="Person id")
    ordering = Ordering(fields=("acknowledged_at",))


class ObjectiveFilter(FilterSet):
    person = IdFilter(field_name="person_id", help_text="Person id")
    period = IdFilter(field_name="period_id", help_text="Period id")
    plan = IdFilter(field_name="plan_id", help_text="Plan id (linked objectives)")
    status = ChoiceFilter(choices=ObjectiveStatus.choices)
    ordering = Ordering(fields=("weight", "completion", "created_at", "signed_off_at"))
