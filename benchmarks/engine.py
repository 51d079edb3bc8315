"""ICM-1M: engine.compute on 10k payees, 1M transactions (~1.5M credits), vs a pandas reference.

Workload (fixed seed): a 5-level hierarchy of 341 nodes with 10,000 payees on its leaves; one
month (31 days); 4 plans, each a commission with 4 marginal tiers on attainment, a cap of
3 x target incentive, pro-ration by days x allocation; 10 % of payees move node mid-month
(two segments), 5 % work at 50 % allocation; 30 % have a prior payment; 1,000,000
transactions with 1-3 split credits each (~1.5M credits).

``reference`` is a minimal vectorized pandas implementation of the same workload, in exact
integer arithmetic; the benchmark checks both produce the same total, to the cent, and times
both in the same run (median of 5 after a warm-up). Only ``compute`` is timed, not the data
generation.
"""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.harness import median_seconds, peak_rss_mb
from engine import compute, parse_plan
from engine.types import Inputs, Period

NAME = "engine"
IN_ALL = True

SEED = 20250101
PERIOD = Period("2025-01", dt.date(2025, 1, 1), dt.date(2025, 2, 1))
DAYS = 31
TIERS_BP = [  # (from attainment in halves, rate in basis points) per plan
    [(0, 300), (1, 500), (2, 800), (3, 1200)],
    [(0, 200), (1, 400), (2, 700), (3, 1000)],
    [(0, 400), (1, 600), (2, 900), (3, 1500)],
    [(0, 100), (1, 300), (2, 600), (3, 900)],
]
CAP_MULTIPLE = 3


def plans() -> dict[str, Any]:
    """Return the 4 benchmark plans."""
    out = {}
    for i, tiers in enumerate(TIERS_BP):
        rows = []
        for j, (half, bp) in enumerate(tiers):
            tier: dict[str, Any] = {
                "from": str(Decimal(half) / 2),
                "rate": str(Decimal(bp) / 10000),
            }
            if j + 1 < len(tiers):
                tier["to"] = str(Decimal(tiers[j + 1][0]) / 2)
            rows.append(tier)
        out[f"plan{i}"] = parse_plan(
            {
                "version": 1,
                "id": f"plan{i}",
                "currency": "USD",
                "proration": {"policy": "days_x_allocation"},
                "measures": [{"id": "bookings", "aggregate": "sum"}],
                "components": [
                    {
                        "id": "commission",
                        "type": "commission",
                        "measure": "bookings",
                        "rate_table": {
                            "convention": "marginal",
                            "basis": "attainment",
                            "tiers": rows,
                        },
                        "cap": {"target_multiple": CAP_MULTIPLE},
                    }
                ],
            }
        )
    return out


def generate(payees: int = 10_000, transactions: int = 1_000_000, seed: int = SEED) -> Inputs:
    """Return the synthetic inputs of the workload."""
    rng = np.random.default_rng(seed)
    leaves = 4**4  # levels 0..4: 1 + 4 + 16 + 64 + 256 nodes
    nodes: list[tuple[str, str | None]] = [("n0", None)]
    nodes += [
        (f"n{level}_{k}", "n0" if level == 1 else f"n{level - 1}_{k // 4}")
        for level in range(1, 5)
        for k in range(4**level)
    ]
    person = np.arange(payees, dtype=np.int64)
    leaf = rng.integers(0, leaves, payees)
    moved = rng.random(payees) < 0.10
    half = rng.random(payees) < 0.05
    move_day = rng.integers(2, DAYS - 1, payees)
    start = np.datetime64(PERIOD.start, "D")
    end = np.datetime64(PERIOD.end, "D")
    # Timeline: one segment, or two when the payee moved node mid-month.
    t_person = np.concatenate([person, person[moved]])
    t_start = np.concatenate([np.full(payees, start), start + move_day[moved]])
    t_end = np.concatenate([np.where(moved, start + move_day, end), np.full(moved.sum(), end)])
    t_leaf = np.concatenate([leaf, (leaf[moved] + 1) % leaves])
    t_alloc = np.concatenate([np.where(half, "0.5", "1"), np.where(half[moved], "0.5", "1")])
    timeline = pd.DataFrame(
        {
            "person_id": t_person,
            "start": t_start,
            "end": t_end,
            "node_id": [f"n4_{k}" for k in t_leaf],
            "role": "ae",
            "allocation": t_alloc,
        }
    )
    # Quotas and TIs are multiples of 2 x 2 x 31 ten-thousandths... times 10,000 so that every
    # pro-rated figure is a whole number of ten-thousandths and the reference can stay integer.
    quota_e4 = rng.integers(50, 500, payees) * 124 * 10_000 * 10
    ti_e4 = rng.integers(5, 50, payees) * 124 * 10_000 * 10
    assignments = pd.DataFrame(
        {
            "person_id": person,
            "plan_id": [f"plan{p % 4}" for p in person],
            "start": np.full(payees, start),
            "end": np.full(payees, end),
            "target_incentive_e4": ti_e4,
        }
    )
    quotas = pd.DataFrame({"holder_id": person, "quota_id": "bookings", "amount_e4": quota_e4})
    prior_mask = rng.random(payees) < 0.30
    prior = pd.DataFrame(
        {
            "person_id": person[prior_mask],
            "plan_id": assignments["plan_id"][prior_mask].to_numpy(),
            "component_id": "commission",
            "amount_e4": rng.integers(1, 2000, prior_mask.sum()) * 10_000,
        }
    )
    # Transactions with 1-3 splits: P = 0.6 / 0.3 / 0.1 (mean 1.5 credits per transaction).
    k = rng.choice([1, 2, 3], transactions, p=[0.6, 0.3, 0.1])
    tx_amount = rng.integers(100, 50_000, transactions) * 10_000 + rng.integers(
        0, 10_000, transactions
    )
    tx_day = rng.integers(0, DAYS, transactions)
    n_credits = int(k.sum())
    tx_of = np.repeat(np.arange(transactions, dtype=np.int64), k)
    first = np.r_[0, np.cumsum(k)[:-1]]
    position = np.arange(n_credits) - np.repeat(first, k)
    kk = k[tx_of]
    base = tx_amount[tx_of] // kk
    amount = base + (position < tx_amount[tx_of] - base * kk)  # largest remainder, equal shares
    credits = pd.DataFrame(
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
    return Inputs(
        period=PERIOD,
        plans=plans(),
        assignments=assignments,
        timeline=timeline,
        credits=credits,
        quotas=quotas,
        prior_payouts=prior,
        nodes=pd.DataFrame(nodes, columns=["node_id", "parent_id"]),
    )


def reference(inputs: Inputs) -> int:
    """Return the total payable in cents, by a minimal vectorized pandas implementation."""
    p0 = np.datetime64(PERIOD.start, "D")
    a = inputs.assignments[["person_id", "plan_id", "target_incentive_e4"]]
    t = inputs.timeline
    seg = t.merge(a, on="person_id").merge(
        inputs.quotas[["holder_id", "amount_e4"]].rename(
            columns={"holder_id": "person_id", "amount_e4": "quota_e4"}
        ),
        on="person_id",
    )
    seg = (
        seg.assign(
            s=(seg["start"].to_numpy().astype("datetime64[D]") - p0).astype(np.int64),
            e=(seg["end"].to_numpy().astype("datetime64[D]") - p0).astype(np.int64),
            alloc2=np.where(seg["allocation"] == "0.5", 1, 2),  # allocation in halves
        )
        .sort_values(["person_id", "s"])
        .reset_index(drop=True)
    )
    seg["seg"] = np.arange(len(seg))
    c = inputs.credits
    day = (c["date"].to_numpy().astype("datetime64[D]") - p0).astype(np.int64)
    key_seg = seg["person_id"].to_numpy() * 64 + seg["s"].to_numpy()
    pos = np.searchsorted(key_seg, c["person_id"].to_numpy() * 64 + day, side="right") - 1
    measure = np.bincount(pos, minlength=len(seg))  # placeholder shape for dtype below
    measure = (
        pd.Series(c["amount_e4"].to_numpy())
        .groupby(pos)
        .sum()
        .reindex(range(len(seg)), fill_value=0)
        .to_numpy(dtype=np.int64)
    )
    days = seg["e"].to_numpy() - seg["s"].to_numpy()
    num = days * seg["alloc2"].to_numpy()
    quota = seg["quota_e4"].to_numpy() * num // (DAYS * 2)
    cap_e8 = CAP_MULTIPLE * (seg["target_incentive_e4"].to_numpy() * num // (DAYS * 2)) * 10_000
    plan_idx = seg["plan_id"].str[-1].astype(int).to_numpy()
    earned_e8 = np.zeros(len(seg), dtype=np.int64)
    for p, tiers in enumerate(TIERS_BP):
        sel = plan_idx == p
        m, q = measure[sel], quota[sel]
        pay = np.zeros(sel.sum(), dtype=np.int64)
        for j, (half, bp) in enumerate(tiers):
            lo = q * half // 2
            hi = q * tiers[j + 1][0] // 2 if j + 1 < len(tiers) else None
            top = m if hi is None else np.minimum(m, hi)
            pay += np.maximum(top - lo, 0) * bp
        earned_e8[sel] = pay
    earned_e8 = np.minimum(earned_e8, cap_e8)
    cents = (earned_e8 + 500_000) // 1_000_000
    prior = inputs.prior_payouts["amount_e4"].sum() // 100
    return int(cents.sum() - prior)


def run() -> dict[str, float | int | str]:
    """Generate the workload, time engine and reference, check totals, report figures."""
    t0 = time.perf_counter()
    inputs = generate()
    generate_s = time.perf_counter() - t0
    result = compute(inputs)
    engine_total = sum(line.amount_minor for line in result.lines)
    reference_total = reference(inputs)
    if engine_total != reference_total:
        raise AssertionError(f"totals differ: engine {engine_total} reference {reference_total}")
    compute_s = median_seconds(lambda: compute(inputs))
    reference_s = median_seconds(lambda: reference(inputs))
    return {
        "payees": int(inputs.assignments["person_id"].nunique()),
        "segments": len({(ln.person_id, ln.segment) for ln in result.lines}),
        "transactions": int(inputs.credits["transaction_id"].nunique()),
        "credits": len(inputs.credits),
        "lines": len(result.lines),
        "total_payable_cents": engine_total,
        "generate_s": generate_s,
        "compute_s": compute_s,
        "reference_s": reference_s,
        "ratio_vs_reference": compute_s / reference_s,
        "peak_mb": peak_rss_mb(),
        "goal_s": 1.0,
        "goal_ratio": 10.0,
        "result_hash": result.result_hash[:16],
    }
