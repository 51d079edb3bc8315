"""ICM-1M, honest: engine.compute on ordinary data with manager roll-ups, vs a pandas reference.

Workload (fixed seed), one month (31 days):

* a 5-level organisation of 341 nodes (1 + 4 + 16 + 64 + 256), each with a manager; 10,000
  payees on its leaves; 10 % of payees move to another leaf mid-month (two segments), 5 % work
  at 50 % allocation;
* ordinary figures: quotas, target incentives and prior payments are whole cents drawn at
  random (nothing is shaped to divide the period's 31 days), so a pro-rated quota such as
  123,456.78 x 17 / 31 is what the engine really gets;
* 4 payee plans, each a commission of 4 marginal tiers on attainment with a cap of 3 x target
  incentive, on direct and split credits; 30 % of payees have a prior payment;
* 1,000,000 transactions of whole cents with 1-3 split credits each (~1.5M credits), and the
  manager roll-ups of those credits made by ``engine.crediting.credit_rollups`` over the
  5-level organisation; the 341 managers are on a plan of 3 marginal tiers on the attainment of
  their roll-up credits, capped at 2 x target incentive. The roll-up credits are stored (here:
  renumbered) like any credit and handed to ``compute`` with the others.

``reference`` is a minimal vectorized pandas/numpy implementation of the same workload in exact
integer arithmetic that produces the same outputs: every payout line (person, plan, component,
segment, dates, tier, earned, paid before and payable minor units) and every per-credit
contribution (person, plan, segment, measure, credit, transaction, amount). ``run`` checks both
equal, then times ``compute`` and the reference in the same process (median of 5 after a
warm-up). Beside it:

* ``rollup_credit_s`` - ``credit_rollups`` on the 1.5M base credits (checked: every manager's
  roll-up total equals the sum of the credits of the people at or below their node);
* ``payees100k_compute_s`` - the same generator with 100,000 payees and 1M transactions
  (the per-segment cost; its lines checked against the reference too);
* ``mixed_compute_s`` - the ICM-1M inputs with 20 % of payees on plans using a formula measure
  and a performance modifier (``mixed_ratio_vs_plain`` against ``compute_s``); the other 80 %
  must get exactly the lines they get in the plain run.

Only ``compute`` (and ``credit_rollups`` for its figure) is timed, not the data generation.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.harness import peak_rss_mb
from engine import compute, parse_plan
from engine.crediting import credit_rollups
from engine.spec import Plan
from engine.types import Inputs, Period, Result

NAME = "engine"
IN_ALL = True

SEED = 20250101
PERIOD = Period("2025-01", dt.date(2025, 1, 1), dt.date(2025, 2, 1))
DAYS = 31
LEVELS = 5
FANOUT = 4
MANAGER_BASE = 10_000_000
"""Manager person ids are MANAGER_BASE + node number (payee ids are 0..payees-1)."""


@dataclass(frozen=True)
class Tiers:
    """A marginal tier table on attainment: starts in halves of the quota, rates in bp."""

    starts_half: tuple[int, ...]
    rates_bp: tuple[int, ...]
    cap_multiple: int
    kinds: tuple[str, ...]
    measure: str


PAYEE_TIERS = [
    Tiers((0, 1, 2, 3), (300, 500, 800, 1200), 3, ("direct", "split"), "bookings"),
    Tiers((0, 1, 2, 3), (200, 400, 700, 1000), 3, ("direct", "split"), "bookings"),
    Tiers((0, 1, 2, 3), (400, 600, 900, 1500), 3, ("direct", "split"), "bookings"),
    Tiers((0, 1, 2, 3), (100, 300, 600, 900), 3, ("direct", "split"), "bookings"),
]
MANAGER_TIERS = Tiers((0, 2, 3), (20, 40, 60), 2, ("rollup",), "team_bookings")
PLAN_TIERS = {f"plan{i}": t for i, t in enumerate(PAYEE_TIERS)} | {"mgr": MANAGER_TIERS}
COMPONENT = "commission"


def _plan(plan_id: str, t: Tiers, measures: list[dict[str, Any]], **component: Any) -> Plan:
    """Return a plan of one commission on ``t``'s marginal tiers, capped at ``t``'s TI multiple."""
    rows: list[dict[str, Any]] = []
    for j, (half, bp) in enumerate(zip(t.starts_half, t.rates_bp, strict=True)):
        tier: dict[str, Any] = {"from": str(Decimal(half) / 2), "rate": str(Decimal(bp) / 10000)}
        if j + 1 < len(t.starts_half):
            tier["to"] = str(Decimal(t.starts_half[j + 1]) / 2)
        rows.append(tier)
    return parse_plan(
        {
            "version": 1,
            "id": plan_id,
            "currency": "USD",
            "proration": {"policy": "days_x_allocation"},
            "measures": measures,
            "components": [
                {
                    "id": COMPONENT,
                    "type": "commission",
                    "measure": t.measure,
                    "rate_table": {"convention": "marginal", "basis": "attainment", "tiers": rows},
                    "cap": {"target_multiple": t.cap_multiple},
                }
                | component
            ],
        }
    )


def _tier_plan(plan_id: str, t: Tiers) -> Plan:
    """A plain tier table on one measure: the sum of ``t``'s credit kinds."""
    kinds = {"credit_kinds": list(t.kinds)}
    return _plan(plan_id, t, [{"id": t.measure, "aggregate": "sum", "filter": kinds}])


def _mixed_plan(plan_id: str, t: Tiers) -> Plan:
    """A payee plan with a formula measure (split credits count 80 %) and a KPI modifier."""
    measures = [
        {"id": "direct", "aggregate": "sum", "filter": {"credit_kinds": ["direct"]}},
        {"id": "split", "aggregate": "sum", "filter": {"credit_kinds": ["split"]}},
        {"id": "credited", "aggregate": "formula", "formula": "direct + 0.8 * split"},
        {"id": "perf", "aggregate": "kpi", "kpi": "perf"},
    ]
    return _plan(
        plan_id,
        t,
        measures,
        measure="credited",
        quota="bookings",
        modifiers=[{"measure": "perf", "min": 0, "max": "1.25"}],
    )


def plans() -> dict[str, Plan]:
    """Return the 4 payee plans and the manager plan."""
    return {pid: _tier_plan(pid, t) for pid, t in PLAN_TIERS.items()}


@dataclass(frozen=True)
class Org:
    """The organisation: nodes with their parent and manager, payees' memberships."""

    nodes: pd.DataFrame  # node_id, parent_id, manager_id
    memberships: pd.DataFrame  # person_id, node_id (at the start of the period)


def _nodes() -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = [("n0", None)]
    out += [
        (f"n{level}_{k}", "n0" if level == 1 else f"n{level - 1}_{k // FANOUT}")
        for level in range(1, LEVELS)
        for k in range(FANOUT**level)
    ]
    return out


def base_credits(
    rng: np.random.Generator, payees: int, transactions: int, start: np.datetime64
) -> pd.DataFrame:
    """Return the direct and split credits of ``transactions`` whole-cent transactions."""
    k = rng.choice([1, 2, 3], transactions, p=[0.6, 0.3, 0.1])
    tx_amount = rng.integers(10_000, 500_000, transactions) * 100  # 100.00-5,000.00, e4
    tx_day = rng.integers(0, DAYS, transactions)
    n_credits = int(k.sum())
    tx_of = np.repeat(np.arange(transactions, dtype=np.int64), k)
    first = np.r_[0, np.cumsum(k)[:-1]]
    position = np.arange(n_credits) - np.repeat(first, k)
    kk = k[tx_of]
    base = tx_amount[tx_of] // kk
    amount = base + (position < tx_amount[tx_of] - base * kk)  # largest remainder, equal shares
    return pd.DataFrame(
        {
            "credit_id": np.arange(n_credits, dtype=np.int64),
            "transaction_id": tx_of,
            "person_id": rng.integers(0, payees, n_credits),
            "date": start + tx_day[tx_of],
            "amount_e4": amount.astype(np.int64),
            "transaction_type": np.where(kk == 1, "new", "split"),
            "kind": np.where(kk == 1, "direct", "split"),
            "share_ppm": 1_000_000 // kk,
        }
    )


def _cents(rng: np.random.Generator, low: int, high: int, n: int) -> Any:
    """Return ``n`` random whole-cent amounts in [low, high) currency units, in e4."""
    return rng.integers(low * 100, high * 100, n) * 100


@dataclass
class Workload:
    inputs: Inputs
    base: pd.DataFrame
    org: Org
    rollup_s: float
    rollup_rows: int


def generate(payees: int = 10_000, transactions: int = 1_000_000, seed: int = SEED) -> Workload:
    """Return the synthetic inputs of the workload (roll-ups made by ``credit_rollups``)."""
    rng = np.random.default_rng(seed)
    node_rows = _nodes()
    node_ids = [n for n, _ in node_rows]
    leaves = [n for n in node_ids if n.startswith(f"n{LEVELS - 1}_")]
    managers = np.arange(len(node_ids), dtype=np.int64) + MANAGER_BASE
    person = np.arange(payees, dtype=np.int64)
    leaf = rng.integers(0, len(leaves), payees)
    moved = rng.random(payees) < 0.10
    half = rng.random(payees) < 0.05
    move_day = rng.integers(2, DAYS - 1, payees)
    start = np.datetime64(PERIOD.start, "D")
    end = np.datetime64(PERIOD.end, "D")
    nm = len(managers)
    leaf_names = np.array(leaves, dtype=object)
    timeline = pd.DataFrame(
        {
            "person_id": np.concatenate([person, person[moved], managers]),
            "start": np.concatenate(
                [np.full(payees, start), start + move_day[moved], np.full(nm, start)]
            ),
            "end": np.concatenate(
                [
                    np.where(moved, start + move_day, end),
                    np.full(moved.sum(), end),
                    np.full(nm, end),
                ]
            ),
            "node_id": np.concatenate(
                [
                    leaf_names[leaf],
                    leaf_names[(leaf[moved] + 1) % len(leaves)],
                    np.array(node_ids, dtype=object),
                ]
            ),
            "role": np.concatenate([np.full(payees + moved.sum(), "ae"), np.full(nm, "mgr")]),
            "allocation": np.concatenate(
                [np.where(half, "0.5", "1"), np.where(half[moved], "0.5", "1"), np.full(nm, "1")]
            ),
        }
    )
    people = np.concatenate([person, managers])
    plan_of = np.concatenate([np.array([f"plan{p % 4}" for p in person]), np.full(nm, "mgr")])
    assignments = pd.DataFrame(
        {
            "person_id": people,
            "plan_id": plan_of,
            "start": np.full(len(people), start),
            "end": np.full(len(people), end),
            "target_incentive_e4": np.concatenate(
                [_cents(rng, 5_000, 20_000, payees), _cents(rng, 10_000, 40_000, nm)]
            ),
        }
    )
    base = base_credits(rng, payees, transactions, start)
    org = Org(
        nodes=pd.DataFrame(
            {
                "node_id": node_ids,
                "parent_id": [p for _, p in node_rows],
                "manager_id": managers,
            }
        ),
        memberships=pd.DataFrame({"person_id": person, "node_id": leaf_names[leaf]}),
    )
    gc.collect()
    t0 = time.perf_counter()
    rollups = credit_rollups(base, org.memberships, org.nodes)
    rollup_s = time.perf_counter() - t0
    rollup_rows = len(rollups)
    # Stored like any credit: a numeric id of its own (a roll-up total is its own
    # transaction), the columns the engine reads, text columns as categories.
    ids = np.arange(len(base), len(base) + len(rollups), dtype=np.int64)
    stored = pd.DataFrame(
        {
            "credit_id": ids,
            "transaction_id": ids,
            "person_id": rollups["person_id"].astype(np.int64).to_numpy(),
            "date": rollups["date"].to_numpy(),
            "amount_e4": rollups["amount_e4"].to_numpy(dtype=np.int64),
            "transaction_type": rollups["transaction_type"].astype(str).to_numpy(),
            "kind": rollups["kind"].astype(str).to_numpy(),
            "share_ppm": rollups["share_ppm"].to_numpy(dtype=np.int64),
        }
    )
    if "credits_n" in rollups.columns:  # how many credits a roll-up total stands for
        stored["credits_n"] = rollups["credits_n"].to_numpy(dtype=np.int64)
        base = base.assign(credits_n=np.int64(1))
    del rollups
    credits = pd.concat([base, stored], ignore_index=True).astype(
        {"transaction_type": "category", "kind": "category"}
    )
    del stored
    # Quotas: whole cents around what each payee / team books (attainment ~ 60 %-200 %).
    expected_payee = transactions * 1.5 / payees * 1_950  # mean credit ~1,950.00
    payee_quota = _cents(rng, int(expected_payee * 0.7), int(expected_payee * 1.5), payees)
    team_size = np.array([FANOUT ** (LEVELS - 1 - int(n[1])) for n in node_ids], dtype=np.float64)
    expected_team = expected_payee * payees / len(leaves) * team_size
    team_quota = (
        np.round(expected_team * rng.uniform(0.8, 1.6, nm) * 100).astype(np.int64) * 100
    )  # whole cents, e4
    quotas = pd.DataFrame(
        {
            "holder_id": people,
            "quota_id": np.concatenate([np.full(payees, "bookings"), np.full(nm, "team_bookings")]),
            "amount_e4": np.concatenate([payee_quota, team_quota]),
        }
    )
    prior_mask = rng.random(payees) < 0.30
    prior = pd.DataFrame(
        {
            "person_id": person[prior_mask],
            "plan_id": plan_of[:payees][prior_mask],
            "component_id": COMPONENT,
            "amount_e4": _cents(rng, 1, 2_000, int(prior_mask.sum())),
        }
    )
    inputs = Inputs(
        period=PERIOD,
        plans=plans(),
        assignments=assignments,
        timeline=timeline,
        credits=credits,
        quotas=quotas,
        prior_payouts=prior,
        nodes=org.nodes[["node_id", "parent_id"]],
    )
    return Workload(inputs, base, org, rollup_s, rollup_rows)


def mixed(inputs: Inputs, share: int = 5, seed: int = SEED + 1) -> Inputs:
    """Return ``inputs`` with every ``share``-th payee on a mixed plan (formula + modifier)."""
    rng = np.random.default_rng(seed)
    a = inputs.assignments
    person = a["person_id"].to_numpy()
    pick = (person < MANAGER_BASE) & (person % share == 0)
    plan_id = a["plan_id"].to_numpy().copy()
    plan_id[pick] = np.char.replace(plan_id[pick].astype(str), "plan", "mix")
    new_plans = dict(inputs.plans) | {
        f"mix{i}": _mixed_plan(f"mix{i}", t) for i, t in enumerate(PAYEE_TIERS)
    }
    perf = rng.integers(50, 131, int(pick.sum()))  # 0.50-1.30
    kpis = pd.DataFrame(
        {
            "holder_kind": "person",
            "holder_id": person[pick],
            "kpi": "perf",
            "value": [str(Decimal(int(v)) / 100) for v in perf],
        }
    )
    prior = inputs.prior_payouts
    moved_prior = prior["person_id"].isin(set(person[pick].tolist())).to_numpy()
    prior = prior.assign(
        plan_id=np.where(moved_prior, prior["plan_id"].str.replace("plan", "mix"), prior["plan_id"])
    )
    return replace(
        inputs,
        plans=new_plans,
        assignments=a.assign(plan_id=plan_id),
        kpi_values=kpis,
        prior_payouts=prior,
    )


def _wall_and_cpu(fn: Callable[[], Any], *, repeat: int = 5) -> tuple[float, float]:
    """Return the median wall time and the median CPU time (``time.process_time``) of ``fn``
    over ``repeat`` runs after one warm-up (as ``median_seconds``). On a shared machine the CPU
    time moves far less with the load than the wall time does."""
    fn()
    walls, cpus = [], []
    for _ in range(repeat):
        gc.collect()
        cpu, wall = time.process_time(), time.perf_counter()
        fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


# --------------------------------------------------------------------------- reference


@dataclass
class Reference:
    """What the reference works out: one row per line, one per contribution."""

    lines: pd.DataFrame
    contributions: pd.DataFrame


def _round_half_up(num: Any, den: int) -> Any:
    """Return num / den rounded half away from zero (exact, int64)."""
    neg = num < 0
    a = np.abs(num)
    q, r = np.divmod(a, den)
    q = q + (2 * r >= den)
    return np.where(neg, -q, q)


def reference(inputs: Inputs) -> Reference:
    """Return the lines and contributions, by a minimal vectorized pandas implementation."""
    p0 = np.datetime64(PERIOD.start, "D")
    a = inputs.assignments[["person_id", "plan_id", "target_incentive_e4"]]
    seg = inputs.timeline.merge(a, on="person_id").merge(
        inputs.quotas[["holder_id", "amount_e4"]].rename(
            columns={"holder_id": "person_id", "amount_e4": "quota_e4"}
        ),
        on="person_id",
    )
    seg = seg.assign(
        s=(seg["start"].to_numpy().astype("datetime64[D]") - p0).astype(np.int64),
        e=(seg["end"].to_numpy().astype("datetime64[D]") - p0).astype(np.int64),
        alloc2=np.where(seg["allocation"] == "0.5", 1, 2),  # allocation in halves
    ).sort_values(["person_id", "s"], ignore_index=True)
    person = seg["person_id"].to_numpy()
    first = np.r_[True, person[1:] != person[:-1]]
    seg_index = np.arange(len(seg)) - np.maximum.accumulate(np.where(first, np.arange(len(seg)), 0))
    plan_names = sorted(PLAN_TIERS)
    plan_code = pd.Categorical(seg["plan_id"], categories=plan_names).codes.astype(np.int64)
    # Credits -> segments: (person, day) keys, one binary search.
    c = inputs.credits
    cday = (c["date"].to_numpy().astype("datetime64[D]") - p0).astype(np.int64)
    key_seg = person * 64 + seg["s"].to_numpy()
    pos = np.searchsorted(key_seg, c["person_id"].to_numpy() * 64 + cday, side="right") - 1
    counted = np.zeros(len(c), dtype=bool)
    kinds: dict[tuple[str, ...], Any] = {}
    for k, pid in enumerate(plan_names):
        want = PLAN_TIERS[pid].kinds
        if want not in kinds:
            kinds[want] = c["kind"].isin(want).to_numpy()
        counted |= (plan_code[pos] == k) & kinds[want]
    rows = np.flatnonzero(counted)
    amounts = c["amount_e4"].to_numpy()
    measure = np.zeros(len(seg), dtype=np.int64)
    np.add.at(measure, pos[rows], amounts[rows])
    # Everything below is scaled by 124 = 2 (allocation halves) x 2 (tier halves) x 31 days.
    num = (seg["e"].to_numpy() - seg["s"].to_numpy()) * seg["alloc2"].to_numpy()
    quota = seg["quota_e4"].to_numpy()
    ti = seg["target_incentive_e4"].to_numpy()
    v = measure * (4 * DAYS)
    pay = np.zeros(len(seg), dtype=np.int64)  # e4 x bp, x 124
    cap = np.zeros(len(seg), dtype=np.int64)
    tier = np.ones(len(seg), dtype=np.int64)
    for k, pid in enumerate(plan_names):
        t = PLAN_TIERS[pid]
        sel = plan_code == k
        vv, qq = v[sel], quota[sel] * num[sel]
        got = np.zeros(int(sel.sum()), dtype=np.int64)
        reached = np.ones(int(sel.sum()), dtype=np.int64)
        for j, (half, bp) in enumerate(zip(t.starts_half, t.rates_bp, strict=True)):
            lo = qq * half
            top = vv if j + 1 == len(t.starts_half) else np.minimum(vv, qq * t.starts_half[j + 1])
            got += np.maximum(top - lo, 0) * bp
            reached = np.where(vv >= lo, j + 1, reached)
        pay[sel] = got
        tier[sel] = reached
        cap[sel] = t.cap_multiple * ti[sel] * num[sel] * 2 * 10_000
    earned = _round_half_up(np.minimum(pay, cap), 4 * DAYS * 1_000_000)  # e8 -> cents
    prior = (
        inputs.prior_payouts.groupby(["person_id", "plan_id"])["amount_e4"].sum().rename("prior")
    )
    paid = (
        seg[["person_id", "plan_id"]]
        .join(prior, on=["person_id", "plan_id"])["prior"]
        .fillna(0)
        .to_numpy(dtype=np.int64)
    )
    paid = np.where(seg_index == 0, _round_half_up(paid, 100), 0)
    lines = pd.DataFrame(
        {
            "person_id": person,
            "plan_id": pd.Categorical.from_codes(plan_code, categories=plan_names),
            "segment": seg_index,
            "start": seg["s"].to_numpy(),
            "end": seg["e"].to_numpy(),
            "tier": tier,
            "earned_minor": earned,
            "paid_minor": paid,
            "amount_minor": earned - paid,
        }
    )
    spos = pos[rows]
    seg_plan = plan_code[spos]
    measure_names = sorted({t.measure for t in PLAN_TIERS.values()})
    measure_of = np.array([measure_names.index(PLAN_TIERS[p].measure) for p in plan_names])
    contributions = pd.DataFrame(
        {
            "person_id": person[spos],
            "plan_id": pd.Categorical.from_codes(seg_plan, categories=plan_names),
            "segment": seg_index[spos],
            "measure_id": pd.Categorical.from_codes(measure_of[seg_plan], categories=measure_names),
            "credit_id": c["credit_id"].to_numpy()[rows],
            "transaction_id": c["transaction_id"].to_numpy()[rows],
            "amount_e4": amounts[rows],
        }
    )
    return Reference(lines, contributions)


def _engine_lines(result: Result) -> pd.DataFrame:
    p0 = PERIOD.start
    rows = [
        (
            int(ln.person_id),
            ln.plan_id,
            ln.segment,
            (ln.segment_start - p0).days,
            (ln.segment_end - p0).days,
            ln.tier,
            int(ln.earned.scaleb(2)),
            int(ln.paid_before.scaleb(2)),
            ln.amount_minor,
        )
        for ln in result.lines
    ]
    return pd.DataFrame(
        rows,
        columns=[
            "person_id",
            "plan_id",
            "segment",
            "start",
            "end",
            "tier",
            "earned_minor",
            "paid_minor",
            "amount_minor",
        ],
    )


def check_equal(result: Result, ref: Reference, *, contributions: bool = True) -> None:
    """Raise AssertionError unless the engine's lines (and contributions) equal the reference's."""
    if any(ln.kind != "earned" or ln.component_id != COMPONENT for ln in result.lines):
        raise AssertionError("the engine made lines the workload has no rule for")
    key = ["person_id", "plan_id", "segment"]
    mine = _engine_lines(result).sort_values(key, ignore_index=True)
    theirs = ref.lines.sort_values(key, ignore_index=True)
    if len(mine) != len(theirs):
        raise AssertionError(f"lines: engine {len(mine)}, reference {len(theirs)}")
    for col in theirs.columns:
        a, b = mine[col].to_numpy(), theirs[col].to_numpy()
        bad = np.flatnonzero(a != b)
        if len(bad):
            row = bad[0]
            raise AssertionError(
                f"lines differ in {col} on {len(bad)} row(s), e.g. engine "
                f"{mine.iloc[row].to_dict()} reference {theirs.iloc[row].to_dict()}"
            )
    if not contributions:
        return
    got = result.contributions
    want = ref.contributions
    if len(got) != len(want):
        raise AssertionError(f"contributions: engine {len(got)}, reference {len(want)}")
    order_a = np.argsort(got["credit_id"].to_numpy(), kind="stable")
    order_b = np.argsort(want["credit_id"].to_numpy(), kind="stable")
    for col in want.columns:
        a = np.asarray(got[col].to_numpy())[order_a]
        b = np.asarray(want[col].to_numpy())[order_b]
        if col in ("plan_id", "measure_id"):
            a, b = a.astype(str), b.astype(str)
        else:
            a = a.astype(np.int64)
        if not np.array_equal(a, b):
            raise AssertionError(f"contributions differ in {col}")


def _check_rollups(work: Workload) -> None:
    """Every manager's roll-up total = the sum of the credits at or below their node."""
    org, base = work.org, work.base
    parent = dict(zip(org.nodes["node_id"], org.nodes["parent_id"], strict=True))
    manager = dict(zip(org.nodes["node_id"], org.nodes["manager_id"], strict=True))
    member = dict(zip(org.memberships["person_id"], org.memberships["node_id"], strict=True))
    per_person = base.groupby("person_id")["amount_e4"].sum()
    expected: dict[int, int] = {}
    for p, total in per_person.items():
        node: str | None = member[p]
        while node is not None:
            expected[manager[node]] = expected.get(manager[node], 0) + int(total)
            node = parent[node]
    c = work.inputs.credits
    rolled = c[c["kind"] == "rollup"].groupby("person_id")["amount_e4"].sum()
    got = {int(k): int(v) for k, v in rolled.items()}
    if got != expected:
        raise AssertionError("roll-up totals differ from the subtree sums")


def _plain() -> tuple[dict[str, float | int | str], Inputs, Result]:
    """The honest ICM-1M: checks, then engine and reference timed in one process."""
    t0 = time.perf_counter()
    work = generate()
    generate_s = time.perf_counter() - t0
    inputs = work.inputs
    _check_rollups(work)
    rollup_s = [work.rollup_s]
    for _ in range(2):
        gc.collect()
        t1 = time.perf_counter()
        credit_rollups(work.base, work.org.memberships, work.org.nodes)
        rollup_s.append(time.perf_counter() - t1)
    result = compute(inputs)
    check_equal(result, reference(inputs))
    compute_s, compute_cpu_s = _wall_and_cpu(lambda: compute(inputs))
    reference_s, reference_cpu_s = _wall_and_cpu(lambda: reference(inputs))
    figures: dict[str, float | int | str] = {
        "payees": int((inputs.assignments["person_id"] < MANAGER_BASE).sum()),
        "managers": int((inputs.assignments["person_id"] >= MANAGER_BASE).sum()),
        "transactions": int(work.base["transaction_id"].nunique()),
        "credits": len(work.base),
        "rollup_credits": work.rollup_rows,
        "lines": len(result.lines),
        "total_payable_cents": sum(ln.amount_minor for ln in result.lines),
        "generate_s": generate_s,
        "compute_s": compute_s,
        "reference_s": reference_s,
        "ratio_vs_reference": compute_s / reference_s,
        "compute_cpu_s": compute_cpu_s,
        "reference_cpu_s": reference_cpu_s,
        "cpu_ratio_vs_reference": compute_cpu_s / reference_cpu_s,
        "rollup_credit_s": float(np.median(rollup_s)),
        "result_hash": result.result_hash[:16],
    }
    return figures, inputs, result


def _mixed(
    inputs: Inputs, plain: Result, compute_s: float, compute_cpu_s: float
) -> dict[str, float | int | str]:
    """20 % of payees on a formula measure and a modifier; the others' lines unchanged."""
    mixed_inputs = mixed(inputs)
    mixed_result = compute(mixed_inputs)
    moved = {ln.person_id for ln in mixed_result.lines if ln.plan_id.startswith("mix")}
    plain_lines = {
        (ln.person_id, ln.segment): ln for ln in plain.lines if ln.person_id not in moved
    }
    others = [ln for ln in mixed_result.lines if ln.person_id not in moved]
    if len(others) != len(plain_lines) or any(
        plain_lines.get((ln.person_id, ln.segment)) != ln for ln in others
    ):
        raise AssertionError("mixed plans changed the lines of payees on plain plans")
    mixed_s, mixed_cpu_s = _wall_and_cpu(lambda: compute(mixed_inputs), repeat=3)
    return {
        "mixed_compute_s": mixed_s,
        "mixed_compute_cpu_s": mixed_cpu_s,
        "mixed_cpu_ratio_vs_plain": mixed_cpu_s / compute_cpu_s,
        "mixed_ratio_vs_plain": mixed_s / compute_s,
        "mixed_payees": int(mixed_inputs.assignments["plan_id"].str.startswith("mix").sum()),
    }


def _payees100k() -> dict[str, float | int | str]:
    """100,000 payees x 1M transactions: the per-segment cost; lines checked."""
    big = generate(payees=100_000).inputs
    check_equal(compute(big), reference(big), contributions=False)
    big_s, big_cpu_s = _wall_and_cpu(lambda: compute(big), repeat=3)
    big_ref_s, big_ref_cpu_s = _wall_and_cpu(lambda: reference(big), repeat=3)
    return {
        "payees100k_compute_s": big_s,
        "payees100k_reference_s": big_ref_s,
        "payees100k_ratio_vs_reference": big_s / big_ref_s,
        "payees100k_compute_cpu_s": big_cpu_s,
        "payees100k_reference_cpu_s": big_ref_cpu_s,
    }


def run() -> dict[str, float | int | str]:
    """Generate the workloads, check engine = reference, time both, report the figures."""
    figures, inputs, result = _plain()
    compute_s, compute_cpu_s = figures["compute_s"], figures["compute_cpu_s"]
    assert isinstance(compute_s, float)
    assert isinstance(compute_cpu_s, float)
    figures |= _mixed(inputs, result, compute_s, compute_cpu_s)
    del inputs, result
    gc.collect()
    figures |= _payees100k()
    return figures | {
        "peak_mb": peak_rss_mb(),
        "load_average_1m": os.getloadavg()[0],
        "goal_compute_s": 1.0,
        "goal_ratio": 3.0,
        "goal_rollup_credit_s": 2.0,
        "goal_payees100k_compute_s": 2.0,
        "goal_mixed_ratio_vs_plain": 2.0,
    }
