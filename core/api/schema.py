"""OpenAPI schema generation: the one place that makes every operation read like a product's.

Every ``/api/v1/`` operation gets, here and nowhere else:

* **tags** by area (:data:`AREAS`: the first path segment → People, Plans, Runs, Exports…),
  unless the view names its own with ``extend_schema(tags=...)``;
* a **summary** (``extend_schema(summary=...)``, else one built from the method and the path:
  ``GET /runs/{run_id}/`` → "Get a run", ``POST /periods/{id}/approve/`` → "Approve a period");
* a **description**: ``extend_schema(description=...)``, the method's docstring or the view's
  own, never one inherited from the API base classes (``TenantAPIView``'s "Base of every
  tenant API view." used to leak onto every view without a docstring);
* the **error responses** it can give — 400, 401, 403, 404 (paths with an id), 409 and 422
  (writes) — each the JSON error envelope (the ``ErrorEnvelope`` component), and the
  ``Idempotency-Key`` header on writes.

``tests/core/test_openapi_schema.py`` fails for an operation without a summary, a description
or tags, or whose description is a base class's docstring.
"""

from __future__ import annotations

import inspect
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter
from rest_framework import serializers
from rest_framework.permissions import AllowAny

# First path segment under /api/v1/ → the area (the tag) it is documented under.
AREAS: dict[str, str] = {
    "me": "Members and API clients",
    "members": "Members and API clients",
    "api-clients": "Members and API clients",
    "people": "People",
    "job-roles": "People",
    "hr-imports": "People",
    "hierarchies": "Hierarchy",
    "nodes": "Hierarchy",
    "assignments": "Hierarchy",
    "periods": "Periods",
    "plans": "Plans",
    "plan-templates": "Plans",
    "plan-assignments": "Plans",
    "plan-acknowledgements": "Plans",
    "quotas": "Quotas",
    "objectives": "Objectives",
    "transactions": "Transactions",
    "kpi-values": "Transactions",
    "fx-rates": "Transactions",
    "credits": "Credits",
    "credit-rollups": "Credits",
    "crediting-rules": "Credits",
    "imports": "Imports",
    "column-mappings": "Imports",
    "runs": "Runs",
    "run-schedules": "Runs",
    "statements": "Statements",
    "rollups": "Statements",
    "earnings": "Earnings",
    "nudges": "Earnings",
    "ledger-entries": "Ledger",
    "adjustments": "Ledger",
    "draws": "Ledger",
    "holds": "Ledger",
    "clawbacks": "Ledger",
    "payouts": "Exports",
    "export-batches": "Exports",
    "earning-codes": "Exports",
    "audit-events": "Audit",
    "approvals": "Approvals",
    "approval-routes": "Approvals",
    "disputes": "Disputes",
    "accruals": "Accruals",
    "analytics": "Analytics",
    "milestones": "Milestones",
    "anomalies": "Anomalies",
}
# The areas in the order the docs list them, with what each is for.
TAGS: list[dict[str, str]] = [
    {
        "name": "Members and API clients",
        "description": "Who may use the tenant: members "
        "and their roles, API clients and their scoped tokens, and who is asking (`/me/`).",
    },
    {"name": "People", "description": "People (payees), job roles and HR imports."},
    {
        "name": "Hierarchy",
        "description": "Hierarchies, their nodes and effective-dated "
        "assignments: who was where on any day.",
    },
    {
        "name": "Periods",
        "description": "The fiscal calendar and each period's lifecycle: "
        "submit, approve (with one run), reopen, close.",
    },
    {
        "name": "Plans",
        "description": "Plans, immutable published versions, templates, "
        "assignments with target incentives, acknowledgements.",
    },
    {"name": "Quotas", "description": "Quotas per person or node and period."},
    {
        "name": "Objectives",
        "description": "MBO objectives per person and period: weights, completion, set, "
        "submit, sign-off and reopen; runs pay mbo components on signed-off completions.",
    },
    {"name": "Transactions", "description": "Transactions (versioned), KPI values and FX rates."},
    {
        "name": "Credits",
        "description": "Crediting rules, the credits computed from them and managers' roll-ups.",
    },
    {
        "name": "Imports",
        "description": "CSV and JSON imports of incentive data, their "
        "row-level errors, retries and saved column mappings.",
    },
    {
        "name": "Runs",
        "description": "Calculation runs: start, progress, lines, compare, retry; run schedules.",
    },
    {
        "name": "Statements",
        "description": "Each person's statement per period, with every line's trace; CSV and "
        "PDF; roll-ups of a team's or business unit's payouts as they stood in the period.",
    },
    {
        "name": "Earnings",
        "description": "The caller's own earnings progress (tiers, distance to the next, "
        "projection) and nudge preference.",
    },
    {
        "name": "Ledger",
        "description": "The append-only payout ledger: entries, adjustments "
        "(four eyes), draws, holds, clawbacks.",
    },
    {
        "name": "Exports",
        "description": "Approved payouts, export batches (idempotent), payroll "
        "and GL files, mark paid, earning codes.",
    },
    {"name": "Audit", "description": "The append-only audit log, searchable, as JSON or CSV."},
    {
        "name": "Approvals",
        "description": "Approval routes (ordered steps, the last finance) and each period's "
        "approval request: approve or reject its current step.",
    },
    {
        "name": "Disputes",
        "description": "Payees' questions about a line, a trace step, a credit or a missing "
        "deal: routed, commented, assigned, resolved (with an adjustment), rejected, withdrawn.",
    },
    {
        "name": "Accruals",
        "description": "Unpaid commission accruals, capitalized commission assets and "
        "their amortization, and the capitalization policies.",
    },
    {
        "name": "Analytics",
        "description": "Executive analytics: incentive cost and what it buys, for a period "
        "and the window of periods up to it.",
    },
    {
        "name": "Milestones",
        "description": "Shared goals: those a caller takes part in, each with its participants.",
    },
    {"name": "Anomalies", "description": "A period's payouts that stand out, for comp admins."},
]

# Words the summary builder cannot singularise by rule.
SINGULAR = {
    "people": "person",
    "hierarchies": "hierarchy",
    "entries": "entry",
    "kpi-values": "KPI value",
    "fx-rates": "FX rate",
    "me": "me",
    "hr-imports": "HR import",
    "api-clients": "API client",
    "statuses": "status",
}
_DOC_BASES = ("core.api.base", "rest_framework.")


class ErrorBodySerializer(serializers.Serializer):  # type: ignore[type-arg]
    code = serializers.CharField(help_text="Stable, machine-readable: e.g. not_found")
    message = serializers.CharField(help_text="For people, in English")
    details = serializers.DictField(
        help_text='Per field or guard, e.g. {"amount": ["Enter a number."]}'
    )


class ErrorEnvelopeSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """Every API error: ``{"error": {"code", "message", "details"}}``."""

    error = ErrorBodySerializer()


ERRORS: dict[str, tuple[str, dict[str, Any]]] = {
    "400": (
        "Bad input: an unknown or malformed parameter, an invalid body",
        {
            "code": "invalid_parameter",
            "message": "since: Enter a valid date.",
            "details": {"since": ["Enter a valid date."]},
        },
    ),
    "401": (
        "Not signed in, or a token that is malformed, unknown or revoked",
        {
            "code": "authentication_failed",
            "message": "Invalid or revoked API token.",
            "details": {},
        },
    ),
    "403": (
        "Your role or your API client's scopes do not allow this",
        {
            "code": "permission_denied",
            "message": "You do not have permission to do this.",
            "details": {},
        },
    ),
    "404": (
        "Not found (another tenant's object is the same 404)",
        {"code": "not_found", "message": "Not found.", "details": {}},
    ),
    "409": (
        "Conflict with the current state: a guard refused it (`details.guard` names it)",
        {"code": "conflict", "message": "The period is closed.", "details": {"guard": "status"}},
    ),
    "422": (
        "This Idempotency-Key was used with a different request",
        {
            "code": "idempotency_key_reused",
            "message": "This Idempotency-Key was used with a different request.",
            "details": {},
        },
    ),
}
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
IDEMPOTENCY_PARAMETER = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    description="Any unique string (at most 255 printable characters). A replay with the same "
    "key answers the first response (`Idempotent-Replayed: true`) without acting again; the "
    "same key with a different request is a 422.",
)


def own_doc(cls: type) -> str:
    """Return the docstring ``cls`` (or an app class it extends) declares, never one inherited
    from the API base classes or DRF."""
    for klass in cls.__mro__:
        if klass.__module__.startswith(_DOC_BASES) or klass is object:
            return ""
        doc = klass.__dict__.get("__doc__")
        if doc:
            return inspect.cleandoc(doc)
    return ""


ACRONYMS = {"hr": "HR", "api": "API", "kpi": "KPI", "fx": "FX", "csv": "CSV", "pdf": "PDF"}


def _words(segment: str) -> str:
    words = segment.replace("-", " ").replace("_", " ").split()
    return " ".join(ACRONYMS.get(w, w) for w in words)


def _singular(segment: str) -> str:
    if segment in SINGULAR:
        return SINGULAR[segment]
    word = _words(segment)
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("sses", "ches", "shes", "xes")):
        return word[:-2]
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word


def _article(noun: str) -> str:
    if noun == "me":
        return "me"
    first = noun.split()[0]
    vowel = first[0].lower() in "aeiou" or (first.isupper() and first[0] in "AEFHILMNORSX")
    return ("an " if vowel else "a ") + noun


def summary_for(method: str, path: str) -> str:
    """Return a summary from the method and path, for operations that do not declare one."""
    parts = [p for p in path.strip("/").split("/") if p][2:]  # after api/v1
    literal = [p for p in parts if not p.startswith("{")]
    ends_with_id = bool(parts) and parts[-1].startswith("{")
    if not literal:
        return method.capitalize()
    resource = literal[0]
    if len(literal) == 1:
        if ends_with_id:
            verb = {"GET": "Get", "PATCH": "Update", "PUT": "Replace", "DELETE": "Delete"}
            return f"{verb.get(method, method.capitalize())} {_article(_singular(resource))}"
        if method == "GET":
            return f"List {_words(resource)}" if resource != "me" else "Who am I"
        return f"Create {_article(_singular(resource))}"
    last = literal[-1]
    owner = _singular(resource)
    has_id = any(p.startswith("{") for p in parts[: parts.index(last)])
    thing = f"{_article(owner)}'s {_words(last)}" if has_id else f"{_words(owner)} {_words(last)}"
    if method == "GET":
        return f"Get {thing}"
    if method == "POST" and has_id:
        return f"{_upper_first(_words(last))} {_article(owner)}"
    return f"{_upper_first(_words(last))} {_words(resource)}"


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


class QuotientAutoSchema(AutoSchema):
    """Name nested serializers after their view: ``MemberList.Input`` → ``MemberListInput``;
    tags, summaries, descriptions and error responses for every operation (module docstring).

    Every view declares its own ``InputSerializer`` / ``OutputSerializer`` (STYLE.md §6); without
    the prefix they would all be one ``Input`` component and the schema would be wrong.
    """

    def get_serializer_name(self, serializer: Any, direction: Any) -> str:
        name: str = super().get_serializer_name(serializer, direction)
        cls = serializer.__class__
        if "." in cls.__qualname__:
            owner = cls.__qualname__.split(".")[0]
            owner = owner[: -len("View")] if owner.endswith("View") else owner
            name = owner + name
        return name

    # --- what an operation is called and where it is listed ------------------------------

    def get_tags(self) -> list[str]:
        parts = [p for p in self.path.strip("/").split("/") if p]
        area = parts[2] if len(parts) > 2 and parts[:2] == ["api", "v1"] else ""
        if area in AREAS:
            return [AREAS[area]]
        return [_upper_first(_words(area))] if area else super().get_tags()

    def get_summary(self) -> str | None:
        return summary_for(self.method, self.path)

    def get_description(self) -> str:  # type: ignore[override]
        handler = getattr(self.view, self.method.lower(), None)
        method_doc = inspect.cleandoc(handler.__doc__) if handler and handler.__doc__ else ""
        return method_doc or own_doc(self.view.__class__)

    # --- headers and errors ----------------------------------------------------------------

    def _public(self) -> bool:
        return any(isinstance(p, AllowAny) for p in self.view.get_permissions())

    def get_override_parameters(self) -> list[Any]:
        parameters = list(super().get_override_parameters())
        declared = {getattr(p, "name", None) for p in parameters}
        if (
            self.method in WRITES
            and getattr(self.view, "idempotent", False)
            and IDEMPOTENCY_PARAMETER.name not in declared
        ):
            parameters.append(IDEMPOTENCY_PARAMETER)
        return parameters

    def _error_codes(self) -> list[str]:
        codes = ["400"]
        if not self._public():
            codes += ["401", "403"]
        if "{" in self.path:
            codes.append("404")
        if self.method in WRITES:
            codes.append("409")
            if getattr(self.view, "idempotent", False):
                codes.append("422")
        return codes

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code in self._error_codes():
            declared = responses.get(code)
            if declared is not None and declared.get("content"):
                continue  # the view documents its own body for this code
            description, example = ERRORS[code]
            body = self._get_response_for_code(  # type: ignore[no-untyped-call]
                ErrorEnvelopeSerializer, code, direction=direction
            )
            body["description"] = (declared or {}).get("description") or description
            for media in body.get("content", {}).values():
                media["examples"] = {
                    example["code"]: {"value": {"error": example}, "summary": description}
                }
            responses[code] = body
        return dict(sorted(responses.items()))


def example(name: str, value: Any, *, request: bool = False, **kwargs: Any) -> OpenApiExample:
    """An example for ``extend_schema(examples=...)``: a response's unless ``request``."""
    return OpenApiExample(
        name, value=value, request_only=request, response_only=not request, **kwargs
    )


def postprocess(result: dict[str, Any], generator: Any, **kwargs: Any) -> dict[str, Any]:
    """Add the areas (tags) in their order, with descriptions (SPECTACULAR_SETTINGS hook)."""
    used = {
        tag
        for item in result.get("paths", {}).values()
        for op in item.values()
        for tag in op.get("tags", [])
    }
    known = [t for t in TAGS if t["name"] in used]
    extra = [{"name": t} for t in sorted(used - {t["name"] for t in TAGS})]
    result["tags"] = known + extra
    return result


class ApiClientAuthenticationScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """Document ``Authorization: Bearer qtk_<key id>_<secret>``."""

    target_class = "core.api.auth.ApiClientAuthentication"
    name = "apiClientToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "qtk_<key id>_<secret>",
            "description": "An API client token, created by a tenant admin (shown once).",
        }
