"""Small template filters shared by every page."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def label(value: str) -> str:
    """Turn a field or attribute key into a label: ``cost_centre`` → ``Cost centre``."""
    text = str(value).replace("_", " ").strip()
    return text[:1].upper() + text[1:]
