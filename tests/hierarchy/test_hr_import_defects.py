"""The must-show of issue #9 through the HR import: a 10k-row file with 5 % bad rows across its
defect kinds reports every bad row, loses no good row in partial mode, commits nothing all or
nothing, and importing it again changes nothing.

People files carry the HR import's own defects (unknown manager, cyclic move, duplicate
employee id) beside the kernel's (dates, numbers, currencies, lengths, encodings, the shape of
a line); assignment files carry allocations over 100 % and bad references.
"""

from __future__ import annotations

import random

import pytest

from core.tenancy import tenant_scope
from hierarchy.imports import hr_import
from hierarchy.models import Assignment, Person

ROWS = 10_000
BAD_SHARE = 0.05
MANAGERS = 200  # the first rows: every good row reports to one of them, none is ever bad

PEOPLE_HEADER = (
    "employee_id,full_name,hire_date,email,termination_date,home_currency,base_salary,"
    "manager_employee_id"
)
P_EMP, P_NAME, P_HIRE, P_EMAIL, P_END, P_CURRENCY, P_SALARY, P_MANAGER = range(8)

# defect kind -> how a good row is spoiled (the cyclic pairs are made below)
PEOPLE_DEFECTS = {
    "duplicate_employee_id": lambda r, line: r.__setitem__(P_EMP, "P00001"),
    "unknown_manager": lambda r, line: r.__setitem__(P_MANAGER, f"NOBODY-{line}"),
    "cyclic_move": None,  # two rows that manage each other
    "bad_date": lambda r, line: r.__setitem__(P_HIRE, "2024-13-01"),
    "required": lambda r, line: r.__setitem__(P_NAME, ""),
    "bad_email": lambda r, line: r.__setitem__(P_EMAIL, "not-an-email"),
    "unknown_currency": lambda r, line: r.__setitem__(P_CURRENCY, "XYZ"),
    "bad_number": lambda r, line: r.__setitem__(P_SALARY, "12x"),
    "negative_amount": lambda r, line: r.__setitem__(P_SALARY, "-5"),
    "too_long": lambda r, line: r.__setitem__(P_NAME, "x" * 201),
    "dates_out_of_order": lambda r, line: r.__setitem__(P_END, r[P_HIRE]),
    "wrong_column_count": lambda r, line: r.append("extra"),
    "control_character": lambda r, line: r.__setitem__(P_NAME, "Bell\x07Person"),
    "bad_encoding": None,  # a Latin-1 byte in the line
}


def _emp(n: int) -> str:
    return f"P{n:05d}"


def _people_row(n: int, rng: random.Random) -> list[str]:
    manager = "" if n == 0 else _emp(0 if n < MANAGERS else rng.randrange(MANAGERS))
    return [
        _emp(n),
        f"Person {n}",
        f"202{rng.randint(0, 4)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        f"p{n}@acme.test",
        "",
        rng.choice(["USD", "EUR", "GBP"]),
        f"{rng.randint(30_000, 250_000)}.{rng.randint(0, 99):02d}",
        manager,
    ]


def _bad_lines(rng: random.Random) -> list[int]:
    # data lines are 2 … ROWS + 1; the managers' rows (2 … MANAGERS + 1) stay good
    return sorted(rng.sample(range(MANAGERS + 2, ROWS + 2), int(ROWS * BAD_SHARE)))


def _people_file(seed: int = 11) -> tuple[bytes, dict[int, str]]:
    """Return a 10k-row people file and the defect of each bad line."""
    rng = random.Random(seed)
    rows = {n + 2: _people_row(n, rng) for n in range(ROWS)}
    raw: dict[int, bytes] = {}
    expected: dict[int, str] = {}
    kinds = list(PEOPLE_DEFECTS)
    bad = _bad_lines(rng)
    i = turn = 0
    while i < len(bad):
        line = bad[i]
        kind = kinds[turn % len(kinds)]
        turn += 1
        if kind == "cyclic_move" and i + 1 < len(bad):
            other = bad[i + 1]
            rows[line][P_MANAGER], rows[other][P_MANAGER] = rows[other][P_EMP], rows[line][P_EMP]
            expected[line] = expected[other] = kind
            i += 2
            continue
        if kind == "cyclic_move":
            kind = "unknown_manager"
        expected[line] = kind
        if kind == "bad_encoding":
            raw[line] = ",".join(rows[line]).encode().replace(b"Person", b"Pers\xf6n")
        else:
            PEOPLE_DEFECTS[kind](rows[line], line)  # type: ignore[misc]
        i += 1
    lines = [PEOPLE_HEADER.encode()]
    lines += [raw.get(line) or ",".join(rows[line]).encode() for line in sorted(rows)]
    return b"\n".join(lines) + b"\n", expected


def _found(batch) -> set[tuple[int, str]]:
    return {(e["line"], e["code"]) for e in batch.errors}


@pytest.mark.slow_import
def test_a_10k_people_file_reports_every_bad_row_and_partial_mode_loses_no_good_row(tenant_a):
    data, expected = _people_file()
    good = ROWS - len(expected)
    assert len(set(expected.values())) == len(PEOPLE_DEFECTS)  # every kind is in the file
    with tenant_scope(tenant_a):
        # all or nothing (the default): every bad row reported, nothing committed
        strict = hr_import(kind="people", content=data, filename="people.csv")
        assert (strict.status, strict.reason) == ("failed", "row_errors")
        assert {line for line, _ in _found(strict)} == set(expected)
        assert set(expected.items()) <= _found(strict)
        assert strict.counts["errors"] == len(expected) and strict.row_count == ROWS
        assert Person.objects.count() == 0
        # partial: every good row committed, the same bad rows reported
        partial = hr_import(kind="people", content=data, filename="people.csv", partial=True)
        assert partial.status == "committed_with_errors"
        assert {line for line, _ in _found(partial)} == set(expected)
        assert Person.objects.count() == good == partial.counts["created"]
        assert partial.counts["errors"] == len(expected)
        managers = dict(Person.objects.values_list("employee_id", "manager__employee_id"))
        assert managers[_emp(MANAGERS + 1)] is not None  # managers were linked
        # the same file again: nothing changes
        again = hr_import(kind="people", content=data, filename="people.csv", partial=True)
        assert (again.counts["created"], again.counts["updated"]) == (0, 0)
        assert again.counts["unchanged"] == good
        assert Person.objects.count() == good


# --- assignments: allocations over 100 % and bad references ---------------------------------------

A_EMP, A_HIER, A_NODE, A_ROLE, A_FROM, A_TO, A_PCT, A_TITLE, A_MANAGER = range(9)
ASSIGNMENT_HEADER = (
    "employee_id,hierarchy,node,role,valid_from,valid_to,allocation_pct,title,is_manager"
)
NODES = ("east", "west", "mkt")
ASSIGNMENT_DEFECTS = {
    "allocation_over_100": None,  # 50 % beside an existing 60 % (made below)
    "unknown_person": lambda r: r.__setitem__(A_EMP, "NOBODY"),
    "unknown_hierarchy": lambda r: r.__setitem__(A_HIER, "nohier"),
    "unknown_node": lambda r: r.__setitem__(A_NODE, "nowhere"),
    "unknown_role": lambda r: r.__setitem__(A_ROLE, "Astronaut"),
    "bad_date": lambda r: r.__setitem__(A_FROM, "2026-02-30"),
    "dates_out_of_order": lambda r: r.__setitem__(A_TO, r[A_FROM]),
    "allocation_range": lambda r: r.__setitem__(A_PCT, "150"),
    "before_hire": lambda r: r.__setitem__(A_FROM, "2019-06-01"),
    "unknown_value": lambda r: r.__setitem__(A_MANAGER, "maybe"),
    "duplicate_in_file": None,  # the key of line 2 again
    "wrong_column_count": lambda r: r.append("extra"),
}


def _assignment_files(seed: int = 5) -> tuple[bytes, bytes, dict[int, str]]:
    """Return (the 60 % assignments already in force, the 10k-row file, its bad lines)."""
    rng = random.Random(seed)
    rows = {
        n + 2: [
            _emp(n),
            "reporting",
            rng.choice(NODES),
            "Account Executive",
            "2026-01-01",
            "",
            "100",
            "AE",
            "false",
        ]
        for n in range(ROWS)
    }
    expected: dict[int, str] = {}
    existing = [ASSIGNMENT_HEADER]
    kinds = list(ASSIGNMENT_DEFECTS)
    for line in _bad_lines(rng):
        kind = kinds[len(expected) % len(kinds)]
        expected[line] = kind
        row = rows[line]
        if kind == "allocation_over_100":
            existing.append(f"{row[A_EMP]},reporting,east,Manager,2025-06-01,,60,,false")
            row[A_NODE], row[A_PCT] = "west", "50"
        elif kind == "duplicate_in_file":
            rows[line] = list(rows[2])
        else:
            ASSIGNMENT_DEFECTS[kind](row)  # type: ignore[misc]
    body = [ASSIGNMENT_HEADER, *(",".join(rows[line]) for line in sorted(rows))]
    return "\n".join(existing).encode() + b"\n", "\n".join(body).encode() + b"\n", expected


@pytest.mark.slow_import
def test_a_10k_assignment_file_reports_allocations_over_100_and_every_other_bad_row(org):
    people = [PEOPLE_HEADER] + [f"{_emp(n)},Person {n},2020-01-01,,,USD,1000," for n in range(ROWS)]
    existing, data, expected = _assignment_files()
    good = ROWS - len(expected)
    assert len(set(expected.values())) == len(ASSIGNMENT_DEFECTS)
    with tenant_scope(org.tenant):
        assert hr_import(kind="people", content="\n".join(people).encode()).status == "committed"
        base = hr_import(kind="assignments", content=existing)
        assert base.status == "committed", base.errors[:3]
        before = Assignment.objects.count()
        # all or nothing: every bad row, nothing written
        strict = hr_import(kind="assignments", content=data)
        assert (strict.status, strict.reason) == ("failed", "row_errors")
        assert {line for line, _ in _found(strict)} == set(expected)
        assert set(expected.items()) <= _found(strict)
        over = next(e for e in strict.errors if e["code"] == "allocation_over_100")
        assert (over["column"], over["value"]) == ("allocation_pct", "50")
        assert Assignment.objects.count() == before
        # partial: every good row in force, the bad ones reported
        partial = hr_import(kind="assignments", content=data, partial=True)
        assert partial.status == "committed_with_errors"
        assert {line for line, _ in _found(partial)} == set(expected)
        assert Assignment.objects.count() - before == good == partial.counts["created"]
        # again: nothing changes
        again = hr_import(kind="assignments", content=data, partial=True)
        assert (again.counts["created"], again.counts["updated"]) == (0, 0)
        assert again.counts["unchanged"] == good
        assert Assignment.objects.count() - before == good
