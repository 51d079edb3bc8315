"""Plan documents: what a person's plan says, in words, with worked examples the engine computed.

:func:`describe_component` turns one component of a spec into sentences (rates, tiers, curves,
KPIs, gates, caps), with the numbers read as the diff reads them (``plans.diff``: rates and
attainments as percentages). :func:`plan_document` assembles the document of one assignment:
the plan and version, effective dates, target incentive, the person's quotas, the components,
and what the plan pays at 50 %, 100 % and 150 % attainment (``plans.preview.payout_curve``, so
the engine computes it, for the person's own target incentive and quota);
:func:`plan_document_pdf` lays the same document out as a PDF through ``core.pdf``. Nothing here
writes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.http import HttpResponse

from core.pdf import PdfDocument, amount, pdf_response
from engine.spec import component_title
from plans.diff import _format, _tier
from plans.preview import CHARTED, STEP, payout_curve

EXAMPLES = (Decimal("0.5"), Decimal("1"), Decimal("1.5"))
TYPE_WORDS = {
    "commission": "Commission",
    "attainment_bonus": "Attainment bonus",
    "kpi_bonus": "KPI bonus",
    "fixed_pay": "Fixed payment",
    "hybrid": "Hybrid (individual and team)",
    "retention_bonus": "Retention bonus",
    "team_pool": "Team pool",
    "gainshare": "Gainshare",
    "profit_share": "Profit share",
    "mbo": "Objectives (MBO)",
}
FREQUENCY_WORDS = {
    "monthly": "every month",
    "quarterly": "every quarter",
    "semiannual": "every half-year",
    "annual": "once a year",
}


def _pct(value: Any) -> str:
    return _format(value, "rate")


def _amount(value: Any, currency: str) -> str:
    return f"{_format(value, 'amount')} {currency}".strip()


def _curve(curve: Any) -> str:
    points = curve.get("points") if isinstance(curve, dict) else None
    if not points:
        return ""
    said = [
        f"{_pct(p.get('attainment'))} attainment pays {_pct(p.get('payout'))} of target"
        for p in points
        if isinstance(p, dict)
    ]
    return "; ".join(said) + " (straight lines between the points)"


def _gate(gate: Any) -> str:
    if not isinstance(gate, dict):
        return ""
    what = str(gate.get("measure", ""))
    if gate.get("min_attainment") is not None:
        return f"Paid only once {what} reaches {_pct(gate['min_attainment'])} of its quota."
    if gate.get("min_value") is not None:
        return f"Paid only once {what} reaches {_format(gate['min_value'], 'value')}."
    return f"Paid only when the gate on {what} is met."


def describe_component(component: dict[str, Any], currency: str) -> list[str]:
    """Return sentences saying what one component pays and on what."""
    kind = str(component.get("type", ""))
    measure = component.get("measure")
    out: list[str] = []
    if kind == "commission":
        table = component.get("rate_table")
        if isinstance(table, dict) and table.get("tiers"):
            basis = table.get("basis") == "attainment"
            convention = table.get("convention", "marginal")
            how = (
                "each slice at its own tier's rate"
                if convention == "marginal"
                else "all of it at the rate of the tier reached"
            )
            tiers = "; ".join(_tier(t, basis) for t in table["tiers"] if isinstance(t, dict))
            by = "attainment of quota" if basis else "amount"
            out.append(f"Pays on {measure} in tiers by {by}, {how}: {tiers}.")
        elif component.get("per_unit") is not None:
            out.append(f"Pays {_amount(component['per_unit'], currency)} for each {measure}.")
        elif component.get("rate") is not None:
            out.append(f"Pays {_pct(component['rate'])} of {measure}.")
        for rate_type, rate in (component.get("rate_by_type") or {}).items():
            out.append(f"{rate_type.replace('_', ' ').capitalize()} pays {_pct(rate)}.")
        acc = component.get("accelerator")
        if isinstance(acc, dict):
            out.append(
                f"Above {_pct(acc.get('above'))} of quota the rate is multiplied by "
                f"{_format(acc.get('multiplier'), 'multiplier')} (accelerator)."
            )
    elif kind == "attainment_bonus":
        out.append(f"Pays a share of your target incentive by your attainment on {measure}:")
        out.append(_curve(component.get("curve")) + ".")
    elif kind == "kpi_bonus":
        for kpi in component.get("kpis") or []:
            if not isinstance(kpi, dict):
                continue
            target = kpi.get("target")
            aim = f" against a target of {_format(target, 'target')}" if target is not None else ""
            weight = _pct(kpi.get("weight", 1))
            curve = _curve(kpi.get("curve"))
            out.append(
                f"{weight} of the target incentive on {kpi.get('measure')}{aim}"
                + (f": {curve}." if curve else ".")
            )
    elif kind == "hybrid":
        for part in component.get("parts") or []:
            if isinstance(part, dict):
                whose = "your team's" if part.get("scope") == "node" else "your own"
                out.append(
                    f"{_pct(part.get('weight'))} of the target incentive on {whose} "
                    f"{part.get('measure')} against quota."
                )
        if component.get("curve"):
            out.append(_curve(component.get("curve")) + ".")
    elif kind == "fixed_pay":
        amount = component.get("amount")
        if amount is not None:
            out.append(f"Pays {_amount(amount, currency)}.")
        else:
            out.append("Pays a fixed share of the target incentive.")
    else:
        facts = [
            f"{k.replace('_', ' ')}: {_format(v, k)}"
            for k, v in component.items()
            if k not in {"id", "name", "type", "filter"} and not isinstance(v, (dict, list))
        ]
        if facts:
            out.append("; ".join(facts).capitalize() + ".")
    if component.get("gate"):
        out.append(_gate(component["gate"]))
    cap = component.get("cap")
    if cap is not None:
        cap_text = (
            _amount(cap, currency)
            if not isinstance(cap, dict)
            else ", ".join(f"{k} {_format(v, k)}" for k, v in cap.items())
        )
        out.append(f"Capped at {cap_text}.")
    return [s for s in out if s and s != "."]


@dataclass(frozen=True)
class Example:
    attainment: Decimal
    payout: Decimal


@dataclass(frozen=True)
class ComponentText:
    id: str
    name: str
    kind: str
    sentences: list[str]
    quota_id: str | None
    examples: list[Example] = field(default_factory=list)
    note: str = ""


@dataclass(frozen=True)
class PlanDocument:
    plan_name: str
    version_number: int
    spec_hash: str
    valid_from: dt.date
    valid_to: dt.date | None
    assignment_from: dt.date
    assignment_to: dt.date | None
    holder_label: str
    target_incentive: Decimal
    currency: str
    frequency: str
    quotas: list[tuple[str, Decimal, str, dt.date, dt.date]]
    components: list[ComponentText]
    totals: list[Example]

    @property
    def text(self) -> str:
        """The document as plain text (tests read it back; the print page shows the same)."""
        lines = [
            f"{self.plan_name}, version {self.version_number}",
            f"Target incentive: {self.target_incentive:,.2f} {self.currency}, paid "
            f"{self.frequency}",
        ]
        lines += [f"Quota {q}: {a:,.2f} {c} ({f} to {t})" for q, a, c, f, t in self.quotas]
        for c in self.components:
            lines.append(f"{c.name}: " + " ".join(c.sentences))
            lines += [f"  at {e.attainment:.0%}: {e.payout:,.2f}" for e in c.examples]
        lines += [f"Total at {e.attainment:.0%}: {e.payout:,.2f}" for e in self.totals]
        return "\n".join(lines)


def plan_document(
    *,
    spec: dict[str, Any],
    plan_name: str,
    version_number: int,
    spec_hash: str,
    valid_from: dt.date,
    valid_to: dt.date | None,
    assignment_from: dt.date,
    assignment_to: dt.date | None,
    holder_label: str,
    target_incentive: Decimal,
    currency: str,
    quotas: dict[str, tuple[Decimal, str, dt.date, dt.date]],
) -> PlanDocument:
    """Return the document of one plan version as assigned: words and engine-computed examples.

    ``quotas``: the person's quotas in force (quota id -> amount, currency, from, to). The
    examples of a component read its own quota when the person has one (else the curve's
    standard quota of 100,000), and the person's target incentive."""
    spec_currency = str(spec.get("currency", currency))
    components: list[ComponentText] = []
    totals = dict.fromkeys(EXAMPLES, Decimal(0))
    for comp in spec.get("components") or []:
        if not isinstance(comp, dict):
            continue
        cid = str(comp.get("id"))
        kind = str(comp.get("type"))
        qid = str(comp.get("quota") or comp.get("measure") or "") or None
        examples: list[Example] = []
        note = ""
        if kind in CHARTED:
            own = quotas.get(qid or "")
            kwargs: dict[str, Any] = {"target_incentive": target_incentive}
            if own is not None:
                kwargs["quota"] = own[0]
            curve = payout_curve(spec, cid, **kwargs)
            if curve is not None and not curve.error and curve.payout:
                for a in EXAMPLES:
                    paid = curve.payout[int(a / STEP)]
                    examples.append(Example(a, paid))
                    totals[a] += paid
                note = curve.note
            else:
                note = curve.error if curve is not None else ""
        else:
            note = "Not in the worked examples: it does not pay by your own attainment."
        components.append(
            ComponentText(
                id=cid,
                name=component_title(cid, comp.get("name")),
                kind=TYPE_WORDS.get(kind, kind.replace("_", " ").capitalize()),
                sentences=describe_component(comp, spec_currency),
                quota_id=qid if kind in CHARTED else None,
                examples=examples,
                note=note,
            )
        )
    total_rows = [Example(a, totals[a]) for a in EXAMPLES] if any(totals.values()) else []
    return PlanDocument(
        plan_name=plan_name,
        version_number=version_number,
        spec_hash=spec_hash,
        valid_from=valid_from,
        valid_to=valid_to,
        assignment_from=assignment_from,
        assignment_to=assignment_to,
        holder_label=holder_label,
        target_incentive=target_incentive,
        currency=currency,
        frequency=FREQUENCY_WORDS.get(str(spec.get("payout_frequency", "monthly")), "monthly"),
        quotas=[(q, a, c, f, t) for q, (a, c, f, t) in sorted(quotas.items())],
        components=components,
        totals=total_rows,
    )


def _day(value: dt.date | None) -> str:
    return f"{value:%Y-%m-%d}" if value else "open"


def plan_document_pdf(
    doc: PlanDocument, *, person_name: str, employee_id: str, tenant_name: str
) -> bytes:
    """Return the plan document as a PDF (core.pdf): the same words and engine examples as the
    page, for one person."""
    cur = doc.currency
    pdf = PdfDocument(
        title=f"{doc.plan_name}, version {doc.version_number}", tenant_name=tenant_name
    )
    pdf.paragraph(f"For {person_name} ({employee_id})")
    pdf.table(
        ["Fact", "Value"],
        [
            ["Target incentive", amount(doc.target_incentive, cur)],
            ["Paid", doc.frequency],
            [
                "You are on it",
                f"{_day(doc.assignment_from)} to {_day(doc.assignment_to)} ({doc.holder_label})",
            ],
            ["This version is in force", f"{_day(doc.valid_from)} to {_day(doc.valid_to)}"],
        ],
        widths=(0.35, 0.65),
    )
    pdf.heading("Your quotas")
    if doc.quotas:
        pdf.table(
            ["Quota", "Amount", "From", "Until"],
            [[q, amount(a, c), _day(f), _day(t)] for q, a, c, f, t in doc.quotas],
            amounts=[1],
            widths=(0.34, 0.26, 0.2, 0.2),
        )
    else:
        pdf.paragraph("No quota is set for you yet; the examples below use a quota of 100,000.")
    pdf.heading("What it pays")
    for c in doc.components:
        pdf.heading(f"{c.name} ({c.kind})", level=2)
        for sentence in c.sentences:
            pdf.paragraph(sentence)
        if c.examples:
            pdf.table(
                [f"At {e.attainment:.0%}".replace("%", " %") for e in c.examples],
                [[amount(e.payout, cur) for e in c.examples]],
                amounts=range(len(c.examples)),
            )
        if c.note:
            pdf.paragraph(c.note, muted=True)
    if doc.totals:
        pdf.heading("Worked examples")
        pdf.paragraph(
            "What the plan pays in a period, computed by Quotient's engine, if you reach these "
            "attainments on every measure:"
        )
        pdf.table(
            ["Attainment", "Payout"],
            [[f"{e.attainment:.0%}".replace("%", " %"), amount(e.payout, cur)] for e in doc.totals],
            amounts=[1],
            widths=(0.5, 0.5),
        )
    pdf.paragraph(
        f"Version hash {doc.spec_hash[:16]} · the plan as published is what pays; this document "
        "describes it.",
        muted=True,
    )
    return pdf.render()


def pdf_filename(doc: PlanDocument, employee_id: str) -> str:
    """Return the PDF's file name: plan-<plan>-v<version>-<employee id>.pdf."""
    slug = "".join(c if c.isalnum() else "-" for c in doc.plan_name.lower()).strip("-")
    emp = "".join(c if c.isalnum() else "-" for c in employee_id)
    return f"plan-{slug}-v{doc.version_number}-{emp}.pdf"


def plan_document_response(doc: PlanDocument, *, person: Any, tenant_name: str) -> HttpResponse:
    """Return the PDF of ``person``'s document as a download (the page's and the API's)."""
    content = plan_document_pdf(
        doc, person_name=person.full_name, employee_id=person.employee_id, tenant_name=tenant_name
    )
    return pdf_response(content, pdf_filename(doc, person.employee_id))
