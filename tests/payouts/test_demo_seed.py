"""`make demo` computes the demo company's quarters through the real run and lifecycle: the
finished quarter approved (statements frozen, ledger written) and closed, the current one
calculated and open, every person on a plan with lines."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from decimal import Decimal

from django.core.management import call_command

from core.models import Tenant
from core.tenancy import tenant_scope
from hierarchy.models import Period
from payouts import analytics, exports
from payouts.inputs import people_for_period
from payouts.models import (
    CalculationRun,
    EarningCode,
    LedgerEntry,
    PayoutLine,
    RunStatus,
    Statement,
)


def test_the_demo_closes_one_quarter_and_keeps_the_current_one_open(db, capsys):
    call_command("demo_seed", "--quiet")
    for command in ("incentives_demo_seed", "plans_demo_seed", "payouts_demo_seed"):
        call_command(command, "--tenant", "demo")
    assert "Calculated" in capsys.readouterr().out
    with tenant_scope(Tenant.objects.get(slug="demo")):
        runs = list(CalculationRun.objects.order_by("period__start"))
        assert [r.status for r in runs] == [RunStatus.SUCCEEDED, RunStatus.SUCCEEDED]
        closed, live = (Period.objects.get(pk=r.period_id) for r in runs)
        assert (closed.status, live.status) == ("closed", "calculated")
        assert closed.data_lock_date is not None
        for run in runs:
            people = set(people_for_period(run.period_id))
            paid = set(PayoutLine.objects.filter(run=run).values_list("person_id", flat=True))
            assert people and paid == people
            assert run.result_hash and run.totals["USD"]
        # the closed quarter's money is in the ledger and its statements are frozen
        assert LedgerEntry.objects.filter(period=closed).count() == runs[0].line_count
        assert Statement.objects.filter(period=closed).count() == len(
            set(people_for_period(closed.pk))
        )
        assert not LedgerEntry.objects.filter(period=live).exists()
        # finance's payroll file has a code for every component paid
        components = set(PayoutLine.objects.values_list("component_id", flat=True))
        assert set(EarningCode.objects.values_list("component_id", flat=True)) == components
        # and the closed quarter's payroll file sums, per currency, to its approved
        # statements' payable exactly (issue #13's must-show, on the demo)
        batch, _ = exports.export_batch_create(period_ids=[closed.pk], idempotency_key="demo")
        payroll = list(
            csv.reader(
                io.StringIO(
                    exports.export_batch_file(
                        batch_id=batch.pk, content="payroll", format="csv"
                    ).data.decode()
                )
            )
        )
        paid: dict[str, Decimal] = defaultdict(Decimal)
        for row in payroll[1:]:
            paid[row[3]] += Decimal(row[2])
        frozen: dict[str, Decimal] = defaultdict(Decimal)
        for statement in Statement.objects.filter(period=closed):
            frozen[statement.currency] += statement.payable
        assert dict(paid) == dict(frozen) and sum(paid.values()) > 0
        # the executive page converts every currency the demo pays in (no "no rate" warning)
        for period in (closed, live):
            dashboard = analytics.executive_dashboard(period_id=period.pk)
            assert not [w for w in dashboard.warnings if "FX rate" in w], dashboard.warnings
        # the demo manager's reports have objectives: signed off in the closed quarter (by the
        # manager), one waiting for his sign-off in the current one
        from plans.models import Objective

        statuses = {
            p: set(Objective.objects.filter(period=p).values_list("status", flat=True))
            for p in (closed, live)
        }
        assert statuses[closed] == {"signed_off"}
        assert statuses[live] == {"set", "submitted"}
        assert Objective.objects.filter(period=live, status="submitted").count() == 1
        signer = Objective.objects.filter(period=closed).values_list("signed_off_by__email")
        assert set(signer) == {("manager@demo.quotient.dev",)}
    # seeding again changes nothing
    call_command("payouts_demo_seed", "--tenant", "demo")
    assert "already seeded" in capsys.readouterr().out


def test_the_seed_summary_prints_totals_as_money(tenant_a, capsys, monkeypatch):
    # given: the demo's calculations stubbed out (the summary is what is tested)
    from payouts.management.commands import payouts_demo_seed as command

    result = {"periods": [{"period": "FY2027 Q3", "state": "closed", "lines": 812,
                           "totals": {"USD": Decimal("1164841.5800")}}]}  # fmt: skip
    monkeypatch.setattr(command, "seed_payouts", lambda: result)
    monkeypatch.setattr(command, "demo_disputes", lambda tenant: 0)
    # when
    call_command("payouts_demo_seed", "--tenant", tenant_a.slug)
    # then: separators and two places, as the pages say it
    out = capsys.readouterr().out
    assert "Calculated FY2027 Q3 (closed): 812 lines, 1,164,841.58 USD." in out
    assert "1164841.5800" not in out
