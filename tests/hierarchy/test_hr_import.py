"""HR import: upsert by employee id, idempotent, dry run, row-level errors, all-or-nothing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from core.models import AuditEvent
from core.tenancy import tenant_scope
from hierarchy import org_selectors as sel
from hierarchy.imports import hr_import, import_template
from hierarchy.models import Assignment, ImportBatch, NodeParent, Person

HEADER = "employee_id,full_name,hire_date,email,manager_employee_id,level,base_salary\n"


def _csv(*lines: str, header: str = HEADER) -> bytes:
    return (header + "\n".join(lines) + "\n").encode()


def _errors(batch):
    return [(e["line"], e["column"], e["code"]) for e in batch.errors]


def _import(tenant, kind, content=None, rows=None, dry_run=False):
    with tenant_scope(tenant):
        return hr_import(kind=kind, content=content, rows=rows, dry_run=dry_run)


# --- people ------------------------------------------------------------------------------------


def test_a_people_file_creates_then_updates_then_changes_nothing(tenant_a):
    # given
    first = _csv(
        "E1,Ada Lovelace,2024-01-15,ada@acme.test,,L5,150000",
        "E2,Bo Brown,2024-03-01,bo@acme.test,E1,L3,90000.50",
    )
    # when
    created = _import(tenant_a, "people", first)
    again = _import(tenant_a, "people", first)
    changed = _import(
        tenant_a,
        "people",
        _csv(
            "E1,Ada Lovelace,2024-01-15,ada@acme.test,,L6,150000",
            "E2,Bo Brown,2024-03-01,bo@acme.test,E1,L3,90000.50",
        ),
    )
    # then
    assert created.status == "committed" and created.counts["created"] == 2
    assert again.counts == {**again.counts, "created": 0, "updated": 0, "unchanged": 2}
    assert changed.counts["updated"] == 1 and changed.counts["unchanged"] == 1
    assert changed.diffs[0]["changes"]["attributes"] == [{"level": "L5"}, {"level": "L6"}]
    with tenant_scope(tenant_a):
        bo = Person.objects.get(employee_id="E2")
        assert bo.manager.employee_id == "E1"
        assert bo.base_salary == Decimal("90000.50")
        assert bo.home_currency == "USD"
        assert AuditEvent.objects.filter(action="hr_import.people").count() == 3


def test_a_dry_run_previews_counts_and_diffs_and_writes_nothing(tenant_a):
    batch = _import(
        tenant_a, "people", _csv("E1,Ada Lovelace,2024-01-15,ada@acme.test,,L5,1"), dry_run=True
    )
    assert batch.status == "validated" and batch.dry_run
    assert batch.counts["created"] == 1
    assert batch.diffs[0]["key"] == "E1" and batch.diffs[0]["action"] == "created"
    with tenant_scope(tenant_a):
        assert not Person.objects.exists()
        assert ImportBatch.objects.count() == 1


def test_bad_encoding_is_a_row_level_error_naming_the_line(tenant_a):
    content = _csv("E1,Ada,2024-01-15,,,,", "E2,Zoé,2024-01-01,,,,").replace(
        "Zoé".encode(), "Zoé".encode("latin-1")
    )
    batch = _import(tenant_a, "people", content)
    assert batch.status == "failed"
    assert _errors(batch) == [(3, "", "bad_encoding")]
    assert "UTF-8" in batch.errors[0]["message"]


def test_missing_columns_are_reported_on_the_header_line(tenant_a):
    batch = _import(tenant_a, "people", b"employee_id,name\nE1,Ada\n")
    assert _errors(batch) == [
        (1, "full_name", "missing_column"),
        (1, "hire_date", "missing_column"),
    ]


def test_every_bad_row_is_reported_and_nothing_is_half_written(tenant_a):
    # given one good row and several bad ones
    content = _csv(
        "E1,Ada Lovelace,2024-01-15,ada@acme.test,,L5,150000",
        "E2,Bo,2024-13-01,bo@acme.test,,,",
        "E1,Ada Again,2024-01-15,,,,",
        "E3,Cy,2024-01-01,not-an-email,E404,,abc",
        "E4,Di,2024-01-01,,E4,,",
        ",Nobody,2024-01-01,,,,",
    )
    # when
    batch = _import(tenant_a, "people", content)
    # then
    assert batch.status == "failed"
    assert _errors(batch) == [
        (3, "hire_date", "bad_date"),
        (4, "employee_id", "duplicate_employee_id"),
        (5, "base_salary", "bad_number"),
        (5, "email", "bad_email"),
        (6, "manager_employee_id", "cyclic_move"),
        (7, "employee_id", "required"),
    ]
    assert batch.errors[1]["message"] == "Employee id “E1” is also on line 2."
    with tenant_scope(tenant_a):
        assert not Person.objects.exists()


def test_unknown_managers_and_manager_cycles_are_row_errors(tenant_a):
    _import(tenant_a, "people", _csv("E1,Ada,2024-01-15,,,,", "E2,Bo,2024-01-15,,E1,,"))
    batch = _import(
        tenant_a,
        "people",
        _csv("E1,Ada,2024-01-15,,E2,,", "E3,Cy,2024-01-15,,E999,,"),
    )
    assert _errors(batch) == [
        (2, "manager_employee_id", "cyclic_move"),
        (3, "manager_employee_id", "unknown_manager"),
    ]
    with tenant_scope(tenant_a):
        assert Person.objects.get(employee_id="E1").manager_id is None


def test_another_tenants_employee_ids_are_unknown_here(tenant_a, tenant_b):
    _import(tenant_b, "people", _csv("G1,Globex Person,2024-01-01,,,,"))
    batch = _import(tenant_a, "people", _csv("E1,Ada,2024-01-15,,G1,,"))
    assert _errors(batch) == [(2, "manager_employee_id", "unknown_manager")]


def test_the_json_bulk_form_reports_row_numbers(tenant_a):
    batch = _import(
        tenant_a,
        "people",
        rows=[
            {"employee_id": "E1", "full_name": "Ada", "hire_date": "2024-01-15"},
            {"employee_id": "E2", "full_name": "Bo"},
        ],
    )
    assert _errors(batch) == [(2, "hire_date", "required")]


def test_a_termination_in_a_people_file_ends_open_assignments(org):
    header = "employee_id,full_name,hire_date,termination_date\n"
    batch = _import(org.tenant, "people", _csv("E3,Erin East,2020-01-01,2026-03-01", header=header))
    assert batch.status == "committed", batch.errors
    with tenant_scope(org.tenant):
        rows = list(sel.assignment_list(person_id=org.erin.pk))
        assert [(a.valid_from, a.valid_to) for a in rows] == [(date(2025, 1, 1), date(2026, 3, 1))]


# --- assignments -------------------------------------------------------------------------------

A_HEADER = "employee_id,hierarchy,node,role,valid_from,valid_to,allocation_pct,is_manager\n"


def test_an_assignment_file_moves_people_mid_quarter_and_is_idempotent(org):
    content = _csv(
        "E3,reporting,east,Account Executive,2025-01-01,2026-02-15,100,false",
        "E3,reporting,west,Account Executive,2026-02-15,,100,false",
        header=A_HEADER,
    )
    first = _import(org.tenant, "assignments", content)
    second = _import(org.tenant, "assignments", content)
    assert first.status == "committed", first.errors
    assert (first.counts["created"], first.counts["updated"], first.counts["unchanged"]) == (
        1,
        1,
        0,
    )
    assert (second.counts["created"], second.counts["updated"], second.counts["unchanged"]) == (
        0,
        0,
        2,
    )
    with tenant_scope(org.tenant):
        segments = sel.person_timeline(
            person=org.erin, start=date(2026, 1, 1), end=date(2026, 4, 1)
        )
        assert [(s.node_name, s.days) for s in segments] == [("Sales East", 45), ("Sales West", 45)]


def test_assignment_rows_with_bad_references_and_rules_are_each_reported(org, org_b):
    content = _csv(
        "E5,reporting,nowhere,Account Executive,2026-01-01,,50,false",  # unknown node
        "E5,reporting,east,Account Executive,2026-03-01,2026-02-01,10,false",  # dates
        "E3,reporting,west,Account Executive,2026-01-01,,30,false",  # 130 %
        "E2,reporting,sales,Manager,2026-01-01,,10,true",  # duplicate of an existing slot
        "G1,reporting,east,Account Executive,2026-01-01,,10,false",  # unknown employee
        "E4,reporting,west,Account Executive,2026-01-01,,10,maybe",  # boolean
        header=A_HEADER,
    )
    batch = _import(org.tenant, "assignments", content)
    assert _errors(batch) == [
        (2, "node", "unknown_node"),
        (3, "valid_to", "dates_out_of_order"),
        (4, "allocation_pct", "allocation_over_100"),
        (5, "allocation_pct", "allocation_over_100"),
        (5, "valid_from", "overlapping_duplicate"),
        (6, "employee_id", "unknown_person"),
        (7, "is_manager", "unknown_value"),
    ]
    assert batch.errors[2]["message"] == (
        "Allocation would be 130% on 2026-01-01; at most 100% is allowed."
    )
    with tenant_scope(org.tenant):
        assert Assignment.objects.count() == 5


def test_another_tenants_node_codes_are_unknown_here(org, tenant_b):
    # tenant B has a hierarchy "breporting" with node "east"; A cannot reach it
    from tests.hierarchy.conftest import build_org

    with tenant_scope(tenant_b):
        build_org(tenant_b, prefix="b")
    batch = _import(
        org.tenant,
        "assignments",
        _csv("E5,breporting,east,Account Executive,2026-06-01,,10,false", header=A_HEADER),
    )
    assert _errors(batch) == [(2, "hierarchy", "unknown_hierarchy")]


# --- org structure -----------------------------------------------------------------------------

N_HEADER = "hierarchy,code,name,parent_code,valid_from,valid_to\n"


def test_a_nodes_file_creates_and_moves_teams(org):
    content = _csv(
        "reporting,cs,Customer Success,ceo,2026-01-01,",
        "reporting,west,Sales West,cs,2026-02-15,",
        header=N_HEADER,
    )
    batch = _import(org.tenant, "nodes", content)
    assert batch.status == "committed", batch.errors
    assert (batch.counts["created"], batch.counts["updated"]) == (1, 1)
    again = _import(org.tenant, "nodes", content)
    assert again.counts["unchanged"] == 2, again.diffs
    with tenant_scope(org.tenant):
        names = [p.full_name for p in sel.node_members(node=org.sales, as_of=date(2026, 3, 1))]
        assert "Wes West" not in names


def test_a_cyclic_move_in_a_nodes_file_is_a_row_error_and_nothing_moves(org):
    with tenant_scope(org.tenant):
        links = NodeParent.objects.count()
    content = _csv(
        "reporting,sales,Sales,west,2026-06-01,",
        header=N_HEADER,
    )
    batch = _import(org.tenant, "nodes", content)
    assert _errors(batch) == [(2, "parent_code", "cyclic_move")]
    assert batch.errors[0]["message"].endswith("its own ancestor on 2026-06-01.")
    with tenant_scope(org.tenant):
        assert NodeParent.objects.count() == links


def test_unknown_parents_are_row_errors(org):
    batch = _import(org.tenant, "nodes", _csv("reporting,x,X,nope,2026-01-01,", header=N_HEADER))
    assert _errors(batch) == [(2, "parent_code", "unknown_node")]


@pytest.mark.parametrize("kind", ["people", "assignments", "nodes"])
def test_templates_have_every_column(kind):
    header = import_template(kind).splitlines()[0]
    assert header.startswith(("employee_id", "hierarchy"))


def test_managers_later_in_the_file_are_linked_in_one_pass(tenant_a):
    # E3 reports to E2 who reports to E1, listed bottom-up
    batch = _import(
        tenant_a,
        "people",
        _csv("E3,Cy,2024-01-15,,E2,,", "E2,Bo,2024-01-15,,E1,,", "E1,Ada,2024-01-15,,,,"),
    )
    assert batch.status == "committed", batch.errors
    with tenant_scope(tenant_a):
        chain = {p.employee_id: p.manager and p.manager.employee_id for p in Person.objects.all()}
    assert chain == {"E1": None, "E2": "E1", "E3": "E2"}
    # moving E3 under E1 is an update of one row
    moved = _import(tenant_a, "people", _csv("E3,Cy,2024-01-15,,E1,,"))
    assert (moved.counts["updated"], moved.diffs[0]["key"]) == (1, "E3")


# --- partial mode -------------------------------------------------------------------------------


def test_partial_mode_applies_the_good_rows_and_reports_the_rest(tenant_a):
    content = _csv(
        "E1,Ada Lovelace,2024-01-15,ada@acme.test,,L5,150000",
        "E2,Bo Brown,not-a-date,bo@acme.test,,L3,1",
        "E3,Cy Chen,2024-02-01,cy@acme.test,E2,L2,1",  # leans on the bad row E2
        "E4,Di Diaz,2024-02-01,di@acme.test,E1,L2,1",
    )
    with tenant_scope(tenant_a):
        batch = hr_import(kind="people", content=content, partial=True)
        kept = sorted(Person.objects.values_list("employee_id", flat=True))
    assert batch.status == "committed_with_errors"
    assert kept == ["E1", "E4"]
    assert {line for line, _, _ in _errors(batch)} == {3, 4}
    assert batch.counts["created"] == 2


def test_partial_mode_with_nothing_valid_fails_and_writes_nothing(tenant_a):
    with tenant_scope(tenant_a):
        batch = hr_import(kind="people", content=_csv("E1,Ada,never,,,,"), partial=True)
        assert Person.objects.count() == 0
    assert batch.status == "failed"


def test_all_or_nothing_stays_the_default(tenant_a):
    content = _csv("E1,Ada Lovelace,2024-01-15,ada@acme.test,,L5,1", "E2,Bo,bad,,,,")
    batch = _import(tenant_a, "people", content)
    assert batch.status == "failed"
    with tenant_scope(tenant_a):
        assert Person.objects.count() == 0
