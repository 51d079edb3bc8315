"""Small template filters shared by every page."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def label(value: str) -> str:
    """Turn a field or attribute key into a label: ``cost_centre`` → ``Cost centre``."""
    text = str(value).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


@register.filter
def month_name(value: int) -> str:
    """Return the English name of month number ``value`` (1 → January)."""
    import calendar

    try:
        return calendar.month_name[int(value)]
    except (ValueError, IndexError):
        return str(value)
