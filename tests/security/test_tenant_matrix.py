"""The tenant matrix: every API list and detail route, crawled as two tenants.

Tenant A (Acme) holds people, an org, periods, rules, transactions, credits, KPI values, API
clients and audit events; tenant B (Globex) holds almost nothing. For every ``/api/v1/`` route
without parameters, the ids B sees never overlap the ids A sees; for every route
``<list>/<int:id>/``, each id A listed is a 404 for B. Routes are found from the URL conf, so a
new endpoint joins the matrix without anyone remembering to add it.
"""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from tests.incentives.conftest import tx_row

pytestmark = pytest.mark.django_db


def _routes(resolver: URLResolver = None, prefix: str = "") -> list[str]:  # type: ignore[assignment]
    resolver = resolver or get_resolver()
    out: list[str] = []
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            out += _routes(pattern, route)
        elif isinstance(pattern, URLPattern):
            out.append(route)
    return [r for r in out if r.startswith("api/v1/")]


def _ids(response) -> set[int]:
    body = response.json()
    rows = body.get("results", body) if isinstance(body, dict) else body
    if not isinstance(rows, list):
        return set()
    return {row["id"] for row in rows if isinstance(row, dict) and isinstance(row.get("id"), int)}


@pytest.fixture
def rich_tenant_a(org, client_alice):
    import json

    client_alice.post(
        "/api/v1/imports/transactions/rows/",
        data=json.dumps(
            {"rows": [tx_row("M-1", "100.00"), tx_row("M-2", "50.00", splits="E1:50;E2:50")]}
        ),
        content_type="application/json",
    )
    client_alice.post(
        "/api/v1/imports/kpi-values/rows/",
        data=json.dumps(
            {
                "rows": [
                    {
                        "metric": "csat",
                        "subject_type": "tenant",
                        "period": "2026-01-01",
                        "value": "4.5",
                    }
                ]
            }
        ),
        content_type="application/json",
    )
    client_alice.post(
        "/api/v1/api-clients/",
        data=json.dumps({"name": "Payroll", "scopes": ["read:payouts"]}),
        content_type="application/json",
    )
    client_alice.post(
        "/api/v1/fx-rates/",
        data=json.dumps(
            {"currency": "EUR", "quote_currency": "USD", "valid_on": "2026-01-01", "rate": "1.1"}
        ),
        content_type="application/json",
    )
    return org


def test_no_api_route_shows_one_tenants_rows_to_another(
    rich_tenant_a, client_alice, client_charlie
):
    routes = _routes()
    lists = [r for r in routes if "<" not in r]
    details = [r for r in routes if re.fullmatch(r"(.*/)<int:\w+>/", r)]
    seen: dict[str, set[int]] = {}
    with_data = 0
    for route in lists:
        url = "/" + route
        a, b = client_alice.get(url), client_charlie.get(url)
        if a.status_code != 200 or b.status_code != 200 or "json" not in a["Content-Type"]:
            continue
        seen[route] = _ids(a)
        with_data += bool(seen[route])
        assert not (seen[route] & _ids(b)), f"{url} shows tenant A's rows to tenant B"
    checked = 0
    for route in details:
        parent = re.sub(r"<int:\w+>/$", "", route)
        for object_id in sorted(seen.get(parent, ()))[:3]:
            response = client_charlie.get(
                "/" + route.replace(re.search(r"<int:\w+>", route).group(0), str(object_id))
            )
            assert response.status_code == 404, (route, object_id, response.status_code)
            checked += 1
    # the matrix must actually have exercised something
    assert with_data >= 10 and checked >= 10, (with_data, checked)
