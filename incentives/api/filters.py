"""The declared query parameters of the incentive-data API's lists (see core/api/filters.py).

Filters whose rule is a selector's (``transaction_list``'s ``filters``, shared with the
transactions page) call it through :func:`~core.api.filters.by_selector`.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from core.api.filters import (
    BooleanFilter,
    CharFilter,
    ChoiceFilter,
    DateFilter,
    FilterSet,
    Ordering,
    by_selector,
    view_param,
)
from incentives import selectors
from incentives.models import Credit, CreditKind, CreditRollup, Transaction, TransactionKind


def _transactions(**filters: Any) -> QuerySet[Transaction]:
    return selectors.transaction_list(filters=filters, history=True)


def _credits(**filters: Any) -> QuerySet[Credit]:
    return selectors.credit_matching(filters=filters, history=True)


HISTORY_HELP = "Include superseded versions (default false)"


class TransactionFilter(FilterSet):
    kind = ChoiceFilter(choices=TransactionKind.choices, method=by_selector(_transactions))
    source = CharFilter(method=by_selector(_transactions), help_text="e.g. salesforce")
    external_id = CharFilter(method=by_selector(_transactions), help_text="The source's id")
    owner = CharFilter(method=by_selector(_transactions), help_text="Owner's employee id")
    account = CharFilter(method=by_selector(_transactions), help_text="Account name contains")
    date_from = DateFilter(method=by_selector(_transactions), help_text="Booked on or after")
    date_to = DateFilter(method=by_selector(_transactions), help_text="Booked before")
    q = CharFilter(method=by_selector(_transactions), help_text="Id, account or owner name")
    history = BooleanFilter(method=view_param, help_text=HISTORY_HELP)
    ordering = Ordering(fields=("booked_on", "amount", "external_id", "recorded_at"))


class CreditFilter(FilterSet):
    transaction = CharFilter(method=by_selector(_credits), help_text="Transaction external id")
    person = CharFilter(method=by_selector(_credits), help_text="Person's employee id")
    kind = ChoiceFilter(choices=CreditKind.choices, method=by_selector(_credits))
    period = CharFilter(method=by_selector(_credits), help_text="Period label, e.g. 2026-Q1")
    corrections = BooleanFilter(
        method=by_selector(_credits), help_text="Only corrections of closed periods"
    )
    history = BooleanFilter(method=view_param, help_text=HISTORY_HELP)
    ordering = Ordering(fields=("credit_date", "amount", "computed_at"))


def _rollups(**filters: Any) -> QuerySet[CreditRollup]:
    return selectors.credit_rollup_matching(filters=filters)


class CreditRollupFilter(FilterSet):
    person = CharFilter(method=by_selector(_rollups), help_text="Manager's employee id")
    date_from = DateFilter(method=by_selector(_rollups), help_text="On or after this day")
    date_to = DateFilter(method=by_selector(_rollups), help_text="Before this day")
    ordering = Ordering(fields=("credit_date", "amount", "credit_count"))


class IngestBatchFilter(FilterSet):
    ordering = Ordering(fields=("created_at", "finished_at"))


class IngestErrorFilter(FilterSet):
    ordering = Ordering(fields=("line", "column", "code"))


class CreditingRuleFilter(FilterSet):
    ordering = Ordering(fields=("priority", "name", "valid_from"))


class FxRateFilter(FilterSet):
    ordering = Ordering(fields=("currency", "quote_currency", "valid_on"))


class KpiValueFilter(FilterSet):
    metric = CharFilter(method=by_selector(selectors.kpi_value_list), help_text="Metric name")
    period = CharFilter(
        method=by_selector(selectors.kpi_value_list), help_text="Period label, e.g. 2026-Q1"
    )
    ordering = Ordering(fields=("metric", "recorded_at"))
