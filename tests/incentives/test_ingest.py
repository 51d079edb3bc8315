"""Ingestion: row-level errors, modes, dry runs, versions, idempotent re-imports."""

from __future__ import annotations

import datetime as dt
import io
import json
import random
from decimal import Decimal

import pytest

from core.tenancy import tenant_scope
from incentives import bulk_ingest, services
from incentives.models import Credit, CreditRollup, IngestError, IngestStatus, Transaction
from tests.incentives.conftest import close_period, tx_row

HEADER = [
    "external_id",
    "kind",
    "amount",
    "currency",
    "booked_on",
    "owner_employee_id",
    "account",
    "region",
    "splits",
]


def _csv(rows: list[list[str]], header: list[str] = HEADER) -> bytes:
    out = io.StringIO()
    import csv

    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def _upload(
    data: bytes,
    *,
    mode: str = "all_or_nothing",
    dry_run: bool = False,
    mapping: str = "",
    kind: str = "transactions",
):
    return services.ingest_start(
        request=services.IngestRequest(
            kind=kind,
            source_format="csv",
            mode=mode,
            dry_run=dry_run,
            mapping=mapping,
            filename="t.csv",
        ),
        data=data,
        created_by_id=None,
    )


def _rows(rows, *, mode="all_or_nothing", dry_run=False, kind="transactions"):
    return services.ingest_rows(
        request=services.IngestRequest(kind=kind, source_format="json", mode=mode, dry_run=dry_run),
        rows=rows,
        created_by_id=None,
    )


def _errors(batch):
    return [(e.line, e.column, e.code) for e in IngestError.objects.filter(batch=batch)]


def test_a_clean_file_is_committed_and_credited(in_org):
    batch = _upload(
        _csv([["D-1", "new_business", "1200.50", "USD", "2026-02-10", "E1", "Initech", "EMEA", ""]])
    )
    assert batch.status == IngestStatus.COMMITTED
    assert batch.counts["created"] == 1
    tx = Transaction.objects.get(external_id="D-1")
    assert (tx.amount, tx.owner.employee_id, tx.version) == (Decimal("1200.50"), "E1", 1)
    credits = {(c.person.employee_id, c.kind): c.amount for c in Credit.objects.all()}
    assert credits == {("E1", "direct"): Decimal("1200.50")}
    totals = {
        (t.person.employee_id, t.region, t.credit_count): t.amount
        for t in CreditRollup.objects.all()
    }
    assert totals == {
        ("M2", "EMEA", 1): Decimal("1200.50"),
        ("M1", "EMEA", 1): Decimal("1200.50"),
    }


def test_reimporting_the_same_file_changes_nothing(in_org):
    data = _csv(
        [
            ["D-1", "new_business", "100", "USD", "2026-02-10", "E1", "", "", ""],
            ["D-2", "expansion", "50", "USD", "2026-03-01", "E2", "", "", ""],
        ]
    )
    first = _upload(data)
    credits_before = list(Credit.objects.order_by("id").values_list("id", "amount"))
    again = _upload(data)
    assert again.status == IngestStatus.COMMITTED
    assert again.counts["unchanged"] == 2 and again.counts["created"] == 0
    assert first.counts["created"] == 2
    assert Transaction.objects.count() == 2
    assert list(Credit.objects.order_by("id").values_list("id", "amount")) == credits_before


def test_a_changed_row_becomes_a_new_version_and_keeps_the_old(in_org):
    _rows([tx_row("D-1", "1000.00")])
    batch = _rows([tx_row("D-1", "1500.00")])
    assert batch.counts["new_version"] == 1
    versions = list(
        Transaction.objects.filter(external_id="D-1")
        .order_by("version")
        .values_list("version", "amount", "superseded_at")
    )
    assert [(v, a) for v, a, _ in versions] == [(1, Decimal("1000.00")), (2, Decimal("1500.00"))]
    assert versions[0][2] is not None and versions[1][2] is None
    current = Credit.objects.filter(superseded_at__isnull=True, kind="direct").get()
    assert current.amount == Decimal("1500.00")
    assert Credit.objects.filter(
        superseded_at__isnull=False, kind="direct"
    ).get().amount == Decimal("1000.00")


def test_a_cancelled_deal_reverses_its_credits(in_org):
    _rows([tx_row("D-1", "800.00")])
    batch = _rows([tx_row("D-1", "800.00", status="cancelled")])
    assert batch.counts["cancelled"] == 1
    assert not Credit.objects.filter(superseded_at__isnull=True).exists()
    assert Transaction.objects.get(external_id="D-1", superseded_at__isnull=True).is_cancelled


def test_splits_credit_each_participant_and_leave_no_cent(in_org):
    _rows([tx_row("D-1", "100.01", splits="E1:60;E2:40")])
    direct = {
        c.person.employee_id: (c.kind, c.amount, c.share_pct)
        for c in Credit.objects.filter(kind="split")
    }
    assert direct == {
        "E1": ("split", Decimal("60.0060"), Decimal("60")),
        "E2": ("split", Decimal("40.0040"), Decimal("40")),
    }
    # the team's manager gets one roll-up total of both credits, never counted in a team total
    rollups = CreditRollup.objects.filter(person__employee_id="M2")
    assert [(t.amount, t.credit_count) for t in rollups] == [(Decimal("100.0100"), 2)]


def test_data_dated_in_a_closed_period_becomes_a_correction_in_the_open_period(in_org):
    # given a February deal, credited while February was open
    _rows([tx_row("D-1", "1000.00", booked_on="2026-02-10")])
    feb = close_period("FY2026 M02") if False else None
    from hierarchy.models import Period

    feb = Period.objects.filter(kind="monthly", start=dt.date(2026, 2, 1)).get()
    # the lock lies in the future: until then late rows become corrections
    close_period(feb.label, lock=dt.datetime.now(dt.UTC).date() + dt.timedelta(days=365))
    february_before = list(Credit.objects.filter(period=feb).values_list("id", "amount"))
    # when the deal grows after February closed
    _rows([tx_row("D-1", "1300.00", booked_on="2026-02-10")])
    # then February's credits are untouched and the difference lands in the open period
    assert list(Credit.objects.filter(period=feb).values_list("id", "amount")) == february_before
    corrections = Credit.objects.filter(is_correction=True, kind="direct")
    assert [(c.amount, c.belongs_to_period_id) for c in corrections] == [
        (Decimal("300.0000"), feb.pk)
    ]
    assert corrections[0].period.status == "open"
    assert corrections[0].period.start > feb.start


def test_a_closed_period_whose_data_lock_is_in_force_refuses_the_row(in_org):
    from hierarchy.models import Period

    jan = Period.objects.filter(kind="monthly", start=dt.date(2026, 1, 1)).get()
    close_period(jan.label, lock=dt.date(2026, 3, 1))
    batch = _rows([tx_row("D-1", booked_on="2026-01-15")])
    assert batch.status == IngestStatus.FAILED
    assert _errors(batch) == [(1, "booked_on", "period_locked")]


def test_a_missing_required_column_fails_the_file_at_line_1(in_org):
    data = _csv(
        [["D-1", "new_business", "10", "2026-02-10"]],
        header=["external_id", "kind", "amount", "booked_on"],
    )
    batch = _upload(data)
    assert batch.status == IngestStatus.FAILED
    assert _errors(batch) == [(1, "currency", "missing_column")]
    assert Transaction.objects.count() == 0


def test_a_dry_run_reports_what_would_change_and_writes_nothing(in_org):
    batch = _rows([tx_row("D-1"), tx_row("D-2", amount="abc")], dry_run=True)
    assert batch.status == IngestStatus.VALIDATED
    assert batch.counts["created"] == 1 and batch.error_count == 1
    assert Transaction.objects.count() == 0 and Credit.objects.count() == 0


def test_another_tenants_employee_id_is_reported_like_an_unknown_one(in_org):
    batch = _rows(
        [tx_row("D-1", owner_employee_id="B1"), tx_row("D-2", owner_employee_id="NOBODY")]
    )
    assert [(c, k) for _, c, k in _errors(batch)] == [
        ("owner_employee_id", "unknown_person"),
        ("owner_employee_id", "unknown_person"),
    ]
    messages = set(IngestError.objects.filter(batch=batch).values_list("message", flat=True))
    assert len(messages) == 1


def test_salesforce_preset_maps_an_opportunity_export(in_org):
    header = [
        "Opportunity ID",
        "Type",
        "Amount",
        "Amount Currency",
        "Close Date",
        "Owner Employee Number",
        "Account Name",
        "Stage",
    ]
    data = _csv(
        [
            ["006A", "New Business", "2500", "USD", "02/14/2026", "E2", "Globex", "Closed Won"],
            ["006B", "Existing Business", "700", "EUR", "03/01/2026", "E3", "Hooli", "Closed Lost"],
        ],
        header=header,
    )
    batch = _upload(data, mapping="salesforce_opportunity")
    assert batch.status == IngestStatus.COMMITTED, _errors(batch)
    a = Transaction.objects.get(external_id="006A")
    assert (a.source, a.kind, a.booked_on) == ("salesforce", "new_business", dt.date(2026, 2, 14))
    b = Transaction.objects.get(external_id="006B")
    assert (b.kind, b.currency, b.is_cancelled) == ("expansion", "EUR", True)


# --- the 10k-row file with 5 % malformed rows across 12 defect kinds -----------------------------

DEFECTS = {
    "bad_number": lambda r: r.__setitem__(2, "12.3x4"),
    "negative_amount": lambda r: r.__setitem__(2, "-50.00"),
    "unknown_currency": lambda r: r.__setitem__(3, "XYZ"),
    "too_many_decimals": lambda r: r.__setitem__(2, "10.123"),
    "future_date": lambda r: r.__setitem__(
        4, (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=200)).isoformat()
    ),
    "period_locked": lambda r: r.__setitem__(4, "2026-01-20"),
    "duplicate_in_file": None,  # made below: repeats an earlier external id
    "unknown_person": lambda r: r.__setitem__(5, "B1"),  # another tenant's employee id
    "bad_date": lambda r: r.__setitem__(4, "31/02/2026"),
    "unknown_kind": lambda r: r.__setitem__(1, "barter"),
    "wrong_column_count": lambda r: r.append("extra"),
    "bad_encoding": None,  # made below: a Latin-1 byte in the line
}


def _defective_file(rows: int = 10_000, bad_share: float = 0.05, seed: int = 7):
    rng = random.Random(seed)
    kinds = list(DEFECTS)
    lines = [",".join(HEADER).encode()]
    expected: dict[int, str] = {}
    bad_lines = set(rng.sample(range(2, rows + 2), int(rows * bad_share)))
    for line in range(2, rows + 2):
        row = [
            f"D-{line}",
            rng.choice(["new_business", "expansion", "renewal"]),
            f"{rng.randint(1, 99999)}.{rng.randint(0, 99):02d}",
            "USD",
            f"2026-{rng.randint(2, 10):02d}-{rng.randint(1, 28):02d}",
            rng.choice(["E1", "E2", "E3"]),
            "Acct",
            "EMEA",
            "",
        ]
        raw = None
        if line in bad_lines:
            kind = kinds[len(expected) % len(kinds)]
            expected[line] = kind
            if kind == "duplicate_in_file":
                row[0] = "D-2"  # line 2 is never malformed by construction below
            elif kind == "bad_encoding":
                raw = ",".join(row).encode().replace(b"Acct", b"Acct\xe9")
            else:
                DEFECTS[kind](row)
        lines.append(raw if raw is not None else ",".join(row).encode())
    return b"\n".join(lines) + b"\n", expected


@pytest.fixture
def defective(in_org):
    from hierarchy.models import Period

    jan = Period.objects.filter(kind="monthly", start=dt.date(2026, 1, 1)).get()
    close_period(jan.label, lock=dt.date(2026, 2, 1))
    data, expected = _defective_file()
    expected.pop(2, None)
    return data, expected


@pytest.mark.slow_import
def test_a_10k_file_reports_every_bad_row_and_partial_mode_loses_no_good_row(defective):
    data, expected = defective
    # all-or-nothing (the default): every bad row reported, nothing committed
    strict = _upload(data)
    found = {(e.line, e.code) for e in IngestError.objects.filter(batch=strict)}
    assert {line for line, _ in found} == set(expected)
    assert {(line, code) for line, code in expected.items()} <= found
    assert len(set(expected.values())) >= 10
    assert strict.status == IngestStatus.FAILED
    assert Transaction.objects.count() == 0 and Credit.objects.count() == 0
    # partial: every good row committed, the same bad rows reported
    partial = _upload(data, mode="partial")
    assert partial.status == IngestStatus.COMMITTED_WITH_ERRORS
    good = 10_000 - len(expected)
    assert Transaction.objects.count() == good == partial.counts["created"]
    assert partial.error_count == len(expected)
    # the same file again: nothing changes
    again = _upload(data, mode="partial")
    assert again.counts["unchanged"] == good and again.counts["created"] == 0
    assert Transaction.objects.count() == good


def test_json_rows_number_from_1_and_report_every_problem(in_org):
    batch = _rows([tx_row("D-1"), {"external_id": "D-2", "kind": "mql"}, "nope"])
    assert batch.status == IngestStatus.FAILED
    codes = _errors(batch)
    assert (2, "amount", "required") in codes and (2, "currency", "required") in codes
    assert (3, "", "not_an_object") in codes


def test_kpi_values_are_versioned_and_signed_off(in_org, alice):
    rows = [
        {
            "metric": "csat",
            "subject_type": "account",
            "subject": "Initech",
            "period": "2026-01-01",
            "value": "4.6",
        },
        {
            "metric": "nrr",
            "subject_type": "person",
            "subject": "E1",
            "period": "2026-01-01",
            "value": "1.12",
        },
    ]
    first = _rows(rows, kind="kpi_values")
    assert first.status == IngestStatus.COMMITTED, _errors(first)
    again = _rows([dict(rows[0], value="4.8")], kind="kpi_values")
    assert again.counts["new_version"] == 1
    from incentives.models import KpiValue

    current = KpiValue.objects.get(metric="csat", superseded_at__isnull=True)
    assert current.value == Decimal("4.8") and current.subject_key == "account:Initech"
    signed = services.kpi_value_sign_off(kpi_value_id=current.pk, user_id=alice.pk)
    assert signed.status == "signed_off"


def test_nothing_is_visible_to_another_tenant(org, tenant_b):
    with tenant_scope(org.tenant):
        _rows([tx_row("D-1")])
    with tenant_scope(tenant_b):
        assert Transaction.objects.count() == 0 and Credit.objects.count() == 0


def test_json_helper_rows_round_trip_decimals(in_org):
    batch = _rows([tx_row("D-9", amount=json.loads("12.5"))])
    assert Transaction.objects.get(external_id="D-9").amount == Decimal("12.50")
    assert batch.status == IngestStatus.COMMITTED


def test_a_large_upload_goes_to_a_worker_streamed_from_disk(
    in_org, monkeypatch, settings, tmp_path, django_capture_on_commit_callbacks
):
    # given files above the inline limit go to the worker task (eager in tests)
    monkeypatch.setattr(services, "INLINE_MAX_BYTES", 10)
    settings.VAR_DIR = tmp_path
    chunks = [
        b"external_id,kind,amount,currency,booked_on,owner_employee_id\n",
        b"L-1,new_business,10,USD,2026-02-02,E1\n",
        b"L-2,renewal,20,USD,2026-02-03,E2\n",
    ]
    # when the upload arrives as a stream of chunks
    with django_capture_on_commit_callbacks(execute=True):
        batch = services.ingest_start(
            request=services.IngestRequest(
                kind="transactions", source_format="csv", filename="big.csv"
            ),
            data=iter(chunks),
            created_by_id=None,
        )
    # then it was counted while streaming, processed, and the stored file removed
    batch.refresh_from_db()
    assert batch.status == IngestStatus.COMMITTED
    assert batch.size_bytes == sum(len(c) for c in chunks)
    assert (batch.rows_total, batch.counts["created"]) == (2, 2)
    assert not list(services.upload_dir().iterdir())


def test_an_import_reports_its_progress_chunk_by_chunk(in_org, monkeypatch):
    # given chunks of two rows
    monkeypatch.setattr(bulk_ingest, "CHUNK_ROWS", 2)
    reported = []
    monkeypatch.setattr(
        services, "progress_report", lambda **kw: reported.append((kw["done"], kw["total"]))
    )
    rows = [[f"P-{i}", "renewal", "5", "USD", "2026-02-02", "E1", "", "", ""] for i in range(5)]
    data = _csv(rows)
    # when
    batch = _upload(data)
    # then the rows read so far went to the progress channel after each chunk
    assert batch.status == IngestStatus.COMMITTED
    assert reported == [(2, 5), (4, 5), (5, 5)]
