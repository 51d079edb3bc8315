"""Phase 4b, dependency (between reward and settle): pay on others' pay.

Contract:

* :func:`earned_table` lists what every (person, plan, component, segment) earned in the
  reward phase - general rewards and fast-path lines alike - rounded like its line, as a
  plain table (``tables.SCHEMAS["earned"]``). In a chunked run it is the one reduce between
  the reward map and the settle map: the chunks' tables are concatenated.
* :func:`dependency_phase` is the slot where components whose measure is other payees'
  earned amounts (a manager override on the team's commissions, commission on commissions,
  a pool that is a share of the team's payouts) are rewarded, reading ``earned``; it returns
  the rewards with those added. It runs for the rewards of one chunk (or the whole run) and
  must not depend on the order of ``earned``'s rows. :func:`needs_dependencies` tells whether
  any plan has such a component; until the plan language has one, nothing depends on others'
  pay and the phase returns the rewards as they are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from engine.money import quantize
from engine.phases.measure import MeasureState
from engine.phases.reward import Reward
from engine.phases.segments import Segment
from engine.phases.tables import SCHEMAS, frame
from engine.rules import Shared
from engine.spec import Plan
from engine.types import Inputs, PayoutLine


def needs_dependencies(plans: Mapping[str, Plan]) -> bool:
    """Return whether some plan has a component paid on other payees' earned amounts."""
    return False


def earned_table(
    plans: Mapping[str, Plan],
    segments: Sequence[Segment],
    rewards: Sequence[Reward],
    fast_lines: Sequence[PayoutLine] = (),
) -> pd.DataFrame:
    """Return what each (person, plan, component, segment) earned, rounded like its line."""
    rows: list[tuple[str, str, str, int, str, str, str]] = []
    for r in rewards:
        s, c = r.segment, r.component
        cur, mode = plans[s.plan_id].rounding.currency, plans[s.plan_id].rounding.mode
        earned = quantize(r.outcome.earned, cur, mode)
        rows.append((s.person_key, s.plan_id, c.id, s.index, s.node_id, str(earned), cur))
    if fast_lines:
        node = {(s.person_key, s.plan_id, s.index): s.node_id for s in segments}
        rows += [
            (
                ln.person_id,
                ln.plan_id,
                ln.component_id,
                ln.segment,
                node[(ln.person_id, ln.plan_id, ln.segment)],
                str(ln.earned),
                ln.currency,
            )
            for ln in fast_lines
            if ln.kind == "earned"
        ]
    names = list(SCHEMAS["earned"])
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(names)
    return frame("earned", dict(zip(names, columns, strict=True)))


def dependency_phase(
    inputs: Inputs,
    state: MeasureState,
    shared: Shared,
    rewards: Sequence[Reward],
    earned: pd.DataFrame,
) -> list[Reward]:
    """Return ``rewards`` with the components paid on others' pay (read from ``earned``)."""
    return list(rewards)
