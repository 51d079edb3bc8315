"""What a plan text would pay, asked of the engine: the "try it" panel and the payout curve.

Nothing here computes pay. :func:`try_it` hands the spec and readable sample inputs to
``engine.compute``; :func:`payout_curve` builds one synthetic payee per attainment step
(0 %, 5 %, ... 200 % of a quota or target) and lets the engine compute all of them in one call,
so the chart is exactly what the engine pays, tiers, accelerators, caps and gates included.
:func:`editable_tables` and :func:`replace_rows` let the page edit a component's tier table or
curve as rows and write them back into the text, leaving the rest of it (comments) as written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

import yaml

from core.templatetags.quotient import money
from engine import Result, compute
from engine.loader import inputs_from_mapping, plans_from_mapping
from engine.spec import component_title, key_words, spec_component_titles
from plans import catalog
from plans.source import PlanLoader, path_parts

STEPS = 41  # 0 % to 200 % in steps of 5 %
STEP = Decimal("0.05")
CURVE_QUOTA = Decimal(100_000)
CURVE_COUNT_QUOTA = 20  # units: a count measure's quota, so every 5 % step is a whole unit
CURVE_TARGET_INCENTIVE = Decimal(10_000)
CURVE_PERIOD = {"id": "curve", "start": "2026-01-01", "end": "2026-02-01"}
RATIO_MAX_DENOMINATOR = 20  # a ratio target such as 0.25 = 1/4; finer ones are not drawn
CHARTED = ("commission", "attainment_bonus", "kpi_bonus", "hybrid")
NOT_CHARTED = (
    "The chart draws commissions, attainment bonuses, KPI bonuses and hybrids; {title} is a {type}."
)
CURVE_NOTE = "What {title} pays for a target incentive of {target} and a quota of {quota}"
CURVE_COUNT_NOTE = " ({count} where it counts units: a meeting, a lead)"
TABLE_FIELDS = {"tiers": ("from", "to", "rate"), "points": ("attainment", "payout")}


def _text(value: Any) -> str:
    return str(value)


# Rows of the readable input format that may name a plan (default: the plan being tried).
PLAN_ROWS = (
    "people",
    "assignments",
    "prior_payouts",
    "reversals",
    "holds",
    "instalments",
    "reserves",
)


def earned_refs(spec: Mapping[str, Any]) -> list[str]:
    """Return the other plans whose earned amounts ``spec`` reads (``aggregate: earned``)."""
    own = str(spec.get("id", ""))
    refs: list[str] = []
    for m in spec.get("measures") or []:
        earned = m.get("earned") if isinstance(m, dict) else None
        pairs = earned.get("of") if isinstance(earned, dict) else None
        for pair in pairs if isinstance(pairs, list) else []:
            ref = pair.get("plan") if isinstance(pair, dict) else None
            if isinstance(ref, str) and ref != own and ref not in refs:
                refs.append(ref)
    return refs


def template_related(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return, for each plan ``spec`` reads earned amounts of, the template of that key
    (``sales-ae`` or ``sales_ae``: the Sales AE template) with ``id`` set to the reference."""
    out = []
    for ref in earned_refs(spec):
        plan = catalog.template_plan(ref)
        if plan is not None:
            out.append({**plan, "id": ref})
    return out


def with_own_plan(inputs: Mapping[str, Any], plan_id: str) -> dict[str, Any]:
    """Return ``inputs`` with every row that names no plan on ``plan_id`` (a run with several
    plans has no default)."""
    out = dict(inputs)
    for key in PLAN_ROWS:
        rows = inputs.get(key)
        if isinstance(rows, list):
            out[key] = [{"plan": plan_id, **row} if isinstance(row, dict) else row for row in rows]
    return out


def run_with(
    spec: Mapping[str, Any], inputs: Mapping[str, Any], related: list[dict[str, Any]] | None
) -> Result:
    """Return ``engine.compute`` of ``spec`` with the plans it reads earned amounts of."""
    others = template_related(spec) if related is None else related
    plans = plans_from_mapping({"plans": [dict(spec), *others]})
    data = with_own_plan(inputs, str(spec.get("id", ""))) if others else dict(inputs)
    return compute(inputs_from_mapping(data, plans))


def try_it(
    spec: dict[str, Any], sample: dict[str, Any], related: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Return the engine's lines and trace sentences for ``spec`` on ``sample`` inputs;
    ``related``: the plans it reads earned amounts of (default: their templates)."""
    try:
        result = run_with(spec, sample, related)
    except Exception as exc:
        return {"lines": [], "traces": [], "error": f"{type(exc).__name__}: {exc}"}
    titles = spec_component_titles(spec)
    lines = [
        {
            "person": ln.person_id,
            "component": ln.component_id,
            "title": titles.get(ln.component_id) or component_title(ln.component_id),
            "kind": ln.kind,
            "amount": _text(ln.amount),
            "amount_text": money(ln.amount, ln.currency),
            "currency": ln.currency,
            "attainment": None if ln.attainment is None else _text(ln.attainment),
        }
        for ln in result.lines
    ]
    traces = [
        {
            "person": t.person_id,
            "component": t.component_id,
            "title": titles.get(t.component_id) or component_title(t.component_id),
            "text": t.text,
        }
        for t in result.traces
    ]
    return {"lines": lines, "traces": traces, "error": ""}


@dataclass(frozen=True)
class Curve:
    component: str
    title: str
    attainment: list[Decimal]
    payout: list[Decimal]
    currency: str
    note: str = ""
    error: str = ""


def _measures(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {str(m["id"]): m for m in spec.get("measures") or [] if isinstance(m, dict)}


def _credit_shape(measure: dict[str, Any]) -> dict[str, Any]:
    flt = measure.get("filter") or {}
    shape: dict[str, Any] = {}
    types = flt.get("transaction_types") or []
    if types:
        shape["type"] = str(types[0])
    kinds = flt.get("credit_kinds") or []
    if kinds:
        shape["kind"] = str(kinds[0])
    attrs = {
        str(k): (v[0] if isinstance(v, list) and v else v)
        for k, v in (flt.get("attributes") or {}).items()
    }
    if attrs:
        shape["attributes"] = attrs
    return shape


class _Sweep:
    """Synthetic inputs: payee i at attainment i x 5 % of every measure the component reads."""

    def __init__(self, spec: dict[str, Any], quota: Decimal = CURVE_QUOTA) -> None:
        self.spec = spec
        self.quota = quota
        self.measures = _measures(spec)
        self.people: list[dict[str, Any]] = []
        self.credits: list[dict[str, Any]] = []
        self.quotas: list[dict[str, Any]] = []
        self.kpis: list[dict[str, Any]] = []
        self.skipped: set[str] = set()
        self.counted = False  # a count measure is fed: its quota is CURVE_COUNT_QUOTA units
        self.fed: set[tuple[int, str]] = set()

    def person(self, i: int) -> str:
        return f"p{i}"

    def feed(
        self,
        i: int,
        a: Decimal,
        measure_id: str,
        *,
        quota_id: str | None,
        target: Any = None,
        node: bool = False,
        direction: str = "higher_is_better",
    ) -> None:
        """Make payee ``i`` reach attainment ``a`` on ``measure_id`` (against a quota or target)."""
        m = self.measures.get(measure_id)
        if (i, measure_id) in self.fed:  # two parts on one measure (own and team) read it once
            if quota_id is not None and node and m is not None:
                self._quota(
                    {
                        "holder_kind": "node",
                        "holder": f"n{i}",
                        "quota": quota_id,
                        "amount": str(
                            self.quota if m.get("aggregate") == "sum" else CURVE_COUNT_QUOTA
                        ),
                    }
                )
            return
        self.fed.add((i, measure_id))
        if m is None:
            self.skipped.add(measure_id)
            return
        aggregate = m.get("aggregate", "sum")
        who = self.person(i)
        if aggregate == "kpi":
            base = Decimal(str(target)) if target is not None else Decimal(1)
            if direction == "lower_is_better":
                if a == 0:
                    return
                value = base / a
            else:
                value = base * a
            holder = (
                {"holder_kind": "node", "holder": f"n{i}"}
                if m.get("scope") == "node"
                else {"holder": who}
            )
            self.kpis.append({**holder, "kpi": str(m.get("kpi", measure_id)), "value": str(value)})
            return
        if aggregate == "ratio" and target is not None:
            self._ratio(i, a, m, Decimal(str(target)))
            return
        if aggregate not in {"sum", "count"}:
            self.skipped.add(measure_id)
            return
        shape = _credit_shape(m)
        if aggregate == "sum":
            base = Decimal(str(target)) if target is not None else self.quota
            self.credits.append(
                {
                    "id": f"c{i}-{measure_id}",
                    "person": who,
                    "date": "2026-01-15",
                    "amount": str(base * a),
                    **shape,
                }
            )
        else:
            self.counted = self.counted or target is None
            base = Decimal(str(target)) if target is not None else Decimal(CURVE_COUNT_QUOTA)
            units = int((base * a).to_integral_value())
            self.credits.extend(
                {"id": f"c{i}-{measure_id}-{u}", "person": who, "date": "2026-01-15", **shape}
                for u in range(units)
            )
        if quota_id is not None and target is None:
            amount = str(self.quota if aggregate == "sum" else CURVE_COUNT_QUOTA)
            self._quota({"holder": who, "quota": quota_id, "amount": amount})
            if node:
                self._quota(
                    {"holder_kind": "node", "holder": f"n{i}", "quota": quota_id, "amount": amount}
                )

    def _quota(self, row: dict[str, Any]) -> None:
        if row not in self.quotas:  # two parts on one quota (own and team) need it once
            self.quotas.append(row)

    def _ratio(self, i: int, a: Decimal, m: dict[str, Any], target: Decimal) -> None:
        """Reach ``a`` x ``target`` on a ratio of two count measures with whole credits: the
        target as a fraction n/d, then n x k numerator and 20 x d denominator credits at step
        k (a = k / 20)."""
        num, den = (
            self.measures.get(str(m.get("numerator"))),
            self.measures.get(str(m.get("denominator"))),
        )
        fraction = Fraction(target).limit_denominator(RATIO_MAX_DENOMINATOR)
        if (
            num is None
            or den is None
            or {num.get("aggregate"), den.get("aggregate")} != {"count"}
            or Fraction(target) != fraction
        ):
            self.skipped.add(str(m["id"]))
            return
        k = int(a / STEP)
        steps = int(1 / STEP)
        for measure, units in ((den, steps * fraction.denominator), (num, fraction.numerator * k)):
            shape = _credit_shape(measure)
            self.credits.extend(
                {
                    "id": f"c{i}-{measure['id']}-{u}",
                    "person": self.person(i),
                    "date": "2026-01-15",
                    **shape,
                }
                for u in range(units)
            )

    def inputs(self) -> dict[str, Any]:
        return {
            "period": CURVE_PERIOD,
            "people": self.people,
            "credits": self.credits,
            "quotas": self.quotas,
            "kpis": self.kpis,
        }


def _pick(spec: dict[str, Any], component_id: str | None) -> dict[str, Any] | None:
    components = [c for c in spec.get("components") or [] if isinstance(c, dict)]
    if component_id:
        return next((c for c in components if str(c.get("id")) == component_id), None)
    return next((c for c in components if c.get("type") in CHARTED), None) or (
        components[0] if components else None
    )


def payout_curve(
    spec: dict[str, Any],
    component_id: str | None = None,
    *,
    target_incentive: Decimal = CURVE_TARGET_INCENTIVE,
    quota: Decimal = CURVE_QUOTA,
) -> Curve | None:
    """Return what one component pays from 0 % to 200 % attainment, computed by the engine,
    for a payee with ``target_incentive`` and (on sum measures) ``quota``."""
    component = _pick(spec, component_id)
    if component is None:
        return None
    cid, kind = str(component.get("id")), str(component.get("type"))
    title = component_title(cid, component.get("name"))
    currency = str(spec.get("currency", ""))
    if kind not in CHARTED:
        words = kind.replace("_", " ")
        return Curve(cid, title, [], [], currency, note=NOT_CHARTED.format(title=title, type=words))
    sweep = _Sweep(spec, quota)
    xs = [STEP * i for i in range(STEPS)]
    for i, a in enumerate(xs):
        sweep.people.append(
            {
                "person": sweep.person(i),
                "node": f"n{i}",
                "target_incentive": str(target_incentive),
            }
        )
        if kind in {"commission", "attainment_bonus"}:
            measure = str(component.get("measure"))
            sweep.feed(i, a, measure, quota_id=str(component.get("quota") or measure))
        elif kind == "kpi_bonus":
            for kpi in component.get("kpis") or []:
                measure = str(kpi.get("measure"))
                target = kpi.get("target")
                sweep.feed(
                    i,
                    a,
                    measure,
                    quota_id=None if target is not None else measure,
                    target=target,
                    direction=str(kpi.get("direction", "higher_is_better")),
                )
        else:  # hybrid: every part at the same attainment, own and team
            for part in component.get("parts") or []:
                measure = str(part.get("measure"))
                sweep.feed(
                    i,
                    a,
                    measure,
                    quota_id=str(part.get("quota") or measure),
                    node=part.get("scope") == "node",
                )
    one = {**spec, "id": "curve", "components": [component]}
    try:
        result = run_with(one, sweep.inputs(), None)
    except Exception as exc:
        return Curve(cid, title, [], [], currency, error=f"{type(exc).__name__}: {exc}")
    paid: dict[str, Decimal] = {}
    for line in result.lines:
        paid[line.person_id] = paid.get(line.person_id, Decimal(0)) + line.amount
    ys = [paid.get(sweep.person(i), Decimal(0)) for i in range(STEPS)]
    note = CURVE_NOTE.format(
        title=title, target=money(target_incentive, currency), quota=money(quota, currency)
    )
    if sweep.counted:
        note += CURVE_COUNT_NOTE.format(count=f"{CURVE_COUNT_QUOTA} units")
    note += "."
    if sweep.skipped:
        skipped = ", ".join(key_words(m) for m in sorted(sweep.skipped))
        note += f" Not drawn (not a sum, count or KPI measure): {skipped}."
    return Curve(cid, title, xs, ys, currency, note=note)


# --- editing tiers and curve points as rows -------------------------------------------------


def editable_tables(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Return every tier table and curve of the spec as rows, each with the path it lives at."""
    tables: list[dict[str, Any]] = []
    titles = spec_component_titles(spec)
    for ci, comp in enumerate(spec.get("components") or []):
        if not isinstance(comp, dict):
            continue
        cid = str(comp.get("id", ci))
        title = titles.get(cid) or component_title(cid, comp.get("name"))
        base = f"components[{ci}]"
        table = comp.get("rate_table")
        if isinstance(table, dict) and isinstance(table.get("tiers"), list):
            tables.append(
                _table(
                    cid,
                    f"{base}.rate_table.tiers",
                    "tiers",
                    table["tiers"],
                    f"{title}: tiers (by {table.get('basis', 'amount')})",
                )
            )
        curve = comp.get("curve")
        if isinstance(curve, dict) and isinstance(curve.get("points"), list):
            tables.append(
                _table(cid, f"{base}.curve.points", "points", curve["points"], f"{title}: curve")
            )
        for ki, kpi in enumerate(comp.get("kpis") or []):
            curve = kpi.get("curve") if isinstance(kpi, dict) else None
            if isinstance(curve, dict) and isinstance(curve.get("points"), list):
                tables.append(
                    _table(
                        cid,
                        f"{base}.kpis[{ki}].curve.points",
                        "points",
                        curve["points"],
                        f"{title}: {key_words(kpi.get('measure')).lower()} curve",
                    )
                )
    return tables


def _table(cid: str, path: str, kind: str, rows: list[Any], label: str) -> dict[str, Any]:
    fields = TABLE_FIELDS[kind]
    return {
        "component": cid,
        "path": path,
        "kind": kind,
        "label": label,
        "fields": list(fields),
        "rows": [
            {
                f: ("" if not isinstance(r, dict) or r.get(f) is None else str(r.get(f)))
                for f in fields
            }
            for r in rows
        ],
    }


class RowsError(ValueError):
    """Rows that cannot be written back (a cell that is not a number, an unknown path)."""


def _cell(value: Any, where: str) -> str:
    text = str(value).strip()
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise RowsError(f"{where}: {text!r} is not a number") from None
    if not number.is_finite():
        raise RowsError(f"{where}: {text!r} is not a number")
    return text


def _render_rows(kind: str, rows: list[dict[str, Any]], path: str) -> list[str]:
    fields = TABLE_FIELDS.get(kind)
    if fields is None:
        raise RowsError(f"{path}: not a tier table or a curve")
    out = []
    for i, row in enumerate(rows):
        cells = []
        for f in fields:
            value = row.get(f)
            if value is None or str(value).strip() == "":
                if kind == "tiers" and f == "to":
                    continue  # the last tier is open-ended
                raise RowsError(f"{path}[{i}].{f}: required")
            cells.append(f'{f}: "{_cell(value, f"{path}[{i}].{f}")}"')
        out.append("{" + ", ".join(cells) + "}")
    return out


def _node_at(text: str, path: str) -> yaml.SequenceNode:
    node = yaml.compose(text, Loader=PlanLoader)
    for part in path_parts(path):
        child = None
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            child = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            child = node.value[part] if part < len(node.value) else None
        if child is None:
            raise RowsError(f"{path}: not in the plan text")
        node = child
    if not isinstance(node, yaml.SequenceNode) or not node.value:
        raise RowsError(f"{path}: not a list in the plan text")
    return node


def replace_rows(text: str, path: str, kind: str, rows: list[dict[str, Any]]) -> str:
    """Return ``text`` with the list at ``path`` replaced by ``rows``; the rest stays as written."""
    if not rows:
        raise RowsError(f"{path}: keep at least one row")
    rendered = _render_rows(kind, rows, path)
    try:
        node = _node_at(text, path)
    except yaml.YAMLError as exc:
        raise RowsError(f"the plan text is not valid YAML: {exc}") from None
    start = node.start_mark.index
    if node.flow_style:
        end = node.end_mark.index
        replacement = "[" + ", ".join(rendered) + "]"
    else:
        end = node.value[-1].end_mark.index
        indent = " " * node.start_mark.column
        replacement = f"\n{indent}".join(f"- {r}" for r in rendered)
    return text[:start] + replacement + text[end:]
