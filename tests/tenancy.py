"""Reusable cross-tenant checks: another tenant's object is a 404, lists omit it, and a foreign
id inside a request body gets the same 400 as an id that does not exist."""

from __future__ import annotations

import json
from typing import Any


def _body(response: Any) -> Any:
    try:
        return response.json()
    except (ValueError, TypeError):
        return None


def assert_not_found(response: Any) -> None:
    """Assert a 404 in the API's envelope (or a plain 404 page for HTML)."""
    assert response.status_code == 404, (response.status_code, response.content[:300])
    body = _body(response)
    if body is not None and "error" in body:
        assert body["error"]["code"] == "not_found"


def assert_cross_tenant_detail(
    client: Any,
    url: str,
    *,
    update_body: dict[str, Any] | None = None,
    methods: tuple[str, ...] = ("get", "patch", "delete"),
) -> None:
    """Assert that another tenant's principal gets 404 on detail, update and delete."""
    for method in methods:
        kwargs: dict[str, Any] = {}
        if method in {"patch", "put", "post"}:
            kwargs = {"data": json.dumps(update_body or {}), "content_type": "application/json"}
        response = getattr(client, method)(url, **kwargs)
        assert_not_found(response)


def assert_list_omits(client: Any, url: str, object_id: int) -> None:
    """Assert that a list endpoint seen by another tenant does not contain ``object_id``."""
    response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    body = response.json()
    rows = body["results"] if isinstance(body, dict) and "results" in body else body
    assert object_id not in {row.get("id") for row in rows}


def assert_foreign_id_like_missing(
    client: Any,
    url: str,
    *,
    field: str,
    foreign_id: Any,
    missing_id: Any,
    body: dict[str, Any],
    method: str = "post",
) -> None:
    """Assert that a foreign id in the body is answered exactly like a nonexistent id."""
    responses = []
    for value in (foreign_id, missing_id):
        payload = dict(body, **{field: value})
        response = getattr(client, method)(
            url, data=json.dumps(payload), content_type="application/json"
        )
        responses.append(response)
    foreign, missing = responses
    assert foreign.status_code == missing.status_code == 400, (foreign.content, missing.content)

    def normalise(response: Any) -> str:
        text = json.dumps(response.json())
        ids = [
            v
            for value in (foreign_id, missing_id)
            for v in (value if isinstance(value, list) else [value])
        ]
        for one in sorted((str(i) for i in ids), key=len, reverse=True):
            text = text.replace(one, "ID")
        return text

    assert normalise(foreign) == normalise(missing)
