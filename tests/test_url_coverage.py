"""Every URL pattern has a cross-tenant test (or a stated reason why tenancy does not apply)."""

from __future__ import annotations

import ast
from pathlib import Path

from django.urls import URLPattern, URLResolver, get_resolver

# Pages that never show tenant data, and why.
NO_TENANT_DATA = {
    "django-admin": "platform tables only, staff users only (see hierarchy/admin.py)",
    "django-admin-login": "the platform admin's sign-in, before any tenant is known",
    "login": "before any tenant is known",
    "logout": "ends the session only",
    "password_reset": "platform users table; reveals nothing about membership",
    "password_reset_done": "static page",
    "password_reset_confirm": "token-bound to one user",
    "password_reset_complete": "static page",
    "healthz": "reports infrastructure, no tenant data",
    "api-schema": "describes the open-source API, no tenant data",
    "api-docs": "same as schema",
    "api-plan-schema": "the plan language's JSON Schema, no tenant data",
}


def _names(resolver: URLResolver, namespace: str = "") -> set[str]:
    names: set[str] = set()
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace == "admin":
                names.add("django-admin")
                continue
            names |= _names(pattern, pattern.namespace or namespace)
        elif isinstance(pattern, URLPattern) and pattern.name:
            names.add(f"{namespace}:{pattern.name}" if namespace else pattern.name)
        elif isinstance(pattern, URLPattern):
            names.add(str(pattern.pattern))
    return names


def _covered() -> set[str]:
    covered: set[str] = set()
    for path in Path(__file__).parent.rglob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "covers_url"
            ):
                covered |= {a.value for a in node.args if isinstance(a, ast.Constant)}
    return covered


def test_every_url_pattern_has_a_cross_tenant_test():
    missing = _names(get_resolver()) - _covered() - set(NO_TENANT_DATA)
    assert not missing, (
        "URL patterns without a cross-tenant test; add one marked "
        f"@pytest.mark.covers_url(...): {sorted(missing)}"
    )


def test_covers_url_names_only_real_patterns():
    unknown = _covered() - _names(get_resolver())
    assert not unknown, f"covers_url names no URL pattern: {sorted(unknown)}"


def test_the_openapi_schema_is_valid_with_no_warnings(tmp_path, db):
    from django.core.management import call_command

    # --fail-on-warn: duplicate component names or unresolvable views fail the build
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml")
    )
    assert "/api/v1/imports/{batch_id}/" in (tmp_path / "schema.yml").read_text()
