"""The demo/scale generator builds a valid cross-functional company."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from core.tenancy import tenant_scope
from hierarchy import org_selectors as sel
from hierarchy.generator import generate_company
from hierarchy.intervals import Span
from hierarchy.models import Assignment, Hierarchy, JobRole, Node, NodeClosure, Person
from hierarchy.people import check_person_spans

START = date(2025, 1, 1)


def test_the_generator_builds_a_valid_company_with_transfers_and_dual_roles(tenant_a):
    with tenant_scope(tenant_a):
        # when
        company = generate_company(people=300, start=START, seed=3)
        # then
        assert company.people == Person.objects.count() >= 300
        assert set(Hierarchy.objects.values_list("kind", flat=True)) == {
            "reporting",
            "business_unit",
            "region",
        }
        assert company.transfers > 0 and company.dual_roles > 0 and company.team_moves == 1
        assert set(JobRole.objects.values_list("function", flat=True)) >= {
            "sales",
            "marketing",
            "customer_success",
            "support",
            "product",
            "operations",
        }
        # every person's assignments obey the rules the services enforce
        spans = defaultdict(list)
        rows = Assignment.objects.select_related("node").filter(superseded_at__isnull=True)
        for a in rows:
            spans[a.person_id].append(
                Span(
                    a.pk,
                    a.node_id,
                    a.role_id,
                    a.allocation_pct,
                    a.valid_from,
                    a.valid_to,
                    a.node.hierarchy_id,
                )
            )
        people = {p.pk: p for p in Person.objects.all()}
        for person_id, items in spans.items():
            problems = check_person_spans(people[person_id], items, [s.key for s in items])
            assert problems == [], (people[person_id], problems)
        # every node is in its own subtree, and the whole company is under the CEO
        assert NodeClosure.objects.filter(depth=0).count() == Node.objects.count()
        root = Node.objects.get(code="ceo")
        as_of = date(2026, 1, 10)
        assert sel.node_members(node=root, as_of=as_of).count() == company.people
        # a dual role: reporting shares sum to one over the quarter
        dual = (
            Assignment.objects.filter(allocation_pct=40, superseded_at__isnull=True)
            .values_list("person_id", flat=True)
            .first()
        )
        timeline = sel.person_timeline(
            person=people[dual],
            start=date(2026, 1, 1),
            end=date(2026, 4, 1),
            hierarchy_id=company.hierarchies["reporting"],
        )
        assert len(timeline) == 3
        assert sum(s.share for s in timeline) == 1
