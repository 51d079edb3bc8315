"""A readable diff between two plan specs: what changed, in words.

``spec_diff(old, new)`` compares two parsed specs (plain dicts, as stored on a version) and
returns one sentence per change, e.g. ``Component 'New business commission': tier 2 rate
changed from 8 % to 9 %.`` (a component by its name). Components and measures are matched by
``id``, KPIs by ``measure``, objectives by
``id``, tiers, curve points and hybrid parts by position. Rates, weights, shares and curve
points read as percentages; tier bounds as percentages on an attainment basis and as amounts
otherwise. Pure: no database, no engine call (the engine says whether a spec is valid, this
only says how two differ).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from engine.spec import component_title

PERCENT_KEYS = frozenset(
    {"rate", "weight", "share", "payout", "attainment", "min_attainment", "retained_share"}
)
KEYED_LISTS = {"components": "id", "measures": "id", "kpis": "measure", "objectives": "id"}
ITEM_LABELS = {
    "components": "component '{}'",
    "measures": "measure '{}'",
    "kpis": "KPI '{}'",
    "objectives": "objective '{}'",
    "tiers": "tier {}",
    "points": "curve point {}",
    "parts": "part {}",
    "ramp": "ramp period {}",
}
BOUND_WORDS = {"from": "start", "to": "end"}
HIDDEN_KEYS = frozenset({"rate_table", "curve"})  # "tier 2 rate" reads better than the path


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float, str)):
        try:
            return Decimal(repr(value) if isinstance(value, float) else str(value))
        except InvalidOperation:
            return None
    return None


def _plain(number: Decimal) -> str:
    text = format(number.normalize(), "f")
    if "." in text:
        whole, frac = text.split(".")
        return f"{int(whole):,}.{frac}" if whole.lstrip("-").isdigit() else text
    return f"{int(text):,}"


def _format(value: Any, key: str, *, attainment_basis: bool = False) -> str:
    """Return ``value`` as people read it under ``key``."""
    number = _number(value)
    if number is not None:
        if key in PERCENT_KEYS or (key in {"from", "to"} and attainment_basis):
            return f"{_plain(number * 100)} %"
        return _plain(number)
    if isinstance(value, dict):
        if "from" in value and "rate" in value:
            return _tier(value, attainment_basis)
        if "attainment" in value and "payout" in value:
            return (
                f"{_format(value['attainment'], 'attainment')} pays "
                f"{_format(value['payout'], 'payout')}"
            )
        inner = ", ".join(f"{k} {_format(v, k)}" for k, v in value.items())
        return f"{{{inner}}}"
    if isinstance(value, list):
        return "[" + ", ".join(_format(v, key) for v in value) + "]"
    if value is None:
        return "nothing"
    return str(value)


def _tier(tier: dict[str, Any], attainment_basis: bool) -> str:
    start = _format(tier.get("from"), "from", attainment_basis=attainment_basis)
    end = tier.get("to")
    span = (
        f"from {start}"
        if end is None
        else f"{start} to {_format(end, 'to', attainment_basis=attainment_basis)}"
    )
    return f"{span} at {_format(tier.get('rate'), 'rate')}"


def _label(path: list[str]) -> str:
    words = [p for p in path if p]
    if len(words) > 1 and words[0].split(" ")[0] in {"component", "measure"}:
        return f"{words[0]}: {' '.join(words[1:])}"
    return " ".join(words)


def _key_words(key: str) -> str:
    if key in HIDDEN_KEYS:
        return ""
    return BOUND_WORDS.get(key, key.replace("_", " "))


def _walk(path: list[str], key: str, old: Any, new: Any, out: list[str], basis: bool) -> None:
    if old == new:
        return
    number_old, number_new = _number(old), _number(new)
    if number_old is not None and number_old == number_new:
        return  # 0 and "0.00": the same number written two ways is no change
    if isinstance(old, dict) and isinstance(new, dict):
        basis = basis or old.get("basis") == "attainment" or new.get("basis") == "attainment"
        for k in list(old) + [k for k in new if k not in old]:
            sub = [*path, _key_words(k)]
            if k not in new:
                out.append(
                    f"{_label(sub)} removed (was {_format(old[k], k, attainment_basis=basis)})"
                )
            elif k not in old:
                out.append(f"{_label(sub)} added ({_format(new[k], k, attainment_basis=basis)})")
            else:
                _walk(sub, k, old[k], new[k], out, basis)
        return
    if isinstance(old, list) and isinstance(new, list) and key in ITEM_LABELS:
        _walk_list(
            path[:-1] if path and path[-1] == _key_words(key) else path, key, old, new, out, basis
        )
        return
    was = _format(old, key, attainment_basis=basis)
    now = _format(new, key, attainment_basis=basis)
    out.append(f"{_label(path)} changed from {was} to {now}")


def _walk_list(
    path: list[str], key: str, old: list[Any], new: list[Any], out: list[str], basis: bool
) -> None:
    label = ITEM_LABELS[key]
    id_key = KEYED_LISTS.get(key)
    if id_key and all(isinstance(x, dict) and id_key in x for x in old + new):
        before = {str(x[id_key]): x for x in old}
        after = {str(x[id_key]): x for x in new}

        def named(item_id: str, item: dict[str, Any]) -> str:
            # a component by the name the plan gives it (its id in words when it has none)
            shown = component_title(item_id, item.get("name")) if key == "components" else item_id
            return label.format(shown)

        for name, item in before.items():
            if name not in after:
                out.append(f"{_label([*path, named(name, item)])} removed{_kind(item)}")
        for name, item in after.items():
            if name not in before:
                out.append(f"{_label([*path, named(name, item)])} added{_kind(item)}")
            else:
                _walk([*path, named(name, item)], key, before[name], item, out, basis)
        return
    for i in range(max(len(old), len(new))):
        item_label = [*path, label.format(i + 1)]
        if i >= len(new):
            out.append(
                f"{_label(item_label)} removed (was {_format(old[i], key, attainment_basis=basis)})"
            )
        elif i >= len(old):
            out.append(
                f"{_label(item_label)} added ({_format(new[i], key, attainment_basis=basis)})"
            )
        else:
            _walk(item_label, key, old[i], new[i], out, basis)


def _kind(item: dict[str, Any]) -> str:
    kind = item.get("type") or item.get("aggregate")
    return f" ({str(kind).replace('_', ' ')})" if kind else ""


def spec_diff(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Return the changes from ``old`` to ``new`` as sentences, in spec order."""
    out: list[str] = []
    _walk([], "", old, new, out, False)
    return [s[0].upper() + s[1:] + "." for s in out]
