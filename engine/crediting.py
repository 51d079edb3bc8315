"""Crediting: transactions x crediting rules -> credits (vectorized, pure pandas/numpy).

Contract:

* A transactions frame has ``TRANSACTION_COLUMNS`` (money in int64 ten-thousandths,
  ``amount_e4``) plus any attribute columns, which are carried onto the credits.
* Every function returns a credits frame with ``CREDIT_OUTPUT_COLUMNS`` (and the attributes):
  ``kind`` is ``direct``, ``split``, ``rollup`` or ``attribution``; ``share_ppm`` is the share
  of the transaction in parts per million; ``credit_id`` is ``"<rule>:<transaction>:<person>"``,
  so ids do not depend on row order.
* Shares and amounts are allocated by largest remainder (:func:`engine.money.allocate_groups`):
  the parts of a transaction sum exactly to what was allocated. Direct and split shares of one
  transaction must sum to <= 100 % (:func:`check_direct_shares`); attribution shares sum to
  exactly 100 %.
* Roll-up credits are *indirect*: they give managers credit for their team's deals and are
  excluded from every team (node) total, so nothing is counted twice. They are **totals**, not
  copies of credits: one row per (manager, day, transaction type, kept attributes) with
  ``credits_n``, the number of credits summed (:func:`rollup_totals`); who is behind a total
  is computed when it is read (:func:`rollups_reaching`).
* Arbitration (:func:`credit_transactions`): rules compete within a family (revenue: direct,
  split, territory; attribution; roll-up); the first by order claims a transaction and a later
  match is a :class:`Conflict`. A rule may transform what it credits (:class:`Transform`): only
  the amount above a per-account baseline, and a multiplier per credit; such credits carry
  ``gross_e4``, ``baseline_e4`` and ``multiplier`` (``TRANSFORM_COLUMNS``).
* Attribution models, for the touches of one transaction ordered by time (then person id):
  ``first_touch`` / ``last_touch`` 100 % to one touch; ``linear`` equal; ``u_shaped`` 40 % first,
  40 % last, 20 % shared by the touches between (two touches: 50/50); ``w_shaped`` 30 % each to
  the first, the middle key touch (index ``(n - 1) // 2``) and the last, 10 % shared by the
  other touches (three touches: a third each; two: 50/50); ``custom`` weights
  ``{first, middle, last}`` normalized the same way as u_shaped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from functools import reduce
from math import lcm
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from engine.money import allocate_groups, scale_e4, to_e4

IntArray = npt.NDArray[np.int64]

TRANSACTION_COLUMNS: Final = ("transaction_id", "owner_id", "date", "amount_e4", "transaction_type")
CREDIT_OUTPUT_COLUMNS: Final = (
    "credit_id",
    "transaction_id",
    "person_id",
    "date",
    "amount_e4",
    "transaction_type",
    "kind",
    "rule_id",
    "share_ppm",
)
PPM: Final = 1_000_000
MODELS: Final = ("first_touch", "last_touch", "linear", "u_shaped", "w_shaped", "custom")


class CreditingError(ValueError):
    """Raised when crediting rules over-credit a transaction or are malformed."""


def _attributes(transactions: pd.DataFrame) -> list[str]:
    return [c for c in transactions.columns if c not in TRANSACTION_COLUMNS]


def _finish(frame: pd.DataFrame, rule_id: str, kind: str, attrs: Sequence[str]) -> pd.DataFrame:
    out = frame.assign(
        kind=kind,
        rule_id=rule_id,
        credit_id=rule_id
        + ":"
        + frame["transaction_id"].astype(str)
        + ":"
        + frame["person_id"].astype(str),
    )
    return out[[*CREDIT_OUTPUT_COLUMNS, *attrs]].reset_index(drop=True)


def credit_direct(transactions: pd.DataFrame, *, rule_id: str = "direct") -> pd.DataFrame:
    """Return one direct credit of 100 % per transaction to its owner."""
    attrs = _attributes(transactions)
    frame = transactions.rename(columns={"owner_id": "person_id"}).assign(share_ppm=PPM)
    return _finish(frame, rule_id, "direct", attrs)


def credit_splits(
    transactions: pd.DataFrame, splits: pd.DataFrame, *, rule_id: str = "split"
) -> pd.DataFrame:
    """Return split credits: ``splits`` (transaction_id, person_id, share_ppm) per transaction.

    Shares of one transaction may sum to less than 100 % (the rest is not credited) but not
    more; amounts are allocated by largest remainder against the uncredited rest, so credited
    parts plus the rest make exactly the transaction amount.
    """
    attrs = _attributes(transactions)
    if (splits["share_ppm"] < 0).any():
        raise CreditingError(f"rule {rule_id}: split shares must be >= 0")
    totals = splits.groupby("transaction_id", sort=False)["share_ppm"].sum()
    over = totals[totals > PPM]
    if len(over):
        ids = ", ".join(sorted(str(t) for t in over.index[:10]))
        raise CreditingError(f"rule {rule_id}: split shares exceed 100 % on transaction(s) {ids}")
    tx = transactions.drop(columns=["owner_id"])
    rows = splits[["transaction_id", "person_id", "share_ppm"]].merge(tx, on="transaction_id")
    rest = totals[totals < PPM]
    phantom = pd.DataFrame(
        {"transaction_id": rest.index, "person_id": None, "share_ppm": PPM - rest.to_numpy()}
    ).merge(tx, on="transaction_id")
    both = pd.concat([rows.assign(_real=True), phantom.assign(_real=False)], ignore_index=True)
    both = both.sort_values(
        ["transaction_id", "_real", "person_id"],
        ascending=[True, False, True],
        kind="stable",
        na_position="last",
    )
    codes = pd.factorize(both["transaction_id"])[0].astype(np.int64)
    both["amount_e4"] = allocate_groups(
        both["amount_e4"].to_numpy(dtype=np.int64),
        both["share_ppm"].to_numpy(dtype=np.int64),
        codes,
    )
    real = both[both["_real"].to_numpy(dtype=bool)]
    return _finish(real, rule_id, "split", attrs)


def check_direct_shares(credits: pd.DataFrame) -> None:
    """Raise CreditingError if direct + split shares of any transaction exceed 100 %."""
    direct = credits["kind"].isin(("direct", "split")).to_numpy()
    ids, shares = credits["transaction_id"].to_numpy(), credits["share_ppm"].to_numpy()
    if not direct.all():  # the two columns it sums are filtered, not every column
        ids, shares = ids[direct], shares[direct]
    totals = pd.Series(shares).groupby(ids, sort=True).sum()
    over = totals[totals > PPM]
    if len(over):
        listed = ", ".join(str(t) for t in over.index[:10])
        raise CreditingError(f"direct and split shares exceed 100 % on transaction(s) {listed}")


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _manager_chains(nodes: pd.DataFrame) -> pd.DataFrame:
    """Return (node_id, manager_id, level) for every node and each manager above or at it."""
    parent = dict(zip(nodes["node_id"].astype(str), nodes["parent_id"], strict=True))
    manager = dict(zip(nodes["node_id"].astype(str), nodes["manager_id"], strict=True))
    rows = []
    for node in sorted(parent):
        level = 0
        current: object = node
        seen: set[str] = set()
        while not _missing(current) and str(current) in parent:
            key = str(current)
            if key in seen:
                raise CreditingError(f"hierarchy has a cycle through node {key}")
            seen.add(key)
            mgr = manager.get(key)
            if not _missing(mgr):
                rows.append((node, str(mgr), level))
            current = parent[key]
            level += 1
    return pd.DataFrame(rows, columns=["node_id", "manager_id", "level"])


def credit_territories(
    transactions: pd.DataFrame,
    territories: pd.DataFrame,
    memberships: pd.DataFrame | None = None,
    *,
    attribute: str,
    rule_id: str = "territory",
) -> pd.DataFrame:
    """Return credits by attribute value: ``territories`` maps value -> person_id or node_id.

    A value mapped to a person credits that person 100 % (``direct``); mapped to a node it is
    split equally among the node's members (``split``, largest remainder).
    """
    attrs = _attributes(transactions)
    targets = []
    if "person_id" in territories.columns:
        rows = territories[territories["person_id"].notna()]
        targets.append(rows[["value", "person_id"]].astype(str))
    if "node_id" in territories.columns:
        if memberships is None:
            raise CreditingError(f"rule {rule_id}: node territories need memberships")
        rows = territories[territories["node_id"].notna()]
        by_node = (
            rows[["value", "node_id"]]
            .astype(str)
            .merge(memberships[["person_id", "node_id"]].astype(str), on="node_id")
        )
        targets.append(by_node[["value", "person_id"]])
    target = pd.concat(targets, ignore_index=True).drop_duplicates()
    tx = transactions.assign(value=transactions[attribute].astype(str)).drop(columns=["owner_id"])
    rows = tx.merge(target, on="value").drop(columns=["value"])
    rows = rows.sort_values(["transaction_id", "person_id"], kind="stable")
    codes = pd.factorize(rows["transaction_id"])[0].astype(np.int64)
    ones = np.ones(len(rows), dtype=np.int64)
    rows["share_ppm"] = allocate_groups(np.full(len(rows), PPM, dtype=np.int64), ones, codes)
    rows["amount_e4"] = allocate_groups(rows["amount_e4"].to_numpy(dtype=np.int64), ones, codes)
    sizes = rows.groupby("transaction_id")["person_id"].transform("size").to_numpy()
    direct = _finish(rows[sizes == 1], rule_id, "direct", attrs)
    split = _finish(rows[sizes > 1], rule_id, "split", attrs)
    return pd.concat([direct, split], ignore_index=True)


def attribution_weights(
    model: str, n: int, custom: Mapping[str, Fraction] | None = None
) -> list[Fraction]:
    """Return the exact weights of ``n`` ordered touches under ``model`` (they sum to 1)."""
    if n < 1:
        raise CreditingError("attribution needs at least one touch")
    if model not in MODELS:
        raise CreditingError(f"unknown attribution model {model!r}")
    if n == 1:
        return [Fraction(1)]
    if model == "first_touch":
        return [Fraction(1)] + [Fraction(0)] * (n - 1)
    if model == "last_touch":
        return [Fraction(0)] * (n - 1) + [Fraction(1)]
    if model == "linear":
        return [Fraction(1, n)] * n
    if model == "w_shaped":
        if n <= 3:
            return [Fraction(1, n)] * n
        key = (n - 1) // 2
        rest = Fraction(1, 10) / (n - 3)
        return [Fraction(3, 10) if i in (0, key, n - 1) else rest for i in range(n)]
    if model == "u_shaped":
        first, middle, last = Fraction(2, 5), Fraction(1, 5), Fraction(2, 5)
    else:
        weights = custom or {}
        first = Fraction(weights.get("first", 0))
        middle = Fraction(weights.get("middle", 0))
        last = Fraction(weights.get("last", 0))
    if n == 2:
        ends = first + last
        return [first / ends, last / ends] if ends else [Fraction(1, 2)] * 2
    total = first + middle + last
    if total == 0:
        raise CreditingError("custom attribution weights must not all be zero")
    inner = middle / (n - 2) / total
    return [first / total] + [inner] * (n - 2) + [last / total]


def credit_attribution(
    transactions: pd.DataFrame,
    touches: pd.DataFrame,
    *,
    model: str,
    custom: Mapping[str, Fraction] | None = None,
    rule_id: str = "attribution",
) -> pd.DataFrame:
    """Return multi-touch attribution credits; shares per transaction sum to exactly 100 %.

    ``touches`` has transaction_id, person_id and touched_at (anything orderable). Touches are
    ordered by (touched_at, person_id); one person's several touches add up into one credit.
    """
    attrs = _attributes(transactions)
    t = touches.sort_values(["transaction_id", "touched_at", "person_id"], kind="stable")
    t = t.reset_index(drop=True)
    position = t.groupby("transaction_id", sort=False).cumcount().to_numpy()
    size = t.groupby("transaction_id", sort=False)["person_id"].transform("size").to_numpy()
    weights = np.zeros(len(t), dtype=np.int64)
    for n in np.unique(size):
        exact = attribution_weights(model, int(n), custom)
        scale = reduce(lcm, (w.denominator for w in exact), 1)
        ints = np.array([int(w * scale) for w in exact], dtype=np.int64)
        sel = size == n
        weights[sel] = ints[position[sel]]
    tx = transactions.drop(columns=["owner_id"])
    rows = t.assign(_w=weights, _pos=position).merge(tx, on="transaction_id")
    rows = rows.sort_values(["transaction_id", "_pos"], kind="stable")
    codes = pd.factorize(rows["transaction_id"])[0].astype(np.int64)
    w = rows["_w"].to_numpy(dtype=np.int64)
    rows["share_ppm"] = allocate_groups(np.full(len(rows), PPM, dtype=np.int64), w, codes)
    rows["amount_e4"] = allocate_groups(rows["amount_e4"].to_numpy(dtype=np.int64), w, codes)
    keys = ["transaction_id", "person_id"]
    summed = rows.groupby(keys, sort=True, as_index=False).agg(
        share_ppm=("share_ppm", "sum"),
        amount_e4=("amount_e4", "sum"),
        _w=("_w", "sum"),
    )
    summed = summed[summed["_w"] > 0].merge(tx.drop(columns=["amount_e4"]), on="transaction_id")
    return _finish(summed, rule_id, "attribution", attrs)


# --------------------------------------------------------------------------- roll-ups
#
# Roll up totals, not credits: a manager's roll-up is the sum of the credits of the people
# below them, so the credits are first summed per (person, day, kept columns) and only those
# totals are joined to the (person, manager) closure, then summed per manager. At ICM-1M with a
# 5-level org that is ~10k rows out instead of one row per (credit x manager), 6M.

ROLLUP_KEY_COLUMNS: Final = ("date", "transaction_type")
"""Columns a roll-up total always keeps; ``keep`` adds the attributes measures filter on."""


def rollup_pairs(memberships: pd.DataFrame, nodes: pd.DataFrame) -> pd.DataFrame:
    """Return the distinct (person_id, manager_id, level) pairs: every manager above each member.

    ``memberships`` maps person_id -> node_id; ``nodes`` has node_id, parent_id, manager_id.
    ``level`` is the nearest level at which the manager is found (0: the member's own node).
    A person is never their own manager's pair (a manager gets no roll-up of their own
    credits), and a manager of several levels above someone appears once.
    """
    chains = _manager_chains(nodes)
    member = memberships[["person_id", "node_id"]].astype({"person_id": str, "node_id": str})
    pairs = member.merge(chains, on="node_id")[["person_id", "manager_id", "level"]]
    pairs = pairs[pairs["manager_id"] != pairs["person_id"]]
    pairs = pairs.sort_values(["person_id", "manager_id", "level"], kind="stable")
    return pairs.drop_duplicates(["person_id", "manager_id"]).reset_index(drop=True)


def _key_codes(frame: pd.DataFrame, keys: Sequence[str]) -> tuple[IntArray, IntArray]:
    """Return (a dense int64 code per row for the tuple of ``keys``, the first row of each)."""
    code = np.zeros(len(frame), dtype=np.int64)
    size = 1
    for key in keys:
        part, uniques = pd.factorize(frame[key], use_na_sentinel=False)
        code = code * np.int64(len(uniques)) + part.astype(np.int64)
        size *= len(uniques)
        if size > 4 * len(frame) + 1024:  # keep it dense, so it never overflows
            code, seen = pd.factorize(code)
            code, size = code.astype(np.int64), len(seen)
    present = np.zeros(size, dtype=bool)
    present[code] = True
    if not present.all():
        remap = np.cumsum(present) - 1
        code, size = remap[code].astype(np.int64), int(present.sum())
    first = np.empty(size, dtype=np.int64)
    first[code[::-1]] = np.arange(len(code) - 1, -1, -1, dtype=np.int64)
    return code, first


def _dense_sums(
    codes: IntArray, size: int, values: Sequence[IntArray]
) -> tuple[IntArray, list[IntArray]]:
    """Return (the codes that occur, ascending, and each column of ``values`` summed per code).

    Exact: float64 bin counts are used only when every partial sum stays below 2**53 (all are
    integers then, so no addition rounds); otherwise exact int64 ``np.add.at``.
    """
    if size > 4 * len(codes) + 1024:
        codes, uniques = pd.factorize(codes, sort=True)
        codes, size = codes.astype(np.int64), len(uniques)
        labels = np.asarray(uniques, dtype=np.int64)
    else:
        labels = np.arange(size, dtype=np.int64)
    counts = np.bincount(codes, minlength=size)
    out = []
    for v in values:
        if len(v) and int(np.abs(v).sum(dtype=np.float64)) < 2**52:
            out.append(np.rint(np.bincount(codes, weights=v, minlength=size)).astype(np.int64))
        else:
            acc = np.zeros(size, dtype=np.int64)
            np.add.at(acc, codes, v)
            out.append(acc)
    present = counts > 0
    return labels[present], [o[present] for o in out]


def rollup_totals(
    credits: pd.DataFrame,
    pairs: pd.DataFrame,
    *,
    rule_id: str = "rollup",
    keep: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Return one roll-up total per (manager, day, transaction type, kept columns).

    ``credits`` are the revenue credits (roll-ups among them are ignored: roll-ups of roll-ups
    are not made; rows already summed per person may say how many credits they stand for in
    ``credits_n``); ``pairs`` come from :func:`rollup_pairs`. ``keep`` names the further
    columns a total keeps (default: every attribute column of ``credits``), so measure filters
    on them select exactly the credits they would have selected one by one. Rows have
    ``CREDIT_OUTPUT_COLUMNS`` (kind ``rollup``, ``share_ppm`` 0, ``transaction_id`` equal to
    the ``credit_id`` ``"<rule>:<manager>:<day>:<n>"``) plus the kept columns and
    ``credits_n``, the number of credits a total stands for (what ``count`` measures count).

    Column-wise: the credits are summed per (person, key) first, those sums are repeated once
    per manager above their person (the closure, in CSR form) and summed per (manager, key).
    """
    indirect = (credits["kind"] == "rollup").to_numpy()
    base = credits[~indirect] if indirect.any() else credits
    if keep is None:
        keep = [
            c
            for c in base.columns
            if c not in CREDIT_OUTPUT_COLUMNS and c not in TRANSFORM_COLUMNS and c != "credits_n"
        ]
    keys = [*ROLLUP_KEY_COLUMNS, *keep]
    columns = [*CREDIT_OUTPUT_COLUMNS, *keep, "credits_n"]
    if base.empty or pairs.empty:
        return pd.DataFrame(columns=columns)
    amount = base["amount_e4"].to_numpy(dtype=np.int64)
    n = (
        np.asarray(base["credits_n"].fillna(1), dtype=np.int64)
        if "credits_n" in base.columns
        else np.ones(len(base), dtype=np.int64)
    )
    # 1. per (person, key): exact int64 sums and counts.
    pcode, people = pd.factorize(base["person_id"])
    key, first = _key_codes(base, keys)
    nkey = np.int64(len(first))
    groups, (g_amount, g_n) = _dense_sums(
        pcode.astype(np.int64) * nkey + key, len(people) * int(nkey), [amount, n]
    )
    g_person, g_key = groups // nkey, groups % nkey
    # 2. the closure as CSR: for each person code, the managers above them.
    person_index = pd.Index(pd.Index(people).astype(str))
    pp = person_index.get_indexer(pairs["person_id"].astype(str))
    pm = pairs["manager_id"].astype(str).to_numpy()[pp >= 0]
    pp = pp[pp >= 0].astype(np.int64)
    order = np.argsort(pp, kind="stable")
    pp, pm = pp[order], pm[order]
    mcode, managers = pd.factorize(pm)
    per_person = np.bincount(pp, minlength=len(people)).astype(np.int64)
    start = np.r_[0, np.cumsum(per_person)[:-1]].astype(np.int64)
    reps = per_person[g_person]
    total = int(reps.sum())
    if total == 0:
        return pd.DataFrame(columns=columns)
    row = np.repeat(np.arange(len(groups), dtype=np.int64), reps)
    offset = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(reps) - reps, reps)
    manager = mcode.astype(np.int64)[np.repeat(start[g_person], reps) + offset]
    # 3. per (manager, key).
    out_codes, (o_amount, o_n) = _dense_sums(
        manager * nkey + g_key[row], len(managers) * int(nkey), [g_amount[row], g_n[row]]
    )
    o_manager, o_key = out_codes // nkey, out_codes % nkey
    reps_rows = first[o_key]
    totals = pd.DataFrame({k: base[k].to_numpy()[reps_rows] for k in keys})
    totals["person_id"] = np.asarray(managers, dtype=object)[o_manager]
    totals["amount_e4"] = o_amount.astype(np.int64)
    totals["credits_n"] = o_n.astype(np.int64)
    totals["_day"] = totals["date"].astype(str)
    order_by = ["person_id", "_day", "transaction_type", *keep]
    totals = totals.sort_values(order_by, kind="stable", na_position="last").reset_index(drop=True)
    ordinal = totals.groupby(["person_id", "_day"], sort=False).cumcount().astype(str)
    totals["credit_id"] = (
        rule_id + ":" + totals["person_id"].astype(str) + ":" + totals["_day"] + ":" + ordinal
    )
    totals = totals.assign(
        transaction_id=totals["credit_id"], kind="rollup", rule_id=rule_id, share_ppm=0
    )
    return totals[columns]


def credit_rollups(
    credits: pd.DataFrame,
    memberships: pd.DataFrame,
    nodes: pd.DataFrame,
    *,
    rule_id: str = "rollup",
    keep: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Return the roll-up totals of ``credits`` to every manager above each credited person.

    :func:`rollup_pairs` then :func:`rollup_totals`: one row per (manager, day, transaction
    type, kept attributes), never one per (credit x manager).
    """
    pairs = rollup_pairs(memberships, nodes)
    return rollup_totals(credits, pairs, rule_id=rule_id, keep=keep)


def rollups_reaching(credits: pd.DataFrame, pairs: pd.DataFrame, manager_id: str) -> pd.DataFrame:
    """Return the credits whose roll-up reached ``manager_id`` ("whose credits reached me").

    The drill-down behind a roll-up total, computed when it is read: the revenue credits of
    every person ``pairs`` puts below the manager, with that person's ``level``.
    """
    below = pairs[pairs["manager_id"].astype(str) == str(manager_id)]
    base = credits[credits["kind"] != "rollup"]
    picked = base.assign(_person=base["person_id"].astype(str)).merge(
        below[["person_id", "level"]].rename(columns={"person_id": "_person"}), on="_person"
    )
    return picked.drop(columns=["_person"]).reset_index(drop=True)


# --------------------------------------------------------------------------- transforms
#
# A crediting rule may transform what it credits: only the amount above a per-account
# baseline (a run rate, the prior contract value), and a multiplier on the credit (1.25 on a
# strategic product, 0.5 on a renewal). The baseline is taken off each transaction's amount
# before the rule shares it out; the multiplier scales each credit after. Both are carried on
# the credit (``baseline_e4``, ``multiplier``) so the trace and the credit explorer can say it.

TRANSFORM_COLUMNS: Final = ("gross_e4", "baseline_e4", "multiplier")
"""Columns a rule with a transform adds to its credits: the transaction's amount before the
baseline, the baseline taken off (0 when none) and the factor applied ("1" when none)."""


@dataclass(frozen=True, slots=True)
class Multiplier:
    """A factor on the credits of the transactions that match (empty conditions: every one)."""

    factor: Decimal
    transaction_types: tuple[str, ...] = ()
    attributes: tuple[tuple[str, tuple[str, ...]], ...] = ()
    label: str = ""

    def matches(self, transactions: pd.DataFrame) -> npt.NDArray[np.bool_]:
        """Return which rows of ``transactions`` this multiplier applies to."""
        mask = np.ones(len(transactions), dtype=bool)
        if self.transaction_types:
            mask &= transactions["transaction_type"].isin(self.transaction_types).to_numpy()
        for key, values in self.attributes:
            if key not in transactions.columns:
                return np.zeros(len(transactions), dtype=bool)
            mask &= transactions[key].astype(str).isin(values).to_numpy()
        return mask


@dataclass(frozen=True, slots=True)
class Baseline:
    """Credit only the amount above a baseline looked up by an attribute's value (per account).

    ``amounts_e4`` maps the attribute's value to its baseline in ten-thousandths; a value not
    listed has ``default_e4``. A transaction at or below its baseline credits nothing.
    """

    attribute: str
    amounts_e4: tuple[tuple[str, int], ...]
    default_e4: int = 0
    label: str = "baseline"

    def of(self, transactions: pd.DataFrame) -> npt.NDArray[np.int64]:
        """Return each transaction's baseline in ten-thousandths."""
        if self.attribute not in transactions.columns:
            return np.full(len(transactions), self.default_e4, dtype=np.int64)
        table = dict(self.amounts_e4)
        values = transactions[self.attribute].astype(str).map(table)
        return np.asarray(values.fillna(self.default_e4), dtype=np.int64)


@dataclass(frozen=True, slots=True)
class Transform:
    """What a rule does to the amounts it credits (none by default)."""

    baseline: Baseline | None = None
    multipliers: tuple[Multiplier, ...] = ()

    @property
    def is_identity(self) -> bool:
        """Return whether the transform changes nothing."""
        return self.baseline is None and not self.multipliers


NO_TRANSFORM: Final = Transform()


def apply_baseline(
    transactions: pd.DataFrame, transform: Transform
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (transactions with ``amount_e4`` above their baseline, per-transaction figures).

    The figures frame has transaction_id, gross_e4 and baseline_e4. Amounts at or below the
    baseline become 0 (nothing is credited); without a baseline nothing changes.
    """
    gross = transactions["amount_e4"].to_numpy(dtype=np.int64)
    if transform.baseline is None:
        base = np.zeros(len(transactions), dtype=np.int64)
        above = gross
    else:
        base = transform.baseline.of(transactions)
        above = np.where(gross > base, gross - base, 0).astype(np.int64)
    figures = pd.DataFrame(
        {
            "transaction_id": transactions["transaction_id"].to_numpy(),
            "gross_e4": gross,
            "baseline_e4": base,
        }
    )
    return transactions.assign(amount_e4=above), figures


def apply_multipliers(
    credits: pd.DataFrame, transactions: pd.DataFrame, transform: Transform
) -> pd.DataFrame:
    """Return ``credits`` with each amount times the first multiplier its transaction matches.

    Adds ``multiplier`` (the factor as text, "1" when none applied); shares are unchanged.
    Rounding is half-even to the ten-thousandth (:func:`engine.money.scale_e4`).
    """
    factors = np.full(len(transactions), "1", dtype=object)
    chosen = np.zeros(len(transactions), dtype=bool)
    for m in transform.multipliers:
        hit = m.matches(transactions) & ~chosen
        factors[hit] = str(m.factor)
        chosen |= hit
    by_tx = dict(zip(transactions["transaction_id"].tolist(), factors.tolist(), strict=True))
    out = credits.assign(multiplier=credits["transaction_id"].map(by_tx).fillna("1"))
    amounts = out["amount_e4"].to_numpy(dtype=np.int64).copy()
    for factor in sorted(set(out["multiplier"].tolist()) - {"1"}):
        sel = (out["multiplier"] == factor).to_numpy()
        amounts[sel] = scale_e4(amounts[sel], Decimal(factor))
    out["amount_e4"] = amounts
    return out


# --------------------------------------------------------------------------- arbitration

FAMILIES: Final[Mapping[str, str]] = {
    "direct": "revenue",
    "split": "revenue",
    "territory": "revenue",
    "attribution": "attribution",
    "rollup": "rollup",
}
RULE_KINDS: Final = tuple(FAMILIES)


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """One crediting rule as the engine applies it (the apps build it from their rule rows).

    Rules are applied in the order given (the caller sorts by priority). Within a family
    (:data:`FAMILIES`) the first rule that matches a transaction claims it; any later rule of
    the family that also matches it is a :class:`Conflict`, and credits nothing for it.
    """

    id: str
    kind: str
    name: str = ""
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    transaction_kinds: tuple[str, ...] = ()
    transform: Transform = NO_TRANSFORM
    model: str = "linear"
    weights: tuple[tuple[str, Fraction], ...] = ()
    attribute: str = "region"
    keep: tuple[str, ...] | None = None
    """Roll-ups: the attribute columns a total keeps (None: every attribute column)."""

    @property
    def family(self) -> str:
        """Return the rule's family: revenue, attribution or rollup."""
        return FAMILIES[self.kind]

    @property
    def label(self) -> str:
        """Return the rule's name, or its id."""
        return self.name or self.id


@dataclass(frozen=True, slots=True)
class RuleData:
    """What one rule reads besides the transactions (each kind uses its own fields).

    split: ``splits`` (transaction_id, person_id, share_ppm); attribution: ``touches``
    (transaction_id, person_id, touched_at); territory: ``territories`` (value, person_id
    and/or node_id) and ``members`` (person_id, node_id, optionally ``month``: the first day
    of the month the membership holds in); rollup: ``orgs`` (month or None for every month ->
    (memberships, nodes)).
    """

    splits: pd.DataFrame | None = None
    touches: pd.DataFrame | None = None
    territories: pd.DataFrame | None = None
    members: pd.DataFrame | None = None
    orgs: Mapping[dt.date | None, tuple[pd.DataFrame, pd.DataFrame]] | None = None


@dataclass(frozen=True, slots=True)
class Conflict:
    """A rule matched a transaction its family had already given to an earlier rule."""

    transaction_id: Any
    claimed_by: str
    also_matched: str


@dataclass(frozen=True)
class Credited:
    """What :func:`credit_transactions` returns: the credits and the rules' conflicts."""

    credits: pd.DataFrame
    conflicts: tuple[Conflict, ...]


def rule_in_force(rule: RuleSpec, frame: pd.DataFrame) -> npt.NDArray[np.bool_]:
    """Return which rows of ``frame`` (date, transaction_type) ``rule`` is in force for."""
    mask = np.ones(len(frame), dtype=bool)
    if rule.valid_from is not None or rule.valid_to is not None:
        days = frame["date"]
        if rule.valid_from is not None:
            mask &= (days >= rule.valid_from).to_numpy()
        if rule.valid_to is not None:
            mask &= (days < rule.valid_to).to_numpy()
    if rule.transaction_kinds:
        mask &= frame["transaction_type"].isin(rule.transaction_kinds).to_numpy()
    return mask


def _matching(rule: RuleSpec, frame: pd.DataFrame, data: RuleData) -> pd.DataFrame:
    """Return the transactions of ``frame`` that ``rule`` would credit."""
    candidates = frame[rule_in_force(rule, frame)]
    if rule.kind == "direct":
        owner = candidates["owner_id"]
        return candidates[owner.notna() & (owner.astype(str) != "")]
    if rule.kind in ("split", "attribution"):
        given = data.splits if rule.kind == "split" else data.touches
        if given is None:
            return candidates.iloc[0:0]
        return candidates[candidates["transaction_id"].isin(given["transaction_id"])]
    if rule.kind == "territory":
        if data.territories is None or rule.attribute not in candidates.columns:
            return candidates.iloc[0:0]
        values = set(data.territories["value"].astype(str))
        return candidates[candidates[rule.attribute].astype(str).isin(values)]
    raise CreditingError(f"rule {rule.label}: unknown kind {rule.kind!r}")


def _month(day: object) -> dt.date:
    assert isinstance(day, dt.date)
    return day.replace(day=1)


def _credit_one(rule: RuleSpec, fresh: pd.DataFrame, data: RuleData) -> pd.DataFrame:
    """Return the credits ``rule`` gives the transactions it claimed (before multipliers)."""
    if rule.kind == "direct":
        return credit_direct(fresh, rule_id=rule.id)
    ids = fresh["transaction_id"]
    if rule.kind == "split":
        assert data.splits is not None
        return credit_splits(
            fresh, data.splits[data.splits["transaction_id"].isin(ids)], rule_id=rule.id
        )
    if rule.kind == "attribution":
        assert data.touches is not None
        touches = data.touches[data.touches["transaction_id"].isin(ids)]
        return credit_attribution(
            fresh,
            touches[["transaction_id", "person_id", "touched_at"]],
            model=rule.model,
            custom=dict(rule.weights) or None,
            rule_id=rule.id,
        )
    assert data.territories is not None
    members = data.members
    if members is None or "month" not in members.columns:
        return credit_territories(
            fresh, data.territories, members, attribute=rule.attribute, rule_id=rule.id
        )
    parts = []
    months = fresh["date"].map(_month)
    for month, group in fresh.groupby(months, sort=True):
        in_month = members[members["month"] == month][["person_id", "node_id"]]
        parts.append(
            credit_territories(
                group, data.territories, in_month, attribute=rule.attribute, rule_id=rule.id
            )
        )
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def credit_transactions(
    transactions: pd.DataFrame,
    rules: Sequence[RuleSpec],
    data: Mapping[str, RuleData] | None = None,
) -> Credited:
    """Return the credits ``rules`` give ``transactions``, and the conflicts between rules.

    The one crediting arbitration (production and the golden cases both call it): for each
    family, rules in the order given claim the transactions they match and are not yet
    claimed; a later match is a conflict. A claimed transaction's amount is first reduced to
    what lies above the rule's baseline, then shared out by the rule, then each credit is
    multiplied. Direct and split shares of a transaction must sum to <= 100 %. Roll-up rules
    come last and roll up the revenue credits (:func:`credit_rollups`), using the org of the
    credit's month when ``orgs`` is keyed by month.
    """
    data = data or {}
    none = RuleData()
    attrs = _attributes(transactions)
    parts: list[pd.DataFrame] = []
    conflicts: list[Conflict] = []
    claimed: dict[str, dict[Any, str]] = {}
    for rule in rules:
        if rule.kind == "rollup":
            continue
        rd = data.get(rule.id, none)
        candidates = _matching(rule, transactions, rd)
        taken = claimed.setdefault(rule.family, {})
        ids = candidates["transaction_id"].tolist()
        conflicts.extend(Conflict(t, taken[t], rule.label) for t in ids if t in taken)
        fresh = candidates[[t not in taken for t in ids]] if taken else candidates
        if fresh.empty:
            continue
        taken.update(dict.fromkeys(fresh["transaction_id"].tolist(), rule.label))
        transform = rule.transform
        if transform.baseline is not None:
            fresh, figures = apply_baseline(fresh, transform)
        part = _credit_one(rule, fresh, rd)
        if part.empty:
            continue
        if transform.baseline is not None:
            part = part.merge(figures, on="transaction_id", how="left")
            part = part[part["amount_e4"].to_numpy(dtype=np.int64) != 0]
        if transform.multipliers:
            part = apply_multipliers(part, fresh, transform)
        parts.append(part.reset_index(drop=True))
    frames = [p for p in parts if not p.empty]
    base = pd.concat(frames, ignore_index=True) if frames else _empty_credits(attrs)
    if not base.empty:
        check_direct_shares(base)
    if any(c in base.columns for c in TRANSFORM_COLUMNS):
        base = _fill_transform_columns(base)
    revenue_ids = {r.id for r in rules if r.family == "revenue"}
    revenue = base[base["rule_id"].isin(revenue_ids)] if len(base) else base
    out = [base] if len(base) else []
    for rule in rules:
        if rule.kind != "rollup" or revenue.empty:
            continue
        orgs = data.get(rule.id, none).orgs or {}
        scoped = revenue[rule_in_force(rule, revenue)]
        for month, (memberships, nodes) in sorted(orgs.items(), key=lambda kv: str(kv[0])):
            group = scoped if month is None else scoped[scoped["date"].map(_month) == month]
            if group.empty or memberships.empty:
                continue
            keep = rule.keep if rule.keep is not None else [c for c in attrs if c in group.columns]
            part = credit_rollups(
                group.drop(columns=[c for c in TRANSFORM_COLUMNS if c in group.columns]),
                memberships,
                nodes,
                rule_id=rule.id,
                keep=keep,
            )
            if not part.empty:
                out.append(part)
    credits = pd.concat(out, ignore_index=True) if out else _empty_credits(attrs)
    return Credited(credits, tuple(conflicts))


def _empty_credits(attrs: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame(columns=[*CREDIT_OUTPUT_COLUMNS, *attrs])


def _fill_transform_columns(credits: pd.DataFrame) -> pd.DataFrame:
    """Give every credit the transform columns: a credit without a transform shows none."""
    out = credits.copy()
    amounts = out["amount_e4"].to_numpy(dtype=np.int64)
    if "baseline_e4" not in out.columns:
        out["baseline_e4"] = 0
        out["gross_e4"] = 0
    out["baseline_e4"] = out["baseline_e4"].fillna(0).astype(np.int64)
    out["gross_e4"] = out["gross_e4"].fillna(0).astype(np.int64)
    if "multiplier" not in out.columns:
        out["multiplier"] = "1"
    out["multiplier"] = out["multiplier"].fillna("1").astype(str)
    out["amount_e4"] = amounts
    return out


# --------------------------------------------------------------------------- rule config

RULE_CONFIG_SCHEMA: Final[Mapping[str, Any]] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://quotient.dev/schema/crediting-rule-config.json",
    "title": "Crediting rule config",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "roles": {"type": "array", "items": {"type": "string", "minLength": 1}},
        "hierarchy": {"type": "string", "minLength": 1},
        "attribute": {"type": "string", "enum": ["region", "account", "product"]},
        "map": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "minProperties": 1,
                "maxProperties": 1,
                "properties": {
                    "employee_id": {"type": "string", "minLength": 1},
                    "node": {"type": "string", "minLength": 1},
                },
                "additionalProperties": False,
            },
        },
        "model": {"type": "string", "enum": list(MODELS)},
        "weights": {
            "type": "object",
            "properties": {k: {"$ref": "#/$defs/number"} for k in ("first", "middle", "last")},
            "additionalProperties": False,
        },
        "keep": {"type": "array", "items": {"type": "string", "minLength": 1}},
        "baseline": {
            "type": "object",
            "description": "Credit only the amount above a per-account baseline or run rate.",
            "required": ["amounts"],
            "additionalProperties": False,
            "properties": {
                "attribute": {"type": "string", "enum": ["account", "region", "product"]},
                "amounts": {"type": "object", "additionalProperties": {"$ref": "#/$defs/amount"}},
                "default": {"$ref": "#/$defs/amount"},
                "label": {"type": "string"},
            },
        },
        "multiplier": {"$ref": "#/$defs/factor"},
        "multipliers": {
            "type": "array",
            "description": "The first entry whose conditions match scales the credit.",
            "items": {
                "type": "object",
                "required": ["factor"],
                "additionalProperties": False,
                "properties": {
                    "factor": {"$ref": "#/$defs/factor"},
                    "transaction_types": {"type": "array", "items": {"type": "string"}},
                    "attributes": {
                        "type": "object",
                        "additionalProperties": {"type": "array", "items": {"type": "string"}},
                    },
                    "label": {"type": "string"},
                },
            },
        },
    },
    "$defs": {
        "number": {"type": ["string", "number"], "pattern": r"^-?\d+(\.\d+)?$"},
        "amount": {"type": ["string", "number"], "pattern": r"^\d+(\.\d{1,4})?$"},
        "factor": {"type": ["string", "number"], "pattern": r"^\d+(\.\d{1,6})?$"},
    },
}
"""JSON Schema of a crediting rule's ``config`` (every kind; :data:`RULE_CONFIG_KEYS` says
which keys each kind accepts)."""

_TRANSFORM_KEYS: Final = frozenset({"baseline", "multiplier", "multipliers"})
RULE_CONFIG_KEYS: Final[Mapping[str, frozenset[str]]] = {
    "direct": _TRANSFORM_KEYS,
    "split": frozenset({"roles"}) | _TRANSFORM_KEYS,
    "territory": frozenset({"attribute", "map"}) | _TRANSFORM_KEYS,
    "attribution": frozenset({"model", "roles", "weights"}) | _TRANSFORM_KEYS,
    "rollup": frozenset({"hierarchy", "keep"}),
}
MAX_FACTOR: Final = Decimal(100)


def _exact(value: object, path: str, *, places: int, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise CreditingError(f"{path}: {what} must be a number, got {value!r}")
    try:
        number = Decimal(repr(value) if isinstance(value, float) else str(value))
    except InvalidOperation:
        raise CreditingError(f"{path}: {what} must be a number, got {value!r}") from None
    if not number.is_finite() or number < 0:
        raise CreditingError(f"{path}: {what} must be zero or more, got {value!r}")
    if -number.as_tuple().exponent > places:  # type: ignore[operator]
        raise CreditingError(f"{path}: {what} has more than {places} decimals: {value!r}")
    return number


def _str_list(value: object, path: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise CreditingError(f"{path}: must be a list of names")
    return tuple(value)


def parse_transform(config: Mapping[str, Any], path: str = "config") -> Transform:
    """Return the transform a rule's ``config`` states, or raise CreditingError with its path."""
    baseline = None
    raw = config.get("baseline")
    if raw is not None:
        if not isinstance(raw, Mapping):
            raise CreditingError(f"{path}.baseline: must be an object")
        unknown = sorted(set(raw) - {"attribute", "amounts", "default", "label"})
        if unknown:
            raise CreditingError(f"{path}.baseline: unknown key(s) {unknown}")
        attribute = raw.get("attribute", "account")
        if attribute not in ("account", "region", "product"):
            raise CreditingError(
                f"{path}.baseline.attribute: use account, region or product, got {attribute!r}"
            )
        amounts = raw.get("amounts")
        if not isinstance(amounts, Mapping) or not amounts:
            raise CreditingError(f"{path}.baseline.amounts: map each {attribute} to its baseline")
        table = tuple(
            sorted(
                (
                    str(k),
                    to_e4(_exact(v, f"{path}.baseline.amounts.{k}", places=4, what="a baseline")),
                )
                for k, v in amounts.items()
            )
        )
        default = raw.get("default", 0)
        baseline = Baseline(
            attribute,
            table,
            to_e4(_exact(default, f"{path}.baseline.default", places=4, what="a baseline")),
            str(raw.get("label", "baseline")),
        )
    multipliers: list[Multiplier] = []
    if "multiplier" in config and "multipliers" in config:
        raise CreditingError(f"{path}: give either multiplier or multipliers, not both")
    if "multiplier" in config:
        factor = _exact(config["multiplier"], f"{path}.multiplier", places=6, what="a factor")
        multipliers.append(Multiplier(_check_factor(factor, f"{path}.multiplier")))
    raw_list = config.get("multipliers")
    if raw_list is not None:
        if not isinstance(raw_list, list) or not raw_list:
            raise CreditingError(f"{path}.multipliers: must be a non-empty list")
        for i, item in enumerate(raw_list):
            where = f"{path}.multipliers[{i}]"
            if not isinstance(item, Mapping):
                raise CreditingError(f"{where}: must be an object")
            unknown = sorted(set(item) - {"factor", "transaction_types", "attributes", "label"})
            if unknown:
                raise CreditingError(f"{where}: unknown key(s) {unknown}")
            if "factor" not in item:
                raise CreditingError(f"{where}.factor: required")
            factor = _exact(item["factor"], f"{where}.factor", places=6, what="a factor")
            attributes = item.get("attributes") or {}
            if not isinstance(attributes, Mapping):
                raise CreditingError(f"{where}.attributes: must map attributes to value lists")
            multipliers.append(
                Multiplier(
                    _check_factor(factor, f"{where}.factor"),
                    _str_list(item.get("transaction_types", []), f"{where}.transaction_types"),
                    tuple(
                        (str(k), _str_list(v, f"{where}.attributes.{k}"))
                        for k, v in sorted(attributes.items())
                    ),
                    str(item.get("label", "")),
                )
            )
    return Transform(baseline, tuple(multipliers))


def _check_factor(factor: Decimal, path: str) -> Decimal:
    if factor > MAX_FACTOR:
        raise CreditingError(f"{path}: a factor above {MAX_FACTOR} is refused, got {factor}")
    return factor


def validate_rule_config(kind: str, config: Mapping[str, Any], path: str = "config") -> None:
    """Raise CreditingError (message starts with the path) if ``config`` is wrong for ``kind``."""
    if kind not in RULE_CONFIG_KEYS:
        raise CreditingError(f"kind: unknown rule kind {kind!r}; use one of {list(RULE_KINDS)}")
    if not isinstance(config, Mapping):
        raise CreditingError(f"{path}: must be an object")
    unknown = sorted(set(config) - RULE_CONFIG_KEYS[kind])
    if unknown:
        raise CreditingError(f"{path}: unknown key(s) for {kind}: {unknown}")
    if kind == "attribution" and config.get("model", "linear") not in MODELS:
        raise CreditingError(f"{path}.model: unknown attribution model; use one of {MODELS}")
    if kind == "rollup":
        if not config.get("hierarchy"):
            raise CreditingError(f"{path}.hierarchy: a roll-up rule names a hierarchy code")
        if "keep" in config:
            _str_list(config["keep"], f"{path}.keep")
    if kind == "territory" and not config.get("map"):
        raise CreditingError(f"{path}.map: map attribute values to people or nodes")
    if "roles" in config:
        _str_list(config["roles"], f"{path}.roles")
    parse_transform(config, path)


def rule_config_json_schema() -> dict[str, Any]:
    """Return the JSON Schema of a crediting rule's config (a fresh copy)."""
    import copy

    return copy.deepcopy(dict(RULE_CONFIG_SCHEMA))


def rule_config_schema_text() -> str:
    """Return the text of docs/schema/crediting-rule-config.schema.json."""
    import json

    return json.dumps(rule_config_json_schema(), indent=2, sort_keys=True) + "\n"
