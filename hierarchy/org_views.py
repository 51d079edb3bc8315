"""HTML pages for people and org structure: org chart with a date picker, people list, person
page with timeline, period calendar (the HR import pages are ``import_views.py``). Thin: forms →
services.
Who may see or change whom, and which fields, is the access policy's (``hierarchy/access.py``),
the same one the API asks: the person page and ``/api/v1/people/{id}/`` show the same fields."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from functools import wraps
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from core.errors import ApplicationError
from core.params import parse_date, parse_id
from core.permissions import request_principal
from core.sorting import natural_sorted
from hierarchy import org_selectors as sel
from hierarchy import people, periods
from hierarchy.access import PEOPLE_READ, request_access
from hierarchy.models import HierarchyKind, JobFunction, PeriodKind, Person
from hierarchy.periods import tenant_today

ViewFunc = Callable[..., HttpResponse]


def require_any(*wanted: str) -> Callable[[ViewFunc], ViewFunc]:
    """Allow members holding any of ``wanted``; others get a 404 (like require_permission)."""

    def decorator(view: ViewFunc) -> ViewFunc:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not set(wanted) & _perms(request):
                raise Http404("Not found")
            return view(request, *args, **kwargs)

        return login_required(wrapped)

    return decorator


def _perms(request: HttpRequest) -> frozenset[str]:
    return request_principal(request).permissions


def _as_of(request: HttpRequest) -> date:
    raw = request.GET.get("as_of")
    if raw:
        try:
            return parse_date(raw)
        except ValueError as exc:
            messages.error(request, f"“{raw}” {exc} Showing today.")
    return tenant_today(request.tenant)  # type: ignore[attr-defined]


def _page_id(raw: str) -> int:
    """Return an id from a page's query or form, or 404 (a page has no 400 of its own)."""
    try:
        return parse_id(raw)
    except ValueError:
        raise Http404("Not found") from None


# --- forms -------------------------------------------------------------------------------------


def _node_name(node: Any) -> str:
    return str(node.name)


class PersonForm(forms.Form):
    employee_id = forms.CharField(max_length=64)
    full_name = forms.CharField(max_length=200)
    email = forms.EmailField(required=False)
    hire_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))


class AssignmentForm(forms.Form):
    node_id = forms.TypedChoiceField(label="Node", coerce=int)
    role_id = forms.TypedChoiceField(label="Job role", coerce=int)
    title = forms.CharField(max_length=200, required=False)
    allocation_pct = forms.DecimalField(
        label="Allocation %", max_digits=5, decimal_places=2, initial=100
    )
    is_manager = forms.BooleanField(label="Manages this node", required=False)
    valid_from = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    valid_to = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Exclusive; leave empty for open-ended.",
    )

    def __init__(self, *args: Any, nodes: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["node_id"].choices = [  # type: ignore[attr-defined]
            (n.pk, f"{n.hierarchy.name} / {n.name}")
            for n in natural_sorted(nodes, key=lambda n: f"{n.hierarchy.name} / {n.name}")
        ]
        self.fields["role_id"].choices = [  # type: ignore[attr-defined]
            (r.pk, r.name) for r in sel.job_role_list()
        ]


class TerminateForm(forms.Form):
    termination_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))


class NodeForm(forms.Form):
    code = forms.SlugField(max_length=64)
    name = forms.CharField(max_length=200)
    parent_id = forms.TypedChoiceField(label="Parent", coerce=int, required=False, empty_value=None)
    valid_from = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, hierarchy_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["parent_id"].choices = [("", "— none (a root) —")] + [  # type: ignore[attr-defined]
            (n.pk, n.name)
            for n in natural_sorted(sel.node_list(hierarchy_id=hierarchy_id), key=_node_name)
        ]


class MoveForm(NodeForm):
    def __init__(self, *args: Any, hierarchy_id: int, **kwargs: Any) -> None:
        super().__init__(*args, hierarchy_id=hierarchy_id, **kwargs)
        del self.fields["code"], self.fields["name"]
        self.fields["node_id"] = forms.TypedChoiceField(label="Node", coerce=int)
        self.fields["node_id"].choices = [  # type: ignore[attr-defined]
            (n.pk, n.name)
            for n in natural_sorted(sel.node_list(hierarchy_id=hierarchy_id), key=_node_name)
        ]
        self.order_fields(["node_id", "parent_id", "valid_from"])


class HierarchyForm(forms.Form):
    code = forms.SlugField(max_length=64)
    name = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=HierarchyKind.choices)


class JobRoleForm(forms.Form):
    name = forms.CharField(max_length=120)
    function = forms.ChoiceField(choices=JobFunction.choices)


class GenerateForm(forms.Form):
    fiscal_year = forms.IntegerField(min_value=1900, max_value=2999)


def _apply(request: HttpRequest, form: forms.Form, action: Callable[[], Any], ok: str) -> bool:
    """Run a service for a valid form; show domain errors on the form. Return success."""
    if not form.is_valid():
        return False
    try:
        action()
    except ApplicationError as exc:
        if exc.code == "not_found":
            raise Http404("Not found") from None
        form.add_error(None, exc.message)
        return False
    messages.success(request, ok)
    return True


# --- pages -------------------------------------------------------------------------------------


@require_any("people.view")
def org_chart(request: HttpRequest) -> HttpResponse:
    """The org as of a date, one hierarchy at a time; admins add hierarchies, nodes and moves."""
    as_of = _as_of(request)
    hierarchies = list(sel.hierarchy_list())
    chosen = None
    wanted = request.GET.get("hierarchy")
    if wanted:
        wanted_id = _page_id(wanted)
        chosen = next((h for h in hierarchies if h.pk == wanted_id), None)
        if chosen is None:
            raise Http404("Not found")
    elif hierarchies:
        chosen = next((h for h in hierarchies if h.kind == HierarchyKind.REPORTING), hierarchies[0])
    # Node-scoped admins see their part of the org but cannot restructure it.
    access = request_access(request)
    within = access.scope
    can_change = "people.change" in _perms(request) and not access.node_limited
    post = request.POST if request.method == "POST" else None
    action = request.POST.get("action")
    hierarchy_form = HierarchyForm(post if action == "hierarchy" else None, prefix="h")
    role_form = JobRoleForm(post if action == "role" else None, prefix="r")
    node_form = move_form = None
    if chosen is not None:
        node_form = NodeForm(post if action == "node" else None, hierarchy_id=chosen.pk, prefix="n")
        move_form = MoveForm(post if action == "move" else None, hierarchy_id=chosen.pk, prefix="m")
    if post is not None:
        if not can_change:
            raise Http404("Not found")
        done = False
        if action == "hierarchy":
            done = _apply(
                request,
                hierarchy_form,
                lambda: people.hierarchy_create(**hierarchy_form.cleaned_data),
                "Hierarchy created.",
            )
        elif action == "role":
            done = _apply(
                request,
                role_form,
                lambda: people.job_role_create(**role_form.cleaned_data),
                "Job role created.",
            )
        elif action == "node" and node_form is not None and chosen is not None:
            hid = chosen.pk
            done = _apply(
                request,
                node_form,
                lambda: people.node_create(hierarchy_id=hid, **node_form.cleaned_data),
                "Node created.",
            )
        elif action == "move" and move_form is not None:
            done = _apply(
                request,
                move_form,
                lambda: people.node_move(**move_form.cleaned_data),
                "Node moved.",
            )
        if done:
            query = f"?hierarchy={chosen.pk}&as_of={as_of}" if chosen else ""
            return redirect(reverse("org_chart") + query)
    roots = sel.org_tree(hierarchy=chosen, as_of=as_of, within=within) if chosen else []
    return render(
        request,
        "hierarchy/org_chart.html",
        {
            "active_nav": "org_chart",
            "hierarchies": hierarchies,
            "chosen": chosen,
            "as_of": as_of,
            "roots": roots,
            "can_change": can_change,
            "hierarchy_form": hierarchy_form,
            "role_form": role_form,
            "node_form": node_form,
            "move_form": move_form,
            "roles": sel.job_role_list(),
        },
    )


@require_any(*PEOPLE_READ)
def people_list(request: HttpRequest) -> HttpResponse:
    """The people the member may see as of a date, with search; admins add people."""
    as_of = _as_of(request)
    access = request_access(request)
    start, end = sel.window_of(as_of=as_of)
    visible = access.people(start=start, end=end)
    query = request.GET.get("q", "").strip()
    if query:
        visible = visible & sel.person_list(search=query)
    # Someone new belongs to no node yet: adding people needs tenant-wide access.
    can_change = "people.change" in _perms(request) and not access.node_limited
    form = PersonForm(request.POST or None)
    if request.method == "POST":
        if not can_change:
            raise Http404("Not found")
        created: list[Person] = []

        def create() -> None:
            created.append(people.person_create(**form.cleaned_data))

        if _apply(request, form, create, "Person added."):
            return redirect("person_detail", person_id=created[0].pk)
    page = Paginator(visible.order_by("full_name", "employee_id"), 50).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "hierarchy/people_list.html",
        {
            "active_nav": "people",
            "page": page,
            "query": query,
            "as_of": as_of,
            "form": form,
            "can_change": can_change,
        },
    )


def _timeline_window(request: HttpRequest) -> tuple[date, date, Any, list[Any]]:
    """Return the window for the timeline: ?period=, else the current quarter."""
    today = tenant_today(request.tenant)  # type: ignore[attr-defined]
    quarters = list(periods.period_list(kind=PeriodKind.QUARTERLY))
    wanted = request.GET.get("period")
    chosen = None
    wanted_id = _page_id(wanted) if wanted and wanted.isascii() and wanted.isdigit() else None
    if wanted_id is not None:
        chosen = next((p for p in quarters if p.pk == wanted_id), None) or (
            periods.period_list().filter(pk=wanted_id).first()
        )
    if chosen is None:
        chosen = next((p for p in quarters if p.start <= today < p.end), None)
    if chosen is not None:
        return chosen.start, chosen.end, chosen, quarters
    q_start = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    return q_start, periods._add_months(q_start, 3), None, quarters


@require_any(*PEOPLE_READ)
def person_detail(request: HttpRequest, person_id: int) -> HttpResponse:
    """A person: details, manager chain, timeline over a period, assignments; admin forms."""
    start, end, period, quarters = _timeline_window(request)
    access = request_access(request)
    try:
        person = access.person_get(person_id=person_id, start=start, end=end)
    except ApplicationError:
        raise Http404("Not found") from None
    # Node-scoped admins change the people inside their nodes, and place them only there.
    can_change = (
        "people.change" in _perms(request) and access.current_people().filter(pk=person.pk).exists()
    )
    today = _today(request)
    nodes = [
        n for n in sel.node_list() if access.node_writable(n.pk, today, today + timedelta(days=1))
    ]
    post = request.POST if request.method == "POST" else None
    action = request.POST.get("action")
    assign_form = AssignmentForm(post if action == "assign" else None, prefix="a", nodes=nodes)
    terminate_form = TerminateForm(post if action == "terminate" else None, prefix="t")

    def assign() -> None:
        data = assign_form.cleaned_data
        access.check_node_writable(data["node_id"], data["valid_from"], data.get("valid_to"))
        people.assignment_create(person_id=person.pk, **data)

    if post is not None:
        if not can_change:
            raise Http404("Not found")
        done = False
        if action == "assign":
            done = _apply(request, assign_form, assign, "Assignment added.")
        elif action == "terminate":
            done = _apply(
                request,
                terminate_form,
                lambda: people.person_terminate(person_id=person.pk, **terminate_form.cleaned_data),
                "Termination recorded; open assignments end on that date.",
            )
        elif action == "withdraw":
            assignment_id = _page_id(request.POST.get("assignment_id", ""))
            withdrawn = sel.assignment_list(person_id=person.pk).filter(pk=assignment_id).first()
            if withdrawn is None or not access.node_writable(
                withdrawn.node_id, withdrawn.valid_from, withdrawn.valid_to
            ):
                raise Http404("Not found")
            people.assignment_delete(assignment_id=assignment_id)
            messages.success(request, "Assignment withdrawn.")
            done = True
        if done:
            return redirect(request.get_full_path())
    segments = sel.person_timeline(person=person, start=start, end=end)
    window_days = (end - start).days
    return render(
        request,
        "hierarchy/person_detail.html",
        {
            "active_nav": "people",
            "person": person,
            "manager": sel.person_list().filter(pk=person.manager_id).first()
            if person.manager_id
            else None,
            "chain": sel.manager_chain(person=person, as_of=max(start, min(end, _today(request)))),
            "segments": [
                {
                    "s": s,
                    "left": round(100 * (s.start - start).days / window_days, 2),
                    "width": round(100 * s.days / window_days, 2),
                    "weighted": s.weighted_days.quantize(_TWO),
                    "share_pct": (100 * s.share).quantize(_TWO),
                }
                for s in segments
            ],
            "window": (start, end, window_days),
            "fields": access.person_fields(person),
            "period": period,
            "quarters": quarters,
            "assignments": sel.assignment_list(person_id=person.pk),
            "can_change": can_change,
            "assign_form": assign_form,
            "terminate_form": terminate_form,
        },
    )


_TWO = Decimal("0.01")


def _today(request: HttpRequest) -> date:
    return tenant_today(request.tenant)  # type: ignore[attr-defined]


@require_any(*PEOPLE_READ)
def periods_page(request: HttpRequest) -> HttpResponse:
    """The period calendar; admins and finance generate a fiscal year."""
    can_change = bool({"people.change", "payouts.approve"} & _perms(request)) and (
        not request_access(request).node_limited
    )
    form = GenerateForm(request.POST or None)
    if request.method == "POST":
        if not can_change:
            raise Http404("Not found")
        if _apply(
            request,
            form,
            lambda: periods.period_generate_fiscal_year(**form.cleaned_data),
            "Periods generated.",
        ):
            return redirect("periods")
    rows = list(periods.period_list())
    years: dict[int, dict[str, list[Any]]] = {}
    for p in rows:
        years.setdefault(p.fiscal_year, {"annual": [], "quarterly": [], "monthly": []})[
            p.kind
        ].append(p)
    today = _today(request)
    tenant = request.tenant  # type: ignore[attr-defined]
    return render(
        request,
        "hierarchy/periods.html",
        {
            "active_nav": "periods",
            "years": sorted(years.items(), reverse=True),
            "form": form,
            "can_change": can_change,
            "today": today,
            "suggested_year": periods.fiscal_year_of(tenant, today),
        },
    )
