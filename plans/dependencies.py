"""What a plan's pay depends on beyond the payee's own figures, read from the spec alone.

The one classifier of shared goals and cross-team dependencies (the shared-goal pages of
``payouts.milestones`` and the scheme view of ``plans.scheme`` both read it):

* a ``team_pool`` pays on one team's milestone (**team pool**) or on every listed team's
  (**shared milestone**);
* a ``profit_share`` / ``gainshare`` pays a share of a source node's KPI (**pool**);
* any component with a ``gate`` at ``scope: node`` or ``person`` waits on another team's or
  another person's metric (**gate**);
* an ``mbo`` whose objectives more than one person shares (**shared MBO**);
* a component that reads an ``aggregate: earned`` measure pays on other payees' pay - a
  manager override, commission on commissions, a payout pool (**override**).

Nothing here reads the database: callers resolve the references (node codes or ids, people's
employee ids or ids, plan codes) to the rows they name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.spec import component_title

TEAM_POOL, SHARED_MILESTONE, POOL, GATE, MBO, OVERRIDE = (
    "team_pool",
    "shared_milestone",
    "pool",
    "gate",
    "mbo",
    "override",
)
KIND_LABELS: dict[str, str] = {
    TEAM_POOL: "Team milestone pool",
    SHARED_MILESTONE: "Shared milestone (every team must deliver)",
    POOL: "Team pool",
    GATE: "Gate on another team's metric",
    MBO: "Shared MBO",
    OVERRIDE: "Pay on others' pay (override)",
}
# The kinds a shared goal (a period's pool, milestone, gate or MBO) may be: all but overrides.
SHARED_GOAL_KINDS = (TEAM_POOL, SHARED_MILESTONE, POOL, GATE, MBO)
POOL_TYPES = frozenset({"profit_share", "gainshare"})
# What the dependency is on: a node (a team), a person, another plan's pay, or the plan's own
# participants together (a shared MBO).
ON_NODE, ON_PERSON, ON_PLAN, ON_PARTICIPANTS = "node", "person", "plan", "participants"


def shared_kind(component: Mapping[str, Any], participants: int) -> str | None:
    """Return the shared-goal kind of a spec component, or None when it is nobody else's."""
    ctype = component.get("type")
    if ctype == "team_pool":
        return SHARED_MILESTONE if len(component.get("teams") or []) > 1 else TEAM_POOL
    if ctype in POOL_TYPES:
        return POOL
    gate = component.get("gate")
    if isinstance(gate, Mapping) and gate.get("scope", "self") in ("node", "person"):
        return GATE
    if ctype == "mbo" and participants > 1:
        return MBO
    return None


def may_be_shared(component: Mapping[str, Any]) -> bool:
    """Return whether a component is a shared goal once more than one person is on it."""
    return shared_kind(component, participants=2) is not None


@dataclass(frozen=True)
class Dependency:
    """One component's dependency on something outside the payee's own figures."""

    component_id: str
    component_name: str
    kind: str
    on: str  # ON_NODE, ON_PERSON, ON_PLAN or ON_PARTICIPANTS
    ref: str  # the node's code or id, the person's employee id or id, the plan's code
    measure: str  # the metric read, as the spec names it
    of_component: str = ""  # ON_PLAN: the other plan's component whose earned pay is read

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[self.kind]


def _measures_read(component: Mapping[str, Any]) -> list[str]:
    """Return the ids of the measures a component reads for its own pay (not its gate)."""
    ids = [component.get("measure")]
    ids += [p.get("measure") for p in component.get("parts") or [] if isinstance(p, Mapping)]
    ids += [k.get("measure") for k in component.get("kpis") or [] if isinstance(k, Mapping)]
    tier_by = component.get("tier_by")
    if isinstance(tier_by, Mapping) and tier_by.get("scope", "self") == "self":
        ids.append(tier_by.get("measure"))
    gate = component.get("gate")
    if isinstance(gate, Mapping) and gate.get("scope", "self") == "self":
        ids.append(gate.get("measure"))
    return [str(i) for i in ids if i]


def spec_dependencies(
    spec: Mapping[str, Any], *, plan_code: str, participants: int
) -> list[Dependency]:
    """Return every dependency of a spec's components on other teams, people or plans' pay;
    ``plan_code`` names the plan an ``earned.of`` entry without ``plan`` means."""
    measures = {str(m.get("id")): m for m in spec.get("measures") or [] if isinstance(m, Mapping)}
    out: list[Dependency] = []
    for c in spec.get("components") or []:
        if not isinstance(c, Mapping) or "id" not in c:
            continue
        cid, name = str(c["id"]), component_title(str(c["id"]), c.get("name"))
        kind = shared_kind(c, participants)
        if kind in (TEAM_POOL, SHARED_MILESTONE):
            milestone = c.get("milestone")
            measure = milestone.get("measure", "") if isinstance(milestone, Mapping) else ""
            out += [
                Dependency(cid, name, kind, ON_NODE, str(team), str(measure))
                for team in c.get("teams") or []
            ]
        elif kind == POOL:
            what = str(c.get("kpi") or c.get("value") or "")
            out.append(Dependency(cid, name, POOL, ON_NODE, str(c.get("source_node", "")), what))
        elif kind == GATE:
            gate = c["gate"]
            out.append(
                Dependency(
                    cid,
                    name,
                    GATE,
                    ON_NODE if gate.get("scope") == "node" else ON_PERSON,
                    str(gate.get("holder", "")),
                    str(gate.get("measure", "")),
                )
            )
        elif kind == MBO:
            out.append(Dependency(cid, name, MBO, ON_PARTICIPANTS, "", "objectives"))
        for mid in dict.fromkeys(_measures_read(c)):
            earned = (measures.get(mid) or {}).get("earned")
            if (measures.get(mid) or {}).get("aggregate") != "earned" or not isinstance(
                earned, Mapping
            ):
                continue
            out += [
                Dependency(
                    cid,
                    name,
                    OVERRIDE,
                    ON_PLAN,
                    str(of.get("plan") or plan_code),
                    mid,
                    of_component=str(of.get("component", "")),
                )
                for of in earned.get("of") or []
                if isinstance(of, Mapping)
            ]
    return out
