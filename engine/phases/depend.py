"""Phase 4b, dependency (between reward and settle): pay on others' pay.

Contract:

* :func:`earned_table` lists what every (person, plan, component, segment) earned in the
  reward phase - general rewards and fast-path lines alike - rounded like its line, as a
  plain table (``tables.SCHEMAS["earned"]``). In a chunked run it is the one reduce between
  the reward map and the settle map: the chunks' tables are concatenated.
* :func:`engine.phases.dependency.dependency_phase` rewards the components whose measure is
  other payees' earned amounts (a manager override on the team's commissions, commission on
  commissions, a pool that is a share of the team's payouts), reading ``earned``, level by
  level; it does not depend on the order of ``earned``'s rows. It runs once over the whole
  run (a team spans chunks). :func:`needs_dependencies` tells whether any plan has such a
  component; without one nothing depends on others' pay and the phase is skipped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from engine.money import quantize
from engine.phases.dependency import component_levels, deferred
from engine.phases.reward import Reward
from engine.phases.segments import Segment
from engine.phases.tables import SCHEMAS, frame
from engine.spec import Plan
from engine.types import PayoutLine


def needs_dependencies(plans: Mapping[str, Plan]) -> bool:
    """Return whether some plan has a component paid on other payees' earned amounts."""
    return bool(deferred(component_levels(plans)))


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
