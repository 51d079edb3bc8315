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
  excluded from every team (node) total, so nothing is counted twice.
* Attribution models, for the touches of one transaction ordered by time (then person id):
  ``first_touch`` / ``last_touch`` 100 % to one touch; ``linear`` equal; ``u_shaped`` 40 % first,
  40 % last, 20 % shared by the touches between (two touches: 50/50); ``w_shaped`` 30 % each to
  the first, the middle key touch (index ``(n - 1) // 2``) and the last, 10 % shared by the
  other touches (three touches: a third each; two: 50/50); ``custom`` weights
  ``{first, middle, last}`` normalized the same way as u_shaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction
from functools import reduce
from math import lcm
from typing import Final

import numpy as np
import pandas as pd

from engine.money import allocate_groups

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
    direct = credits[credits["kind"].isin(("direct", "split"))]
    totals = direct.groupby("transaction_id", sort=True)["share_ppm"].sum()
    over = totals[totals > PPM]
    if len(over):
        ids = ", ".join(str(t) for t in over.index[:10])
        raise CreditingError(f"direct and split shares exceed 100 % on transaction(s) {ids}")


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


def credit_rollups(
    credits: pd.DataFrame,
    memberships: pd.DataFrame,
    nodes: pd.DataFrame,
    *,
    rule_id: str = "rollup",
) -> pd.DataFrame:
    """Return roll-up credits to every manager above each credited person (kind ``rollup``).

    ``memberships`` maps person_id -> node_id; ``nodes`` has node_id, parent_id, manager_id.
    A manager is credited once per credit even when managing several levels, and never for
    their own credits. Roll-ups of roll-ups are not made.
    """
    base = credits[credits["kind"] != "rollup"]
    attrs = [c for c in base.columns if c not in CREDIT_OUTPUT_COLUMNS]
    chains = _manager_chains(nodes)
    member = memberships[["person_id", "node_id"]].astype({"person_id": str, "node_id": str})
    joined = (
        base.assign(_person=base["person_id"].astype(str))
        .merge(member.rename(columns={"person_id": "_person"}), on="_person")
        .merge(chains, on="node_id")
    )
    joined = joined[joined["manager_id"] != joined["_person"]]
    joined = joined.sort_values(["credit_id", "level"], kind="stable").drop_duplicates(
        ["credit_id", "manager_id"]
    )
    frame = joined.drop(columns=["person_id"]).rename(columns={"manager_id": "person_id"})
    out = _finish(frame, rule_id, "rollup", attrs)
    # A manager may be credited via two team members on one transaction: keep both rows
    # distinct by the source credit.
    out["credit_id"] = out["credit_id"] + "<" + joined["credit_id"].astype(str).to_numpy()
    return out


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
