"""The OpenAPI schema reads like a product's: every operation has tags, a summary and a
description of its own (never a base class's docstring), and declares its errors as the JSON
error envelope. Rules live in core/api/schema.py; this test keeps every new endpoint to them."""

from __future__ import annotations

from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator

from core.api import base
from core.api.schema import AREAS, summary_for

pytestmark = pytest.mark.django_db

BASE_DOCS = {
    (cls.__doc__ or "").strip()
    for cls in (base.TenantAPIView, base.TenantGenericAPIView, base.TenantViewMixin)
} - {""}
ENVELOPE = "#/components/schemas/ErrorEnvelope"


@pytest.fixture(scope="module")
def schema(django_db_setup: Any, django_db_blocker: Any) -> dict[str, Any]:
    with django_db_blocker.unblock():
        return SchemaGenerator().get_schema(request=None, public=True)


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method.upper(), op)
        for path, item in schema["paths"].items()
        if path.startswith("/api/v1/")
        for method, op in item.items()
    ]


def test_every_operation_has_tags_a_summary_and_its_own_description(schema):
    problems = []
    for path, method, op in _operations(schema):
        description = (op.get("description") or "").strip()
        if not op.get("tags") or op["tags"] == ["v1"]:
            problems.append(f"{method} {path}: no area tag (add its path to core/api/schema.AREAS)")
        if not (op.get("summary") or "").strip():
            problems.append(f"{method} {path}: no summary")
        if not description:
            problems.append(f"{method} {path}: no description (give the view a docstring)")
        elif any(description.startswith(doc) for doc in BASE_DOCS):
            problems.append(f"{method} {path}: the base class's docstring as its description")
    assert not problems, "\n".join(problems)


def test_summaries_are_unique_so_the_docs_tell_operations_apart(schema):
    seen: dict[str, str] = {}
    clashes = []
    for path, method, op in _operations(schema):
        summary = op["summary"]
        if summary in seen:
            clashes.append(f"{summary!r}: {seen[summary]} and {method} {path}")
        seen[summary] = f"{method} {path}"
    assert not clashes, "\n".join(clashes)


def test_the_areas_are_the_products_and_listed_in_order(schema):
    used = {t for _, _, op in _operations(schema) for t in op["tags"]}
    assert {
        "People",
        "Hierarchy",
        "Plans",
        "Quotas",
        "Transactions",
        "Credits",
        "Imports",
        "Runs",
        "Statements",
        "Ledger",
        "Exports",
        "Audit",
    } <= used
    assert [t["name"] for t in schema["tags"]][:3] == [
        "Members and API clients",
        "People",
        "Hierarchy",
    ]
    assert all(t.get("description") for t in schema["tags"] if t["name"] in AREAS.values())


def test_every_operation_declares_its_errors_as_the_envelope(schema):
    missing = []
    for path, method, op in _operations(schema):
        wanted = {"400"}
        if op.get("security") != [{}] and path != "/api/v1/plans/schema/":
            wanted |= {"401", "403"}
        if "{" in path:
            wanted.add("404")
        if method != "GET":
            wanted.add("409")
        for code in sorted(wanted):
            response = op["responses"].get(code)
            ref = (response or {}).get("content", {}).get("application/json", {}).get("schema", {})
            if ref.get("$ref") != ENVELOPE:
                missing.append(f"{method} {path}: {code}")
    assert not missing, missing[:20]
    envelope = schema["components"]["schemas"]["ErrorEnvelope"]
    assert envelope["required"] == ["error"]


def test_writes_document_the_idempotency_key_header(schema):
    op = schema["paths"]["/api/v1/export-batches/"]["post"]
    assert "Idempotency-Key" in {p["name"] for p in op["parameters"] if p["in"] == "header"}
    assert "422" in op["responses"]


def test_the_main_finance_operations_have_examples(schema):
    def examples(op: dict[str, Any], code: str) -> dict[str, Any]:
        return op["responses"][code]["content"]["application/json"].get("examples", {})

    paths = schema["paths"]
    assert examples(paths["/api/v1/payouts/"]["get"], "200")
    create = paths["/api/v1/export-batches/"]["post"]
    assert create["requestBody"]["content"]["application/json"].get("examples")
    assert examples(create, "201")
    assert examples(paths["/api/v1/export-batches/{batch_id}/mark-paid/"]["post"], "200")
    assert examples(paths["/api/v1/runs/"]["post"], "201")
    assert examples(paths["/api/v1/statements/"]["get"], "200")


@pytest.mark.parametrize(
    ("method", "path", "summary"),
    [
        ("GET", "/api/v1/runs/", "List runs"),
        ("GET", "/api/v1/runs/{run_id}/", "Get a run"),
        ("PATCH", "/api/v1/people/{person_id}/", "Update a person"),
        ("POST", "/api/v1/periods/{period_id}/approve/", "Approve a period"),
        ("GET", "/api/v1/people/{person_id}/timeline/", "Get a person's timeline"),
        ("GET", "/api/v1/hr-imports/", "List HR imports"),
        ("POST", "/api/v1/audit-events/", "Create an audit event"),
    ],
)
def test_summaries_built_from_the_path_read_as_sentences(method, path, summary):
    assert summary_for(method, path) == summary
