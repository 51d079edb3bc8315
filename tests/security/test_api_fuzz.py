"""Malformed input never gets a 5xx: every /api/v1/ operation, every parameter, adversarial values.

The operations and their parameters come from the OpenAPI schema drf-spectacular builds from the
URL conf (and a test checks the schema names every ``api/v1/`` URL pattern), so a new endpoint
or parameter is fuzzed without anyone adding it here. As tenant A's comp admin, against a tenant
with people, an org, transactions, credits, KPI values and rates, the test sends:

* each query parameter, one at a time, with values chosen for its type plus a common
  adversarial list (NUL, very long text, unicode, ``9999-12-31``, huge and negative numbers…);
* path ids that are huge, zero or out of the 64-bit range;
* each JSON body property, one at a time, set to wrong types and extreme values on top of a
  plausible body, and whole bodies that are not objects, nest 3,000 levels or hold NUL;
* CSV uploads with NUL, invalid UTF-8 and formula cells.

Every answer must be below 500, and every 4xx must be the JSON error envelope. The values are a
fixed list (no randomness), so a failure names the request that caused it and replays exactly.
On PostgreSQL (CI) this also proves PostgreSQL-only failures (NUL in text, integer range) stay
400s; ``test_postgres_refusals_stay_400s`` pins the ones SQLite would let through.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator

from tests.incentives.conftest import tx_row

pytestmark = pytest.mark.django_db

COMMON = ["", " ", "\x00", "a\x00b", "x" * 5000, "😀ü\u202e", "[]", '{"a": 1}', "' OR 1=1 --", "%"]
BY_TYPE: dict[str, list[str]] = {
    "integer": ["-1", "0", "1.5", "1e3", "9" * 30, str(2**63), "²", "NaN"],
    "boolean": ["maybe", "2", "TRUE", "yes", "-0"],
    "date": ["9999-12-31", "0001-01-01", "2026-02-30", "2026-13-01", "31/12/2026", "20260101"],
    "date-time": [
        "2026-01-31T12:00:00+25:00",
        "2026-01-31T12:00:00 02:00",
        "9999-12-31T23:59:59-05:00",
        "2026-01-31T24:61",
        "0001-01-01T00:00:00+14:00",
    ],
    "string": ["9999-12-31", "-1", "9" * 30, "Infinity", "1e999999", "__proto__"],
}
# Parameters a detail view might read without declaring them (lists refuse undeclared ones).
EXTRA_GET = ["as_of", "known_at", "period", "start", "end"]
BODY_VALUES: list[Any] = [
    None,
    -1,
    10**30,
    1.5e308,
    "",
    "x" * 5000,
    "9999-12-31",
    [],
    {},
    [[[[1]]]],
    {"a": {"b": [None]}},
    True,
    "😀",
]
RAW_BODIES = [
    "[" * 3000 + "]" * 3000,
    '{"a": "\\u0000"}',
    "[]",
    '"text"',
    "123",
    "null",
    "{",
    '{"a": 1e999999}',
    '{"a": ' + "9" * 5000 + "}",
]
CSV_BODIES = [
    b"external_id,kind\x00,amount\nA,new_business,1\n",
    b"\xff\xfe\x00h\x00e\x00l\x00l\x00o",
    b"external_id,kind,amount,currency,booked_on,owner_employee_id\n"
    b"=cmd|'/c calc'!A1,new_business,1,USD,2026-02-01,E1\n",
    b"employee_id,full_name,hire_date\n" + b"x" * 100_000 + b",y,2026-01-01\n",
    b"",
]


# --- the operations ----------------------------------------------------------------------------


def _schema() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    ops = []
    for path, item in schema["paths"].items():
        if path.startswith("/api/v1/"):
            ops += [(path, method, op) for method, op in item.items()]
    # reads first, deletes last: the data stays there for the others
    order = {"get": 0, "post": 1, "put": 1, "patch": 1, "delete": 2}
    return sorted(ops, key=lambda o: (order[o[1]], o[0]))


def _url_patterns(resolver: URLResolver | None = None, prefix: str = "") -> set[str]:
    out: set[str] = set()
    for pattern in (resolver or get_resolver()).url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            out |= _url_patterns(pattern, route)
        elif isinstance(pattern, URLPattern) and route.startswith("api/v1/"):
            out.add("/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route))
    return out


def _resolve(schema: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _kind(schema: dict[str, Any], param: dict[str, Any]) -> str:
    spec = _resolve(schema, param.get("schema", {}))
    return (
        spec.get("format")
        if spec.get("format") in ("date", "date-time")
        else spec.get("type", "string")
    )


def _plausible(schema: dict[str, Any], spec: Any, name: str) -> Any:
    spec = _resolve(schema, spec)
    if "enum" in spec:
        return spec["enum"][0]
    if "allOf" in spec or "oneOf" in spec:
        return _plausible(schema, (spec.get("allOf") or spec["oneOf"])[0], name)
    kind = spec.get("type")
    if spec.get("format") == "date":
        return "2026-02-01"
    if spec.get("format") == "date-time":
        return "2026-02-01T00:00:00Z"
    if "currency" in name:
        return "USD"
    return {
        "integer": 1,
        "number": "1.00",
        "boolean": False,
        "array": [],
        "object": {},
    }.get(kind, "x1")


def _body_properties(schema: dict[str, Any], op: dict[str, Any]) -> dict[str, Any] | None:
    content = op.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return None
    return _resolve(schema, content["application/json"].get("schema", {})).get("properties", {})


# --- the data and the client -------------------------------------------------------------------


@pytest.fixture
def api(org, client_alice):
    """Tenant A with data of every kind, and a function that fills a path with real ids."""
    # A 500 comes back as a response (and is collected), not as the view's exception.
    client_alice.raise_request_exception = False

    def post(url: str, body: Any) -> Any:
        return client_alice.post(url, data=json.dumps(body), content_type="application/json")

    post("/api/v1/imports/transactions/rows/", {"rows": [tx_row("F-1"), tx_row("F-2", "5.00")]})
    post(
        "/api/v1/imports/kpi-values/rows/",
        {
            "rows": [
                {"metric": "csat", "subject_type": "tenant", "period": "2026-01-01", "value": "4"}
            ]
        },
    )
    post(
        "/api/v1/fx-rates/",
        {"currency": "EUR", "quote_currency": "USD", "valid_on": "2026-01-01", "rate": "1.1"},
    )
    post("/api/v1/api-clients/", {"name": "Fuzz", "scopes": ["read:people"]})
    ids: dict[str, int] = {}

    def fill(path: str, override: str | None = None) -> str:
        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name == "kind":
                return "transactions"
            if override is not None:
                return override
            parent = path[: match.start()]
            if parent not in ids:
                body = client_alice.get(parent).json()
                rows = body.get("results", body) if isinstance(body, dict) else body
                ids[parent] = (
                    next((r["id"] for r in rows if isinstance(r, dict) and "id" in r), 1)
                    if isinstance(rows, list)
                    else 1
                )
            return str(ids[parent])

        return re.sub(r"\{(\w+)\}", one, path)

    return client_alice, fill


class Failures:
    def __init__(self) -> None:
        self.items: list[str] = []
        self.count = 0

    def check(self, response: Any, what: str) -> None:
        self.count += 1
        status = response.status_code
        if status >= 500:
            self.items.append(f"{status} {what}")
        elif status >= 400 and "json" in response.get("Content-Type", ""):
            body = response.json()
            if not (
                isinstance(body, dict)
                and {"code", "message", "details"} <= set(body.get("error", {}))
            ):
                self.items.append(f"{status} without the error envelope: {what}: {body!r:.200}")

    def assert_none(self, at_least: int) -> None:
        assert not self.items, f"{len(self.items)} of {self.count} requests failed:\n" + "\n".join(
            self.items[:50]
        )
        assert self.count >= at_least, self.count


def _send(client: Any, method: str, url: str, **kwargs: Any) -> Any:
    return getattr(client, method)(url, **kwargs)


# --- the tests ---------------------------------------------------------------------------------


def test_the_schema_names_every_api_url_pattern():
    assert {path for path, _, _ in _operations(_schema())} == _url_patterns()


def test_no_query_or_path_parameter_value_is_a_5xx(api):
    client, fill = api
    schema = _schema()
    failures = Failures()
    for path, method, op in _operations(schema):
        if method == "delete":
            continue
        declared = [p for p in op.get("parameters", []) if p["in"] == "query"]
        names = {p["name"] for p in declared}
        if method == "get" and "{" in path:
            declared += [
                {"name": n, "schema": {"type": "string"}} for n in EXTRA_GET if n not in names
            ]
        url = fill(path)
        for param in declared:
            for value in COMMON + BY_TYPE.get(_kind(schema, param), BY_TYPE["string"]):
                response = (
                    _send(client, method, url, data={param["name"]: value})
                    if method == "get"
                    else _send(
                        client,
                        method,
                        url + "?" + _query(param["name"], value),
                        data="{}",
                        content_type="application/json",
                    )
                )
                failures.check(response, f"{method.upper()} {url} {param['name']}={value[:40]!r}")
        if method == "get" and "limit" in names:
            for extra in ({"limit": "100000000"}, {"ordering": "-nope,password"}, {"nope": "1"}):
                failures.check(_send(client, "get", url, data=extra), f"GET {url} {extra}")
        if "{" in path:
            for bad in ("0", "9" * 25, str(2**63)):
                bad_url = fill(path, override=bad)
                failures.check(_send(client, method, bad_url), f"{method.upper()} {bad_url}")
    failures.assert_none(at_least=2000)


def _query(name: str, value: str) -> str:
    from urllib.parse import urlencode

    return urlencode({name: value})


def test_no_request_body_is_a_5xx(api):
    client, fill = api
    schema = _schema()
    failures = Failures()
    for path, method, op in _operations(schema):
        properties = _body_properties(schema, op)
        url = fill(path)
        content = op.get("requestBody", {}).get("content", {})
        if "text/csv" in content:
            for body in CSV_BODIES:
                for query in ("", "?mode=partial", "?dry_run=true"):
                    response = client.post(url + query, data=body, content_type="text/csv")
                    failures.check(response, f"POST {url}{query} csv {body[:40]!r}")
        if properties is None:
            continue
        for raw in RAW_BODIES:
            response = _send(client, method, url, data=raw, content_type="application/json")
            failures.check(response, f"{method.upper()} {url} raw {raw[:40]!r}")
        base = {name: _plausible(schema, spec, name) for name, spec in properties.items()}
        failures.check(
            _send(client, method, url, data=json.dumps(base), content_type="application/json"),
            f"{method.upper()} {url} {base}",
        )
        for name in properties:
            for value in BODY_VALUES:
                body = {**base, name: value}
                response = _send(
                    client, method, url, data=json.dumps(body), content_type="application/json"
                )
                failures.check(response, f"{method.upper()} {url} {name}={value!r:.40}")
    failures.assert_none(at_least=500)


@pytest.mark.needs_pg
def test_postgres_refusals_stay_400s(api):
    """What SQLite stores happily and PostgreSQL refuses: NUL in text and JSONB, 64-bit ids."""
    client, fill = api
    person = fill("/api/v1/people/{person_id}/")
    checks = [
        client.get("/api/v1/transactions/?owner=E%001"),
        client.get("/api/v1/people/?q=%00"),
        client.get(f"/api/v1/people/{2**63}/"),
        client.get(f"/api/v1/people/{2**63 - 1}/"),
        client.patch(
            person, data='{"attributes": {"k": "\\u0000"}}', content_type="application/json"
        ),
        client.post(
            "/api/v1/imports/transactions/csv/?mode=partial",
            data=b"external_id,kind,amount,currency,booked_on,owner_employee_id\nN\x00,new_business,1,USD,2026-02-01,E1\n",
            content_type="text/csv",
        ),
    ]
    assert [c.status_code for c in checks] == [400, 400, 404, 404, 400, 201], [
        c.content[:200] for c in checks
    ]
