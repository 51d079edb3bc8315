"""What pages call a plan component: the plan's own ``name`` for it, else its id in words, from
one rule (``engine.spec.component_title``) and one batched lookup
(``plans.selectors.component_names``)."""

from __future__ import annotations

from typing import Any

import pytest

from core.tenancy import tenant_scope
from engine.spec import component_title, spec_component_titles
from plans import services
from plans.models import PlanVersion
from plans.selectors import ComponentNames, component_names
from tests.plans.conftest import plan_a  # noqa: F401 (fixture)


def test_a_component_is_called_by_its_own_name_else_by_its_id_in_words() -> None:
    assert component_title("per_qualified_meeting", "Meetings that qualify") == (
        "Meetings that qualify"
    )
    assert component_title("per_qualified_meeting", "  Meetings  ") == "Meetings"
    assert component_title("per_qualified_meeting") == "Per qualified meeting"
    assert component_title("per_qualified_meeting", None) == "Per qualified meeting"
    assert component_title("per_qualified_meeting", "   ") == "Per qualified meeting"


def test_a_specs_components_are_titled_as_stored_and_odd_entries_skipped() -> None:
    spec = {
        "components": [
            {"id": "new_business", "name": "New business commission"},
            {"id": "spiff"},
            {"name": "no id"},
            "not a mapping",
        ]
    }
    assert spec_component_titles(spec) == {
        "new_business": "New business commission",
        "spiff": "Spiff",
    }
    assert spec_component_titles({}) == {} and spec_component_titles(None) == {}


@pytest.mark.django_db
def test_a_version_names_its_components_in_one_query(
    plan_a: Any,  # noqa: F811 (the fixture imported above)
    django_assert_num_queries: Any,
) -> None:
    # given: version 1 names new_business; a draft of version 2 drops that name
    with tenant_scope(plan_a.tenant):
        published = plan_a.versions.get()
        draft = services.plan_version_draft_create(plan_id=plan_a.pk, user_id=None)
        spec = dict(draft.spec)
        spec["components"] = [
            {k: v for k, v in c.items() if k != "name"} for c in spec["components"]
        ]
        PlanVersion.objects.filter(pk=draft.pk).update(spec=spec)
        # when
        with django_assert_num_queries(1):
            names = component_names(version_ids=[published.pk, draft.pk, None])
    # then: the name when set, the id in words when not, and for what it does not know
    assert names.get("new_business", version_id=published.pk) == "New business commission"
    assert names.get("new_business", version_id=draft.pk) == "New business"
    assert names.get("per_qualified_meeting", version_id=published.pk) == "Per qualified meeting"
    assert names.get("new_business", version_id=10**9) == "New business"
    assert names.get("new_business") == "New business"
    assert names.get("", version_id=published.pk) == ""


@pytest.mark.django_db
def test_a_plan_names_its_components_as_its_newest_published_version_does(
    plan_a: Any,  # noqa: F811 (the fixture imported above)
) -> None:
    # given: an unpublished draft without names
    with tenant_scope(plan_a.tenant):
        draft = services.plan_version_draft_create(plan_id=plan_a.pk, user_id=None)
        PlanVersion.objects.filter(pk=draft.pk).update(
            spec={"components": [{"id": "new_business"}]}
        )
        # when
        names = component_names(plan_ids=[plan_a.pk])
    # then: the draft does not count; a version id wins over the plan's
    assert names.get("new_business", plan_id=plan_a.pk) == "New business commission"
    assert names.get("new_business", plan_id=plan_a.pk + 1) == "New business"
    assert ComponentNames().get("new_business", version_id=1, plan_id=1) == "New business"
