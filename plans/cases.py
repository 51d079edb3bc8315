"""Plan test cases: a version's own worked examples (inputs -> the payout they must give).

A case holds inputs in the engine's readable format (the one the golden cases and the builder's
"try it" panel use, ``engine.loader.inputs_from_mapping``) and the payout one payee must get,
in total and optionally per component, exactly (Decimal, no tolerance). :func:`case_run` asks
``engine.compute`` with the version's spec; nothing here computes pay. Publishing a version is
refused while any of its cases fails (:func:`check_cases_pass`, called by
``plans.services.plan_version_publish``), with every failing case and its difference in words.

A plan that pays on others' pay (``aggregate: earned``) reads other plans' earned lines: the
plans it names are found by :func:`related_specs` (the tenant's plan with that code or spec id,
its version in force or latest; else the template of that key), so a case or a "try it"
sample can put the team on those plans.

Writes (create, update, delete) each record one audit event; a case of a published version
cannot change, like the version. A new draft copies the cases of the version it is based on
(:func:`cases_copy`, counted in the draft's own audit event).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from core.audit import audit_record
from core.errors import ConflictError, NotFoundError, ValidationFailedError
from core.models import model_snapshot
from core.params import ID_MAX
from engine.money import exponent, is_currency_code
from engine.spec import component_title, spec_component_titles
from plans import catalog, preview
from plans.models import PlanCase, PlanVersion, VersionStatus
from plans.source import Problem, line_of, load_text

CASES_FAIL = "{count} test case(s) of version {number} fail; publishing is refused: {first}"
CASE_PUBLISHED = (
    "Version {number} is published and cannot change, nor can its test cases; "
    "edit the draft's cases instead."
)
CASE_DUPLICATE = "Version {number} already has a test case named {name!r}."
CASE_NOT_FOUND = "Test case not found."
NEEDS_NAME = "Give the case a name."
BAD_INPUTS = "The inputs have {count} problem(s); the first: {first}"
BAD_AMOUNT = "{what} must be a number (at most 4 decimals)."
WHICH_PERSON = (
    "Say whose payout is expected (person): the inputs put {count} people on this plan ({names})."
)
NO_PERSON = "The inputs put no one on this plan: add a person under people."
NOT_ON_PLAN = "{person!r} is not on this plan in the inputs (people on it: {names})."
NO_CASES = 'This version has no test cases: add one from the "try it" panel.'
MAX_INPUT_CHARS = 100_000
LISTS = ("people", "credits", "quotas", "kpis", "transactions", "nodes", "timeline")
MINUS = "\u2212"


# --- reading what a case says -------------------------------------------------------------------


@dataclass(frozen=True)
class CheckedInputs:
    """A case's inputs text, what it parses to, and its problems (each at its line)."""

    source: str
    inputs: dict[str, Any] | None
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return self.inputs is not None and not self.problems


def check_inputs(text: str) -> CheckedInputs:
    """Parse a case's inputs (YAML or JSON) and check their shape: every problem at its path."""
    if len(text) > MAX_INPUT_CHARS:
        return CheckedInputs(text, None, (Problem("", f"longer than {MAX_INPUT_CHARS:,}"),))
    data, problem = load_text(text)
    if problem is not None:
        return CheckedInputs(text, None, (problem,))
    if not isinstance(data, dict):
        msg = "the inputs must be a mapping (period, people, quotas, credits, kpis, ...)"
        return CheckedInputs(text, None, (Problem("", msg, 1),))
    found: list[tuple[str, str]] = []
    period = data.get("period")
    if not isinstance(period, dict):
        found.append(("period", "required: {id, start, end}"))
    else:
        found += [(f"period.{k}", "required") for k in ("id", "start", "end") if k not in period]
    for key in LISTS:
        value = data.get(key)
        if value is not None and not isinstance(value, list):
            found.append((key, "must be a list"))

    def rows(key: str) -> list[Any]:
        value = data.get(key)
        return value if isinstance(value, list) else []

    for i, row in enumerate(rows("people")):
        if not isinstance(row, dict) or "person" not in row:
            found.append((f"people[{i}].person", "required"))
    for i, row in enumerate(rows("credits")):
        if not isinstance(row, dict):
            found.append((f"credits[{i}]", "must be a mapping"))
            continue
        found += [(f"credits[{i}].{k}", "required") for k in ("person", "date") if k not in row]
    problems = tuple(Problem(path, msg, line_of(text, path)) for path, msg in found)
    return CheckedInputs(text, data, problems)


def _amount(value: Any, what: str) -> Decimal:
    try:
        number = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        raise ValidationFailedError(
            BAD_AMOUNT.format(what=what), code="invalid_amount", details={"expected": [what]}
        ) from None
    if not number.is_finite() or number.as_tuple().exponent < -4:  # type: ignore[operator]
        raise ValidationFailedError(
            BAD_AMOUNT.format(what=what), code="invalid_amount", details={"expected": [what]}
        )
    return number


def _components(value: Mapping[str, Any] | None) -> dict[str, str]:
    return {
        str(k): str(_amount(v, f"The expected payout of component {k}"))
        for k, v in (value or {}).items()
    }


# --- the plans a case runs with ------------------------------------------------------------------


def related_specs(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return the specs of the plans ``spec`` reads earned amounts of, each with ``id`` set to
    the reference as written: the tenant's plan of that code (or spec id), its version in force
    today or else its latest; otherwise the template of that key. Unknown ones are left out
    (the engine names them)."""
    out: list[dict[str, Any]] = []
    today = timezone.now().date()
    for ref in preview.earned_refs(spec):
        versions = PlanVersion.objects.filter(
            Q(plan__code=ref) | Q(spec__id=ref), plan__archived_at__isnull=True
        ).order_by("-number", "-id")
        version = (
            versions.filter(status=VersionStatus.PUBLISHED).overlapping(today, None).first()
            if versions.exists()
            else None
        ) or versions.first()
        if version is not None:
            out.append({**version.spec, "id": ref})
            continue
        plan = catalog.template_plan(ref)
        if plan is not None:
            out.append({**plan, "id": ref})
    return out


def _people_on(inputs: Mapping[str, Any], plan_id: str) -> list[str]:
    names: list[str] = []
    for key in ("people", "assignments"):
        rows = inputs.get(key)
        for row in rows if isinstance(rows, list) else []:
            if isinstance(row, dict) and str(row.get("plan", plan_id)) == plan_id:
                name = str(row.get("person"))
                if name not in names:
                    names.append(name)
    return names


def _payee(inputs: Mapping[str, Any], plan_id: str, person: str) -> str:
    names = _people_on(inputs, plan_id)
    if person:
        if person not in names:
            raise ValidationFailedError(
                NOT_ON_PLAN.format(person=person, names=", ".join(names) or "none"),
                code="invalid_case",
                details={"person": [NOT_ON_PLAN.format(person=person, names=", ".join(names))]},
            )
        return person
    if not names:
        raise ValidationFailedError(NO_PERSON, code="invalid_case", details={"inputs": [NO_PERSON]})
    if len(names) > 1:
        msg = WHICH_PERSON.format(count=len(names), names=", ".join(names))
        raise ValidationFailedError(msg, code="invalid_case", details={"person": [msg]})
    return names[0]


# --- running ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ComponentCheck:
    """One component of a case: what it should pay (None: not checked alone) and what it paid."""

    component: str
    expected: Decimal | None
    actual: Decimal
    title: str = ""
    """The component's name in the plan (its id in words when it has none)."""

    @property
    def passed(self) -> bool:
        return self.expected is None or self.expected == self.actual


@dataclass(frozen=True)
class CaseResult:
    """A case run: passed or not, expected vs actual (total and per component), in words."""

    case_id: int | None
    name: str
    person: str
    currency: str
    expected_total: Decimal
    actual_total: Decimal | None
    components: tuple[ComponentCheck, ...] = ()
    error: str = ""
    differences: tuple[str, ...] = field(default=())

    @property
    def passed(self) -> bool:
        return not self.error and not self.differences

    def as_dict(self) -> dict[str, Any]:
        return {
            "case": self.case_id,
            "name": self.name,
            "person": self.person,
            "passed": self.passed,
            "currency": self.currency,
            "expected_total": str(self.expected_total),
            "actual_total": None if self.actual_total is None else str(self.actual_total),
            "components": [
                {
                    "component": c.component,
                    "title": c.title,
                    "expected": None if c.expected is None else str(c.expected),
                    "actual": str(c.actual),
                    "passed": c.passed,
                }
                for c in self.components
            ],
            "error": self.error,
            "differences": list(self.differences),
        }


def money_text(value: Decimal, currency: str) -> str:
    """Return an amount as people read it: separators, the currency's decimals (``12,500.00``)."""
    places = exponent(currency) if is_currency_code(currency) else 2
    finer = -value.normalize().as_tuple().exponent  # type: ignore[operator]
    return f"{value:,.{max(places, finer)}f}"


def _signed(value: Decimal, currency: str) -> str:
    text = money_text(abs(value), currency)
    return f"{MINUS}{text}" if value < 0 else f"+{text}"


def _difference(name: str, expected: Decimal, actual: Decimal, currency: str, where: str) -> str:
    return (
        f"Case {name!r}: expected {money_text(expected, currency)} {currency}, got "
        f"{money_text(actual, currency)} {currency} ({_signed(actual - expected, currency)}) "
        f"{where}"
    )


def run_inputs(
    *,
    spec: Mapping[str, Any],
    inputs: Mapping[str, Any],
    person: str,
    name: str,
    expected_total: Decimal,
    expected_components: Mapping[str, Any],
    case_id: int | None = None,
    related: list[dict[str, Any]] | None = None,
) -> CaseResult:
    """Return what ``spec`` pays ``person`` on ``inputs`` against what the case expects;
    ``related``: the plans it reads earned amounts of (default: :func:`related_specs`)."""
    plan_id = str(spec.get("id", ""))
    currency = str(spec.get("currency", ""))
    want = {str(k): Decimal(str(v)) for k, v in (expected_components or {}).items()}
    base = CaseResult(case_id, name, person, currency, expected_total, None)
    try:
        payee = _payee(inputs, plan_id, person)
        result = preview.run_with(spec, inputs, related_specs(spec) if related is None else related)
    except ValidationFailedError as exc:
        return _replace(base, error=exc.message)
    except Exception as exc:  # the engine refusing the inputs is the case's failure, in words
        return _replace(base, error=f"Case {name!r} does not run: {type(exc).__name__}: {exc}")
    paid: dict[str, Decimal] = {}
    for line in result.lines:
        if line.plan_id == plan_id and line.person_id == payee:
            paid[line.component_id] = paid.get(line.component_id, Decimal(0)) + line.amount
    total = sum(paid.values(), Decimal(0))
    names = [str(c.get("id")) for c in spec.get("components") or [] if isinstance(c, dict)]
    names += [c for c in list(paid) + list(want) if c not in names]
    titles = spec_component_titles(spec)
    checks = tuple(
        ComponentCheck(c, want.get(c), paid.get(c, Decimal(0)), titles.get(c) or component_title(c))
        for c in names
        if c in paid or c in want
    )
    differences = [
        _difference(name, c.expected, c.actual, currency, f"on {c.title}")
        for c in checks
        if c.expected is not None and not c.passed
    ]
    if total != expected_total:
        differences.append(_difference(name, expected_total, total, currency, "in total"))
    return CaseResult(
        case_id, name, payee, currency, expected_total, total, checks, "", tuple(differences)
    )


def _replace(base: CaseResult, *, error: str) -> CaseResult:
    return CaseResult(
        base.case_id, base.name, base.person, base.currency, base.expected_total, None, (), error
    )


def case_run(case: PlanCase, *, spec: Mapping[str, Any] | None = None) -> CaseResult:
    """Return one case's result on its version's spec (or on ``spec``, e.g. unsaved text)."""
    return run_inputs(
        spec=case.plan_version.spec if spec is None else spec,
        inputs=case.inputs,
        person=case.person,
        name=case.name,
        expected_total=case.expected_total,
        expected_components=case.expected_components,
        case_id=case.pk,
    )


def plan_case_list(*, version: PlanVersion) -> QuerySet[PlanCase]:
    """Return a version's cases, by name."""
    return PlanCase.objects.filter(plan_version=version).order_by("name", "id")


def plan_cases_run(*, version: PlanVersion) -> list[CaseResult]:
    """Return the result of every case of a version, by name."""
    cases = list(plan_case_list(version=version))
    for case in cases:
        case.plan_version = version
    return [case_run(case) for case in cases]


def check_cases_pass(version: PlanVersion) -> None:
    """Raise ValidationFailedError listing every failing case (each with its difference)."""
    results = plan_cases_run(version=version)
    failing = [r for r in results if not r.passed]
    if not failing:
        return
    sentences = [s for r in failing for s in ([r.error] if r.error else r.differences)]
    raise ValidationFailedError(
        CASES_FAIL.format(count=len(failing), number=version.number, first=sentences[0]),
        code="plan_cases_failing",
        details={"cases": [r.as_dict() for r in failing], "failures": sentences},
    )


# --- writes -------------------------------------------------------------------------------------


def _draft(version_id: int) -> PlanVersion:
    version: PlanVersion | None = (
        PlanVersion.objects.select_for_update().select_related("plan").filter(pk=version_id).first()
    )
    if version is None:
        raise NotFoundError("Plan version not found.")
    if version.is_published:
        raise ConflictError(CASE_PUBLISHED.format(number=version.number), code="version_published")
    return version


def _snapshot(case: PlanCase) -> dict[str, Any]:
    return model_snapshot(case, fields=["plan_version", *CASE_FIELDS])


def _checked(text: str) -> dict[str, Any]:
    checked = check_inputs(text)
    if not checked.ok:
        raise ValidationFailedError(
            BAD_INPUTS.format(count=len(checked.problems), first=checked.problems[0]),
            code="invalid_case",
            details={
                "inputs": [
                    f"{p.path}: {p.message}" if p.path else p.message for p in checked.problems
                ],
                "problems": [p.as_dict() for p in checked.problems],
            },
        )
    assert checked.inputs is not None
    return checked.inputs


def _fill(
    case: PlanCase,
    *,
    name: str,
    inputs_source: str,
    expected_total: Any,
    expected_components: Mapping[str, Any] | None,
    person: str,
) -> None:
    name = name.strip()
    if not name:
        raise ValidationFailedError(NEEDS_NAME, code="invalid_case", details={"name": [NEEDS_NAME]})
    clash = PlanCase.objects.filter(plan_version=case.plan_version, name=name).exclude(pk=case.pk)
    if clash.exists():
        raise ConflictError(
            CASE_DUPLICATE.format(number=case.plan_version.number, name=name),
            code="duplicate_case",
        )
    case.inputs = _checked(inputs_source)
    case.name, case.inputs_source, case.person = name, inputs_source, person.strip()
    case.expected_total = _amount(expected_total, "The expected total")
    case.expected_components = _components(expected_components)
    _payee(case.inputs, str(case.plan_version.spec.get("id", "")), case.person)


@transaction.atomic
def plan_case_create(
    *,
    version_id: int,
    name: str,
    inputs_source: str,
    expected_total: Any,
    user_id: int | None,
    expected_components: Mapping[str, Any] | None = None,
    person: str = "",
) -> PlanCase:
    """Add a test case to a draft version."""
    version = _draft(version_id)
    now = timezone.now()
    case = PlanCase(plan_version=version, created_at=now, updated_at=now, created_by_id=user_id)
    _fill(
        case,
        name=name,
        inputs_source=inputs_source,
        expected_total=expected_total,
        expected_components=expected_components,
        person=person,
    )
    case.full_clean()
    case.save()
    audit_record(action="plan_case.create", obj=case, after=_snapshot(case))
    return case


def _case(case_id: int) -> PlanCase:
    case: PlanCase | None = (
        PlanCase.objects.select_related("plan_version").filter(pk=case_id).first()
    )
    if case is None:
        raise NotFoundError(CASE_NOT_FOUND)
    return case


@transaction.atomic
def plan_case_update(
    *,
    case_id: int,
    user_id: int | None,
    name: str | None = None,
    inputs_source: str | None = None,
    expected_total: Any = None,
    expected_components: Mapping[str, Any] | None = None,
    person: str | None = None,
) -> PlanCase:
    """Change a draft's test case (what is not given stays)."""
    case = _case(case_id)
    case.plan_version = _draft(case.plan_version_id)
    before = _snapshot(case)
    _fill(
        case,
        name=case.name if name is None else name,
        inputs_source=case.inputs_source if inputs_source is None else inputs_source,
        expected_total=case.expected_total if expected_total is None else expected_total,
        expected_components=(
            case.expected_components if expected_components is None else expected_components
        ),
        person=case.person if person is None else person,
    )
    case.updated_at = timezone.now()
    case.full_clean()
    case.save()
    audit_record(action="plan_case.update", obj=case, before=before, after=_snapshot(case))
    return case


@transaction.atomic
def plan_case_delete(*, case_id: int, user_id: int | None) -> None:
    """Delete a draft's test case."""
    case = _case(case_id)
    _draft(case.plan_version_id)
    before = _snapshot(case)
    audit_record(action="plan_case.delete", obj=case, before=before)
    case.delete()


CASE_FIELDS = (
    "name",
    "person",
    "inputs_source",
    "inputs",
    "expected_total",
    "expected_components",
)


def _bulk_add(version: PlanVersion, rows: list[dict[str, Any]], user_id: int | None) -> int:
    """Write ``rows`` (each the :data:`CASE_FIELDS`) as cases of ``version``; return how many."""
    now = timezone.now()
    PlanCase.objects.bulk_create(
        PlanCase(plan_version=version, created_at=now, created_by_id=user_id, updated_at=now, **row)
        for row in rows
    )
    return len(rows)


def cases_copy(*, source: PlanVersion, target: PlanVersion, user_id: int | None) -> int:
    """Copy ``source``'s cases onto the new draft ``target``; return how many (the caller's
    audit event counts them: a new draft is one event)."""
    rows = PlanCase.objects.filter(plan_version=source).order_by("name", "id")
    return _bulk_add(target, list(rows.values(*CASE_FIELDS)), user_id)


def template_cases_add(*, version: PlanVersion, template: str, user_id: int | None) -> int:
    """Give a plan's first draft the worked cases its template carries; return how many."""
    rows = [
        {
            "name": str(c["name"]),
            "person": str(c.get("person", "")),
            "inputs_source": c["source"],
            "inputs": c["inputs"],
            "expected_total": Decimal(str(c["expected"]["total"])),
            "expected_components": _components(c["expected"].get("components")),
        }
        for c in catalog.template_cases(template)
    ]
    return _bulk_add(version, rows, user_id)


def plan_case_get(*, version: PlanVersion, case_id: int) -> PlanCase:
    """Return one case of ``version`` or raise NotFoundError (another version's is not found)."""
    if not 0 < case_id <= ID_MAX:
        raise NotFoundError(CASE_NOT_FOUND)
    case: PlanCase | None = PlanCase.objects.filter(plan_version=version, pk=case_id).first()
    if case is None:
        raise NotFoundError(CASE_NOT_FOUND)
    case.plan_version = version
    return case
