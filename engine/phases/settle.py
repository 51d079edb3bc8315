"""Phase 5, settle: rounding once per line, prior payments, holds, clawbacks, draws, reserves.

Contract: :func:`settle` turns rewards into payout lines and traces (quantized once per line
with the plan's mode and currency) and returns the draw balances carried forward.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

import numpy as np
import pandas as pd

from engine import windows
from engine.money import (
    ONE,
    ZERO,
    MoneyError,
    RoundingMode,
    exponent,
    from_e4,
    from_minor,
    instalment,
    mul,
    quantize,
    to_decimal,
)
from engine.periods import (
    closes_fiscal,
    months_between,
)
from engine.phases.common import InputError
from engine.phases.reward import Reward
from engine.phases.segments import Segment
from engine.rules import (
    Outcome,
    clawback_amount,
    fmt_amount,
    fmt_pct,
    settle_draw,
    step,
)
from engine.spec import Component, Reserve
from engine.types import (
    Inputs,
    PayoutLine,
    Period,
    Step,
    Trace,
)


def _settled_figures(figures: str | None, earned: Decimal, paid: Decimal, cur: str) -> str | None:
    if figures is None:
        return None
    digits = exponent(cur)
    return f"{figures}|{int(earned.scaleb(digits))}|{int(paid.scaleb(digits))}"


@dataclass
class Book:
    lines: list[PayoutLine] = field(default_factory=list)
    traces: list[Trace] = field(default_factory=list)


def prior_table(frame: pd.DataFrame) -> dict[tuple[str, str, str], Decimal]:
    """Return each (person, plan, component)'s prior payments summed (``from_e4`` of the sum:
    the Decimal sum of ``from_e4`` figures, to the same digits and exponent)."""
    if len(frame) == 0:
        return {}
    keys = pd.DataFrame(
        {c: frame[c].astype(str).to_numpy() for c in ("person_id", "plan_id", "component_id")}
    )
    amounts = frame["amount_e4"].to_numpy()
    if amounts.dtype.kind != "i" or int(np.abs(amounts).max()) >= 2**62 // len(amounts):
        # Python integers, or figures whose int64 sum could overflow: add them exactly
        amounts = np.array([int(a) for a in amounts.tolist()], dtype=object)
    sums = keys.assign(amount=amounts).groupby(list(keys.columns), sort=False)["amount"].sum()
    return {
        (str(p), str(pl), str(c)): from_e4(int(total))
        for (p, pl, c), total in zip(sums.index.tolist(), sums.tolist(), strict=True)
    }


def settle(inputs: Inputs, rewards: Sequence[Reward]) -> tuple[Book, dict[str, Decimal]]:
    """Return the payout lines and traces, and the draw balances carried forward."""
    period = inputs.period
    prior: dict[tuple[str, str, str], Decimal] = {}
    if rewards:  # read by the rewards' people only (the fast path's read them on its own)
        frame = inputs.prior_payouts
        if len(frame):
            people = {str(r.segment.person_key) for r in rewards}
            frame = frame[frame["person_id"].astype(str).isin(people).to_numpy()]
        prior = prior_table(frame)
    book = Book()
    by_person_plan: dict[tuple[str, str], list[Reward]] = {}
    for r in rewards:
        by_person_plan.setdefault((r.segment.person_key, r.segment.plan_id), []).append(r)
    balances: dict[str, Decimal] = {str(k): to_decimal(v) for k, v in inputs.draw_balances.items()}
    reversals = _group_rows(inputs.reversals)
    holds = _group_rows(inputs.holds)
    collected = {str(t) for t in inputs.collected_transactions}
    due = _group_rows(
        inputs.instalments, order=lambda r: (str(r["earned_period_id"]), int(r["number"]))
    )
    reserves = _group_rows(inputs.reserves, order=lambda r: str(r["earned_period_id"]))
    draw_owner: dict[str, str] = {}
    to_date = windows.ToDate(inputs)
    for (person, plan_id), group in by_person_plan.items():
        plan = inputs.plans[plan_id]
        cur, mode = plan.rounding.currency, plan.rounding.mode
        first = group[0].segment
        payable = ZERO
        for r in group:
            seg, c, o = r.segment, r.component, r.outcome
            earned = quantize(o.earned, cur, mode)
            paid = ZERO
            if seg.index == 0:
                paid = quantize(prior.get((person, plan_id, c.id), ZERO), cur, mode)
            periods_paid: tuple[str, ...] | None = None
            if c.settle != "period":  # earned to date minus paid to date
                paid, periods_paid = to_date.paid_before(person, plan_id, c, seg.index, paid)
                paid = quantize(paid, cur, mode)
                to_date.record(person, plan_id, c, earned)
            payable += _add(
                book, seg, c.id, "earned", earned, paid, period, cur, o.attainment, o.tier
            )
            book.traces.append(
                earned_trace(
                    seg,
                    c,
                    o,
                    earned,
                    paid,
                    cur,
                    mode,
                    period,
                    _settled_figures(r.figures, earned, paid, cur),
                    periods_paid,
                )
            )
            if c.instalments is not None:
                payable += _defer(book, seg, c, earned - paid, cur, mode, period)
            if c.reserve is not None:
                payable += hold_reserve(inputs, book, seg, c, earned - paid, cur, mode)
            if o.held:
                held = quantize(o.held, cur, mode)
                payable += _add(book, seg, c.id, "hold", -held, ZERO, period, cur)
        for c in plan.components:
            for row in due.pop((person, plan_id, c.id), []):
                payable += _instalment(book, first, c, row, cur, mode, period)
            rows = reserves.pop((person, plan_id, c.id), [])
            if rows:
                payable += release_reserve(inputs, book, first, c, rows, cur, mode)
            for row in holds.get((person, plan_id, c.id), []):
                if str(row["transaction_id"]) in collected:
                    amount = quantize(from_e4(int(row["amount_e4"])), cur, mode)
                    payable += _add(book, first, c.id, "release", amount, ZERO, period, cur)
                    book.traces.append(
                        _trace(
                            first,
                            c.id,
                            "release",
                            [step("released", amount), step("transaction", row["transaction_id"])],
                            (f"transaction:{row['transaction_id']}",),
                            f"{fmt_amount(amount, cur, mode)} held on transaction "
                            f"{row['transaction_id']} is released: the cash was collected.",
                            period,
                        )
                    )
            for row in reversals.get((person, plan_id, c.id), []):
                payable += _clawback(book, first, c, row, cur, mode, period)
        guarantee = next(
            (
                ramp.guarantee
                for ramp in plan.ramp
                if ramp.period == first.ramp_period and ramp.guarantee is not None
            ),
            None,
        )
        if guarantee is not None:
            top = max(ZERO, guarantee - payable)
            top = quantize(top, cur, mode)
            if top:
                payable += _add(book, first, "guarantee", "guarantee", top, ZERO, period, cur)
            book.traces.append(
                _trace(
                    first,
                    "guarantee",
                    "ramp_guarantee",
                    [
                        step("ramp_period", first.ramp_period),
                        step("guarantee", guarantee),
                        step("payable_before", payable - top),
                        step("top_up", top),
                    ],
                    (f"assignment:{person}/{plan_id}",),
                    f"In ramp period {first.ramp_period} you are guaranteed "
                    f"{fmt_amount(guarantee, cur, mode)}; "
                    f"you earned {fmt_amount(payable - top, cur, mode)}, "
                    f"so the guarantee adds {fmt_amount(top, cur, mode)}.",
                    period,
                )
            )
        if plan.draw is not None:
            if person in draw_owner:
                raise InputError(
                    f"person {person} has draws on two plans: {draw_owner[person]}, {plan_id}"
                )
            draw_owner[person] = plan_id
            d = plan.draw
            outcome = settle_draw(
                payable,
                d.amount,
                d.type == "recoverable",
                balances.get(person, ZERO),
                d.max_recovery_per_period,
                cur,
                mode,
            )
            if outcome.top_up:
                _add(
                    book,
                    first,
                    "draw",
                    "draw",
                    quantize(outcome.top_up, cur, mode),
                    ZERO,
                    period,
                    cur,
                )
            if outcome.recovery:
                _add(
                    book,
                    first,
                    "draw",
                    "draw_recovery",
                    -quantize(outcome.recovery, cur, mode),
                    ZERO,
                    period,
                    cur,
                )
            if d.type == "recoverable":
                balances[person] = outcome.balance
            book.traces.append(
                _trace(
                    first,
                    "draw",
                    f"draw_{d.type}",
                    list(outcome.steps),
                    (f"draw_balance:{person}",),
                    outcome.text,
                    period,
                )
            )
    if reserves:
        left = ", ".join(sorted(f"{p}/{pl}/{c}" for p, pl, c in reserves))
        raise InputError(
            f"reserves: nothing to release them with in this run ({left}): the person has no "
            "segment on the plan this period, or the plan no such component"
        )
    if due:
        left = ", ".join(sorted(f"{p}/{pl}/{c}" for p, pl, c in due))
        raise InputError(
            f"instalments: nothing to pay them with in this run ({left}): the person has no "
            "segment on the plan this period, or the plan no such component"
        )
    return book, dict(sorted(balances.items()))


def _defer(
    book: Book,
    seg: Segment,
    c: Component,
    amount: Decimal,
    cur: str,
    mode: RoundingMode,
    period: Period,
) -> Decimal:
    """Defer all but the first instalment of a line's amount; return the (negative) deferral."""
    n = c.instalments or 1
    digits = exponent(cur)
    total = int(amount.scaleb(digits))
    parts = [instalment(total, n, k) for k in range(1, n + 1)]
    now = from_minor(parts[0], cur)
    deferred = now - amount
    shown = ", ".join(fmt_amount(from_minor(p, cur), cur, mode) for p in parts[1:])
    _add(book, seg, c.id, "deferred", deferred, ZERO, period, cur)
    book.traces.append(
        _trace(
            seg,
            c.id,
            "instalments",
            [
                step("total", amount),
                step("instalments", n),
                *(step(f"instalment_{k}", from_minor(p, cur)) for k, p in enumerate(parts, 1)),
                step("deferred", deferred),
            ],
            (),
            f"{fmt_amount(amount, cur, mode)} is paid in {n} instalments: "
            f"{fmt_amount(now, cur, mode)} now, then {shown} (the last takes the remainder); "
            f"{fmt_amount(-deferred, cur, mode)} is deferred.",
            period,
        )
    )
    return deferred


def _instalment(
    book: Book,
    seg: Segment,
    c: Component,
    row: Mapping[str, Any],
    cur: str,
    mode: RoundingMode,
    period: Period,
) -> Decimal:
    """Pay one instalment due this period of an amount earned earlier."""
    total, n, k = int(row["total_minor"]), int(row["periods"]), int(row["number"])
    try:
        amount = from_minor(instalment(total, n, k), cur)
    except MoneyError as exc:
        raise InputError(f"instalments: {seg.person_key}/{seg.plan_id}/{c.id}: {exc}") from exc
    earned_in = row["earned_period_id"]
    _add(book, seg, c.id, "instalment", amount, ZERO, period, cur)
    last = " (the last, with the remainder)" if k == n else ""
    book.traces.append(
        _trace(
            seg,
            c.id,
            "instalment",
            [
                step("total", from_minor(total, cur)),
                step("number", k, f"of {n}"),
                step("instalment", amount),
            ],
            (f"instalment:{seg.person_key}/{seg.plan_id}/{c.id}/{earned_in}",),
            f"Instalment {k} of {n}{last} of {fmt_amount(from_minor(total, cur), cur, mode)} "
            f"earned in {earned_in}: {fmt_amount(amount, cur, mode)}.",
            period,
        )
    )
    return amount


def earned_trace(
    seg: Segment,
    c: Component,
    o: Outcome,
    earned: Decimal,
    paid: Decimal,
    cur: str,
    mode: RoundingMode,
    period: Period,
    figures: str | None = None,
    periods_paid: tuple[str, ...] | None = None,
) -> Trace:
    """Return the trace of an earned line: the rule's steps, prior payments, rounding.

    ``periods_paid`` is set for a component settled to date: ``paid`` is then what was paid
    to date (in those earlier periods, and before in this one).
    """
    steps = list(o.steps)
    text = o.text
    if periods_paid is not None:
        steps += [
            step("earned_to_date", earned),
            step("paid_to_date", paid, ", ".join(periods_paid)),
            step("payable", earned - paid),
        ]
        text += windows.to_date_words(
            c,
            fmt_amount(earned, cur, mode),
            fmt_amount(paid, cur, mode),
            fmt_amount(earned - paid, cur, mode),
            periods_paid,
        )
    elif paid:
        steps += [step("paid_before", paid), step("payable", earned - paid)]
        text += (
            f" Already paid {fmt_amount(paid, cur, mode)}, "
            f"so {fmt_amount(earned - paid, cur, mode)} "
            "is payable now."
        )
    steps.append(step("rounded", earned, f"{mode} to {cur}"))
    return _trace(seg, c.id, c.type, steps, o.inputs, text, period, figures)


def _group_rows(
    frame: pd.DataFrame,
    order: Callable[[dict[str, Any]], Any] = lambda r: str(r["transaction_id"]),
) -> dict[tuple[str, str, str], list[dict[str, Any]]]:
    """Return a frame's rows by (person, plan, component), each group sorted by ``order``."""
    out: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    if len(frame) == 0:
        return out
    records = [{str(k): v for k, v in rec.items()} for rec in frame.to_dict("records")]
    records.sort(key=order)
    for rec in records:
        key = (str(rec["person_id"]), str(rec["plan_id"]), str(rec["component_id"]))
        out.setdefault(key, []).append(rec)
    return out


def _clawback(
    book: Book,
    seg: Segment,
    c: Component,
    row: Mapping[str, Any],
    cur: str,
    mode: RoundingMode,
    period: Period,
) -> Decimal:
    """Claw back a reversed credit at its original rate: inside a window, or by a scale."""
    credited = pd.Timestamp(row["credited_date"]).date()
    reversed_on = pd.Timestamp(row["reversed_date"]).date()
    days = (reversed_on - credited).days
    amount = from_e4(int(row["amount_e4"]))
    rate = to_decimal(row["rate"])
    tid = row["transaction_id"]
    steps = [
        step("reversed_amount", amount),
        step("original_rate", rate),
        step("days_after_credit", days),
    ]
    if c.clawback_scale:
        month = months_between(credited, reversed_on) + 1 if days >= 0 else None
        share = next(
            (s.share for s in c.clawback_scale if month is not None and month <= s.through_month),
            ZERO,
        )
        inside = share > 0
        steps += [step("months_after_credit", month), step("scale_share", share)]
        when = f"in month {month} after it was credited ({credited} to {reversed_on})"
        last = c.clawback_scale[-1].through_month
        outside = f"past the clawback scale (its last step ends with month {last})"
        if month is not None and share == 0 and month <= last:
            outside = "where the clawback scale claws back 0 %"
    else:
        window = c.clawback_window_days
        share = c.clawback_share
        inside = window is not None and 0 <= days <= window and share > 0
        steps += [step("window_days", window), step("share", share)]
        when = f"{days} days after it was credited"
        outside = f"outside the clawback window{'' if window is None else f' of {window} days'}"
        if window is not None and 0 <= days <= window:
            outside = "inside the window, where the share clawed back is 0 %"
    claw = quantize(clawback_amount(amount, rate, share), cur, mode) if inside else ZERO
    steps.append(step("clawback", claw))
    if inside and c.clawback_scale:
        text = (
            f"Transaction {tid} ({fmt_amount(amount, cur, mode)}) was reversed {when}: the "
            f"scale claws back {fmt_pct(share)} of the commission at its original rate of "
            f"{fmt_pct(rate)} = {fmt_amount(claw, cur, mode)}."
        )
    elif inside:
        part = f"{fmt_pct(share)} of {fmt_pct(rate)}" if share != ONE else fmt_pct(rate)
        text = (
            f"Transaction {tid} ({fmt_amount(amount, cur, mode)}) was reversed {when}, inside "
            f"the {c.clawback_window_days}-day window: {part} is clawed back = "
            f"{fmt_amount(claw, cur, mode)}."
        )
    else:
        text = f"Transaction {tid} was reversed {when}, {outside}: nothing is clawed back."
    if inside:
        _add(book, seg, c.id, "clawback", claw, ZERO, period, cur)
    book.traces.append(_trace(seg, c.id, "clawback", steps, (f"transaction:{tid}",), text, period))
    return claw


def _add(
    book: Book,
    seg: Segment,
    component_id: str,
    kind: str,
    earned: Decimal,
    paid: Decimal,
    period: Period,
    currency: str,
    attainment: Decimal | None = None,
    tier: int | None = None,
) -> Decimal:
    amount = earned - paid
    book.lines.append(
        PayoutLine(
            person_id=seg.person_key,
            plan_id=seg.plan_id,
            component_id=component_id,
            period_id=period.id,
            segment=seg.index,
            segment_start=seg.start,
            segment_end=seg.end,
            kind=kind,
            earned=earned,
            paid_before=paid,
            amount=amount,
            amount_minor=int(amount.scaleb(exponent(currency))),
            currency=currency,
            attainment=attainment,
            tier=tier,
        )
    )
    return amount


def _trace(
    seg: Segment,
    component_id: str,
    rule: str,
    steps: Sequence[Step],
    inputs: Iterable[str],
    text: str,
    period: Period,
    figures: str | None = None,
) -> Trace:
    span = f"{seg.start}..{seg.end}"
    used = (
        f"assignment:{seg.person_key}/{seg.plan_id}",
        f"timeline:{seg.person_key}/{span}",
        *inputs,
    )
    segment_steps = (
        step("segment", span, f"node {seg.node_id}, role {seg.role}"),
        step("proration_factor", seg.factor, f"allocation {seg.allocation}"),
    )
    return Trace(
        person_id=seg.person_key,
        plan_id=seg.plan_id,
        component_id=component_id,
        period_id=period.id,
        segment=seg.index,
        rule=rule,
        steps=(*segment_steps, *steps),
        inputs=used,
        text=text,
        figures=figures,
    )


# --------------------------------------------------------------------------- pool reserves

RELEASE_MONTHS: Final = {"year_end": 12, "quarter_end": 3}
RELEASE_WORDS: Final = {"year_end": "the fiscal year", "quarter_end": "the fiscal quarter"}


def releases_now(inputs: Inputs, reserve: Reserve) -> bool:
    """Return whether this period is the release period of ``reserve`` (it closes the block)."""
    return closes_fiscal(
        inputs.period.end, RELEASE_MONTHS[reserve.release], inputs.fiscal_year_start_month
    )


def hold_reserve(
    inputs: Inputs,
    book: Book,
    seg: Segment,
    c: Component,
    amount: Decimal,
    cur: str,
    mode: RoundingMode,
) -> Decimal:
    """Hold back the reserve share of a pool payout (a negative ``reserve`` line).

    What is paid now is rounded once; the reserve is the rest, so the two add up to the
    payout exactly. Nothing is held in the release period itself: it would be released now.
    """
    assert c.reserve is not None
    period, share = inputs.period, c.reserve.share
    until = RELEASE_WORDS[c.reserve.release]
    if releases_now(inputs, c.reserve) or amount <= 0:
        why = (
            f"this period closes {until}, so nothing of it is held back"
            if amount > 0
            else "there is nothing to hold back"
        )
        book.traces.append(
            _trace(
                seg,
                c.id,
                "reserve",
                [step("reserve_share", share), step("reserve", ZERO)],
                (),
                f"The pool holds back {fmt_pct(share)} in reserve until the end of {until}; {why}.",
                period,
            )
        )
        return ZERO
    now = quantize(mul(amount, ONE - share), cur, mode)
    held = amount - now
    _add(book, seg, c.id, "reserve", -held, ZERO, period, cur)
    book.traces.append(
        _trace(
            seg,
            c.id,
            "reserve",
            [
                step("payout", amount),
                step("reserve_share", share),
                step("paid_now", now),
                step("reserve", held, f"released at the end of {until}"),
            ],
            (),
            f"{fmt_pct(share)} of {fmt_amount(amount, cur, mode)} is held in reserve until the "
            f"end of {until}: {fmt_amount(held, cur, mode)} held, "
            f"{fmt_amount(now, cur, mode)} paid now.",
            period,
        )
    )
    return -held


def release_reserve(
    inputs: Inputs,
    book: Book,
    seg: Segment,
    c: Component,
    rows: Sequence[Mapping[str, Any]],
    cur: str,
    mode: RoundingMode,
) -> Decimal:
    """Release the reserves held back in earlier periods: exactly what was held (minor units)."""
    where = f"{seg.person_key}/{seg.plan_id}/{c.id}"
    if c.reserve is None:
        raise InputError(f"reserves: {where}: the component holds back no reserve")
    if not releases_now(inputs, c.reserve):
        raise InputError(
            f"reserves: {where}: released at the end of {RELEASE_WORDS[c.reserve.release]}, "
            f"which period {inputs.period.id} (to {inputs.period.end}) does not close"
        )
    parts = [(str(r["earned_period_id"]), int(r["amount_minor"])) for r in rows]
    if any(minor < 0 for _, minor in parts):
        raise InputError(f"reserves: {where}: a held reserve is never negative")
    total = from_minor(sum(minor for _, minor in parts), cur)
    _add(book, seg, c.id, "reserve_release", total, ZERO, inputs.period, cur)
    shown = " + ".join(
        f"{fmt_amount(from_minor(minor, cur), cur, mode)} from {pid}" for pid, minor in parts
    )
    book.traces.append(
        _trace(
            seg,
            c.id,
            "reserve_release",
            [
                *(step(f"reserve_{pid}", from_minor(minor, cur)) for pid, minor in parts),
                step("released", total),
            ],
            tuple(f"reserve:{where}/{pid}" for pid, _ in parts),
            f"The reserve held back is released at the end of "
            f"{RELEASE_WORDS[c.reserve.release]}: {shown} = {fmt_amount(total, cur, mode)}.",
            inputs.period,
        )
    )
    return total
