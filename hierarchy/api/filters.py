"""The declared query parameters of the org API's lists (django-filter, see core/api/filters.py)."""

from __future__ import annotations

from core.api.filters import (
    BooleanFilter,
    CharFilter,
    ChoiceFilter,
    DateFilter,
    DateTimeFilter,
    FilterSet,
    IdFilter,
    IntegerFilter,
    Ordering,
    by_selector,
    view_param,
)
from hierarchy import org_selectors as sel
from hierarchy import selectors
from hierarchy.models import PeriodKind

AS_OF_HELP = "Day asked about (default today)"


class _Window(FilterSet):
    """The window a person list is read in: ?period=, or ?start=&end=, or ?as_of=."""

    as_of = DateFilter(method=view_param, help_text=AS_OF_HELP)
    period = IdFilter(method=view_param, help_text="A period id: its [start, end)")
    start = DateFilter(method=view_param, help_text="Window start (inclusive)")
    end = DateFilter(method=view_param, help_text="Window end (exclusive)")


def _known_at() -> DateTimeFilter:
    return DateTimeFilter(method=view_param, help_text="Replay the org as Quotient knew it then")


class PersonFilter(_Window):
    q = CharFilter(
        method=by_selector(sel.person_list, "search"), help_text="Name, e-mail or employee id"
    )
    ordering = Ordering(
        fields=("full_name", "employee_id", "hire_date", "termination_date", "created_at")
    )


class JobRoleFilter(FilterSet):
    ordering = Ordering(fields=("name", "function"))


class HierarchyFilter(FilterSet):
    ordering = Ordering(fields=("code", "name", "kind"))


class NodeFilter(FilterSet):
    hierarchy = IdFilter(field_name="hierarchy_id", help_text="A hierarchy id")
    q = CharFilter(method=by_selector(sel.node_list, "search"), help_text="Name or code")
    ordering = Ordering(fields=("code", "name"))


class NodeMemberFilter(FilterSet):
    as_of = DateFilter(method=view_param, help_text=AS_OF_HELP)
    known_at = _known_at()
    include_descendants = BooleanFilter(
        method=view_param, help_text="Include the node's subtree (default true)"
    )
    ordering = Ordering(fields=("full_name", "employee_id", "hire_date"))


class AssignmentFilter(_Window):
    person = IdFilter(field_name="person_id", help_text="A person id")
    node = IdFilter(field_name="node_id", help_text="A node id")
    known_at = _known_at()
    ordering = Ordering(fields=("valid_from", "valid_to", "recorded_at"))


class PeriodFilter(FilterSet):
    kind = ChoiceFilter(choices=PeriodKind.choices)
    fiscal_year = IntegerFilter(field_name="fiscal_year", minimum=1900, maximum=2999)
    ordering = Ordering(fields=("start", "kind", "fiscal_year"))


class ImportBatchFilter(FilterSet):
    ordering = Ordering(fields=("created_at",))


class AuditEventFilter(FilterSet):
    """The audit log's filters: the rules live in ``selectors.audit_event_queryset``."""

    actor = CharFilter(
        method=by_selector(selectors.audit_event_queryset),
        help_text="Part of who acted: an e-mail, api:<client name> or system (any case)",
    )
    object_type = CharFilter(
        method=by_selector(selectors.audit_event_queryset),
        help_text="The object's type, exactly: e.g. hierarchy.person, payouts.exportbatch",
    )
    object_id = CharFilter(
        method=by_selector(selectors.audit_event_queryset),
        help_text="The object's id (with object_type: one object's history)",
    )
    action = CharFilter(
        method=by_selector(selectors.audit_event_queryset),
        help_text="An action or its start: plan finds plan.create and plan_version.publish",
    )
    since = DateFilter(
        method=by_selector(selectors.audit_event_queryset),
        help_text="From this day (in the tenant's time zone), included",
    )
    until = DateFilter(
        method=by_selector(selectors.audit_event_queryset),
        help_text="To this day (in the tenant's time zone), included",
    )
    ordering = Ordering(fields=("created_at", "action", "object_type"))
