"""Templates filter on the transaction kinds the imports accept: a filter on a kind no import
can produce reads no credits and pays nothing, while the builder calls the plan valid."""

from __future__ import annotations

from typing import Any

import pytest

from incentives.models import TransactionKind
from plans.catalog import template_list

KINDS = set(TransactionKind.values)


def _filter_kinds(plan: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for measure in plan.get("measures", []):
        found |= set((measure.get("filter") or {}).get("transaction_types", []))
    for component in plan.get("components", []):
        found |= set((component.get("filter") or {}).get("transaction_types", []))
    return found


@pytest.mark.parametrize("template", template_list(), ids=lambda t: t.key)
def test_a_templates_filters_and_sample_use_importable_kinds(template):
    used = _filter_kinds(template.plan)
    used |= {c["type"] for c in template.sample.get("credits", []) if "type" in c}
    assert used <= KINDS, f"{template.key}: {sorted(used - KINDS)} is not a transaction kind"


def test_the_check_sees_a_kind_no_import_produces():
    # a positive control: the helper really reads the filters
    plan = {"measures": [{"id": "m", "aggregate": "sum", "filter": {"transaction_types": ["new"]}}]}
    assert _filter_kinds(plan) - KINDS == {"new"}
