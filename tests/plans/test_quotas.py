"""Quotas: a person's or a node's target on a quota id, effective-dated; overlaps refused by name;
the quota frame a payout run hands the engine."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from core.errors import ConflictError, NotFoundError, ValidationFailedError
from core.models import AuditEvent
from core.tenancy import tenant_scope
from engine.types import QUOTA_COLUMNS
from plans import selectors, services
from plans.models import Quota
from plans.services import QuotaHolder, QuotaRow
from tests.plans.conftest import comp_admin_access

D = date
pytestmark = pytest.mark.django_db


def _quota(access, holder, quota_id="new_bookings", amount="100000", start=None, end=None, **kw):
    return services.quota_create(
        access=access,
        holder=holder,
        quota_id=quota_id,
        amount=amount,
        currency=kw.pop("currency", "USD"),
        valid_from=start or D(2026, 1, 1),
        valid_to=end or D(2026, 2, 1),
        user_id=None,
        **kw,
    )


def test_a_person_and_a_node_get_quotas_and_each_write_is_audited(org, alice):
    with tenant_scope(org.tenant):
        # given
        access = comp_admin_access(alice.pk)
        # when
        mine = _quota(access, QuotaHolder(person_id=org.erin.pk), amount="100000.50")
        team = _quota(access, QuotaHolder(node_id=org.west.pk), amount="300000")
        # then
        assert (mine.holder_kind, mine.amount, mine.currency) == (
            "person",
            Decimal("100000.50"),
            "USD",
        )
        assert team.holder_kind == "node"
        actions = list(
            AuditEvent.objects.filter(object_type="plans.quota").values_list("action", flat=True)
        )
        assert actions == ["quota.create", "quota.create"]


def test_an_overlapping_quota_is_refused_naming_the_conflict(org, alice):
    with tenant_scope(org.tenant):
        access = comp_admin_access(alice.pk)
        first = _quota(access, QuotaHolder(person_id=org.erin.pk))
        with pytest.raises(ConflictError) as exc:
            _quota(
                access, QuotaHolder(person_id=org.erin.pk), start=D(2026, 1, 15), end=D(2026, 3, 1)
            )
        assert exc.value.code == "quota_overlap"
        assert f"quota {first.pk}" in exc.value.message
        assert (
            "Person Erin" in exc.value.message and "2026-01-01 to 2026-02-01" in exc.value.message
        )
        # the next month and another id do not overlap
        _quota(access, QuotaHolder(person_id=org.erin.pk), start=D(2026, 2, 1), end=D(2026, 3, 1))
        _quota(access, QuotaHolder(person_id=org.erin.pk), quota_id="expansion_bookings")
        assert Quota.objects.count() == 3


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"amount": "-1"}, "bad_amount"),
        ({"amount": "1.00001"}, "bad_amount"),
        ({"amount": "lots"}, "bad_amount"),
        ({"quota_id": "new bookings"}, "bad_quota_id"),
        ({"end": D(2025, 12, 1)}, "bad_dates"),
        ({"currency": "XXQ"}, "bad_currency"),
    ],
)
def test_bad_quota_input_is_refused_with_the_field(org, alice, change, code):
    with tenant_scope(org.tenant):
        access = comp_admin_access(alice.pk)
        with pytest.raises(ValidationFailedError) as exc:
            _quota(access, QuotaHolder(person_id=org.erin.pk), **change)
        assert exc.value.code == code
        assert Quota.objects.count() == 0


def test_a_quota_needs_one_holder_an_end_and_an_id_its_plan_names(org, alice, plan_a):
    with tenant_scope(org.tenant):
        access = comp_admin_access(alice.pk)
        with pytest.raises(ValidationFailedError) as exc:
            _quota(access, QuotaHolder(person_id=org.erin.pk, node_id=org.west.pk))
        assert exc.value.code == "one_holder"
        with pytest.raises(ValidationFailedError) as exc:
            services.quota_create(
                access=access,
                holder=QuotaHolder(person_id=org.erin.pk),
                quota_id="new_bookings",
                amount=1,
                valid_from=D(2026, 1, 1),
                valid_to=None,
                currency="USD",
                user_id=None,
            )
        assert exc.value.code == "needs_end"
        with pytest.raises(ValidationFailedError) as exc:
            _quota(
                access, QuotaHolder(person_id=org.erin.pk), quota_id="pipeline", plan_id=plan_a.pk
            )
        assert exc.value.code == "quota_not_in_plan"
        assert "new_bookings" in exc.value.message
        # the plan's currency when none is given
        q = _quota(access, QuotaHolder(person_id=org.erin.pk), plan_id=plan_a.pk, currency=None)
        assert (q.plan_id, q.currency) == (plan_a.pk, "USD")


def test_a_quota_is_updated_and_ended_with_before_and_after(org, alice):
    with tenant_scope(org.tenant):
        access = comp_admin_access(alice.pk)
        q = _quota(access, QuotaHolder(person_id=org.erin.pk), end=D(2027, 1, 1))
        _quota(access, QuotaHolder(person_id=org.erin.pk), start=D(2027, 1, 1), end=D(2028, 1, 1))
        services.quota_update(access=access, quota_pk=q.pk, amount="120000")
        with pytest.raises(ConflictError):
            services.quota_update(access=access, quota_pk=q.pk, valid_to=D(2027, 6, 1))
        ended = services.quota_end(access=access, quota_pk=q.pk, valid_to=D(2026, 7, 1))
        assert (ended.amount, ended.valid_to) == (Decimal("120000"), D(2026, 7, 1))
        with pytest.raises(ValidationFailedError):
            services.quota_end(access=access, quota_pk=q.pk, valid_to=D(2026, 8, 1))
        events = AuditEvent.objects.filter(object_type="plans.quota", object_id=str(q.pk))
        update = events.filter(action="quota.update").order_by("id").first()
        assert update.before["amount"] != update.after["amount"]
        assert events.count() == 3


def test_the_quota_frame_has_the_engines_columns_and_allocates_by_days(org, alice):
    with tenant_scope(org.tenant):
        access = comp_admin_access(alice.pk)
        erin, west = QuotaHolder(person_id=org.erin.pk), QuotaHolder(node_id=org.west.pk)
        # three monthly quotas and an annual one (365 days)
        for month, amount in ((1, "100"), (2, "200"), (3, "300.5")):
            _quota(access, erin, amount=amount, start=D(2026, month, 1), end=D(2026, month + 1, 1))
        _quota(access, west, quota_id="bookings", amount="365000", end=D(2027, 1, 1))
        # when: a quarter
        frame = selectors.quota_frame(start=D(2026, 1, 1), end=D(2026, 4, 1))
        # then
        assert set(QUOTA_COLUMNS) <= set(frame.columns)
        assert str(frame["amount_e4"].dtype) == "int64"
        got = {
            (r.holder_kind, r.holder_id, r.quota_id): int(r.amount_e4) for r in frame.itertuples()
        }
        assert got == {
            ("person", str(org.erin.pk), "new_bookings"): 6005000,  # 100 + 200 + 300.5
            ("node", str(org.west.pk), "bookings"): 90 * 1000 * 10000,  # 90 of 365 days
        }
        # a month: February's quota and 28/365 of the annual one
        feb = selectors.quota_frame(start=D(2026, 2, 1), end=D(2026, 3, 1))
        assert sorted(feb["amount_e4"].tolist()) == [2000000, 28000 * 10000]
        # an annual quota passed whole for a plan that weights it by seasonality
        whole = selectors.quota_frame(start=D(2026, 2, 1), end=D(2026, 3, 1), whole={"bookings"})
        assert 365000 * 10000 in whole["amount_e4"].tolist()


def test_the_quota_frame_filters_holders_and_rounds_once(org, alice):
    with tenant_scope(org.tenant):
        access = comp_admin_access(alice.pk)
        _quota(access, QuotaHolder(person_id=org.erin.pk), amount="100", end=D(2026, 1, 4))
        _quota(access, QuotaHolder(person_id=org.wes.pk), amount="1")
        _quota(access, QuotaHolder(node_id=org.west.pk), amount="1")
        # one day of three: 33.33333... rounds to 33.3333
        one_day = selectors.quota_frame(
            start=D(2026, 1, 1), end=D(2026, 1, 2), person_ids=[org.erin.pk], node_ids=[]
        )
        assert one_day.to_dict("records") == [
            {
                "holder_kind": "person",
                "holder_id": str(org.erin.pk),
                "quota_id": "new_bookings",
                "amount_e4": 333333,
                "currency": "USD",
            }
        ]
        nodes_only = selectors.quota_frame(start=D(2026, 1, 1), end=D(2026, 2, 1), person_ids=[])
        assert nodes_only["holder_kind"].tolist() == ["node"]
        empty = selectors.quota_frame(start=D(2027, 1, 1), end=D(2027, 2, 1))
        assert len(empty) == 0 and set(QUOTA_COLUMNS) <= set(empty.columns)


def test_the_quota_frame_refuses_mixed_currencies(org, alice):
    with tenant_scope(org.tenant):
        access = comp_admin_access(alice.pk)
        _quota(access, QuotaHolder(person_id=org.erin.pk))
        _quota(
            access,
            QuotaHolder(person_id=org.erin.pk),
            start=D(2026, 2, 1),
            end=D(2026, 3, 1),
            currency="EUR",
        )
        with pytest.raises(ValueError, match="EUR and USD"):
            selectors.quota_frame(start=D(2026, 1, 1), end=D(2026, 3, 1))


def test_the_engine_computes_on_the_quota_frame(org, alice, plan_a):
    """The frame goes into engine.Inputs as it is: attainment reads the stored quota."""
    import dataclasses

    from engine import compute
    from engine.loader import inputs_from_mapping, plans_from_mapping

    with tenant_scope(org.tenant):
        access = comp_admin_access(alice.pk)
        _quota(access, QuotaHolder(person_id=org.erin.pk), amount="100000")
        _quota(
            access,
            QuotaHolder(person_id=org.erin.pk),
            quota_id="expansion_bookings",
            amount="20000",
        )
        frame = selectors.quota_frame(start=D(2026, 1, 1), end=D(2026, 2, 1))
        pid = str(org.erin.pk)
        spec = plan_a.versions.get().spec
        plans = plans_from_mapping({"plan": spec})
        inputs = inputs_from_mapping(
            {
                "period": {"id": "2026-01", "start": "2026-01-01", "end": "2026-02-01"},
                "people": [{"person": pid, "target_incentive": 8000}],
                "credits": [
                    {
                        "id": "c1",
                        "person": pid,
                        "date": "2026-01-08",
                        "amount": 70000,
                        "type": "new_business",
                    }
                ],
            },
            plans,
        )
        result = compute(dataclasses.replace(inputs, quotas=frame))
        # 70 % of the 100,000 quota: 50,000 at 5 % + 20,000 at 8 % = 2,500 + 1,600
        assert sum(line.amount for line in result.lines) == Decimal("4100")


def test_another_tenants_quota_is_not_found_and_not_in_the_frame(org, org_b, alice, tenant_b):
    with tenant_scope(org_b.tenant):
        theirs = _quota(comp_admin_access(), QuotaHolder(person_id=org_b.erin.pk))
    with tenant_scope(org.tenant):
        access = comp_admin_access(alice.pk)
        with pytest.raises(NotFoundError):
            selectors.quota_get(access=access, quota_pk=theirs.pk)
        with pytest.raises(NotFoundError):
            services.quota_update(access=access, quota_pk=theirs.pk, amount="1")
        assert len(selectors.quota_frame(start=D(2026, 1, 1), end=D(2026, 2, 1))) == 0


def test_a_bulk_create_is_all_or_nothing_with_every_rows_reason(org, alice):
    with tenant_scope(org.tenant):
        access = comp_admin_access(alice.pk)
        good = QuotaRow(
            QuotaHolder(person_id=org.erin.pk),
            "new_bookings",
            "100",
            D(2026, 1, 1),
            D(2026, 2, 1),
            "USD",
        )
        rows = [
            good,
            QuotaRow(
                QuotaHolder(person_id=org.wes.pk),
                "new_bookings",
                "-5",
                D(2026, 1, 1),
                D(2026, 2, 1),
                "USD",
            ),
            good,  # overlaps row 1
        ]
        with pytest.raises(ValidationFailedError) as exc:
            services.quota_bulk_create(access=access, rows=rows, user_id=alice.pk)
        assert [(r["row"], r["code"]) for r in exc.value.details["rows"]] == [
            (2, "bad_amount"),
            (3, "quota_overlap"),
        ]
        assert Quota.objects.count() == 0
        made = services.quota_bulk_create(access=access, rows=rows[:1], user_id=alice.pk)
        assert [q.created_by_id for q in made] == [alice.pk]
