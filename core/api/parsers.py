"""The API's JSON parser: DRF's, plus the limits that keep malformed bodies a 400.

A body nested deeper than :data:`MAX_JSON_DEPTH` (Python's parser would hit ``RecursionError``
at about a thousand levels) and a string or key containing NUL (PostgreSQL refuses NUL in text
and JSONB) are a ``ParseError``: 400 ``malformed_request`` in the error envelope.
"""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_JSON_DEPTH = 64
TOO_DEEP = f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels."
HAS_NUL = "JSON parse error - text must not contain NUL (\\u0000) characters."


def check_json(value: Any) -> None:
    """Raise ParseError if ``value`` nests deeper than MAX_JSON_DEPTH or holds a NUL."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise ParseError(HAS_NUL)
            continue
        if not isinstance(item, dict | list):
            continue
        if depth > MAX_JSON_DEPTH:
            raise ParseError(TOO_DEEP)
        if isinstance(item, dict):
            stack.extend((key, depth) for key in item)
            stack.extend((child, depth + 1) for child in item.values())
        else:
            stack.extend((child, depth + 1) for child in item)


class SafeJSONParser(JSONParser):
    """JSON with a depth limit and no NUL characters."""

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(TOO_DEEP) from None
        check_json(data)
        return data
