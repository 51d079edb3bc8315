"""Small template filters shared by every page."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from engine.spec import key_words

register = template.Library()


@register.filter
def label(value: str) -> str:
    """Turn a field or attribute key into a label: ``cost_centre`` → ``Cost centre``."""
    return key_words(value)


@register.filter
def address(value: Any) -> str | SafeString:
    """Let an e-mail address wrap before its ``@`` (``finance`` / ``@demo.quotient.dev``) in a
    narrow card rather than inside a word; any other text is left as it is (and escaped)."""
    local, at, domain = str(value or "").partition("@")
    if not at or not local:
        return str(value or "")
    return format_html("{}<wbr>@{}", local, domain)


HOLDER_WORDS = {"person": "Person", "role": "Job role", "node": "Team"}


@register.filter
def holder_word(kind: str) -> str:
    """Name who holds a plan or a quota: ``person`` → Person, ``role`` → Job role, ``node``
    → Team."""
    return HOLDER_WORDS.get(kind, key_words(kind))


@register.filter
def who(user: Any) -> str | SafeString:
    """Name a sign-in as people read it: the user's full name, else her e-mail address
    (wrapping before its ``@``); nothing (for ``|default``) when there is no user."""
    if user is None or not getattr(user, "pk", None):
        return ""
    name = user.get_full_name().strip() if hasattr(user, "get_full_name") else ""
    return name or address(getattr(user, "email", "") or "")


@register.filter
def month_name(value: int) -> str:
    """Return the English name of month number ``value`` (1 → January)."""
    import calendar

    try:
        return calendar.month_name[int(value)]
    except (ValueError, IndexError):
        return str(value)


@register.filter
def as_date(value: Any) -> dt.date | None:
    """Return a date from a date or its ISO text (a statement's stored ``"2026-01-01"``; a
    date-time's text gives its day in the current time zone), so ``|date`` can format it; None
    for anything else."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        pass
    try:  # a moment's ISO text (a run's "finished_at"): its day where the reader is
        moment = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return timezone.localtime(moment).date() if timezone.is_aware(moment) else moment.date()


@register.filter
def last_day(value: Any) -> dt.date | None:
    """Return the last day of a span whose stored end is exclusive (every period's, quota's
    and timeline's): ``2026-04-01`` → 31 March 2026, what a reader calls its end ("1 Jan 2026
    through 31 Mar 2026")."""
    end = as_date(value)
    return None if end is None else end - dt.timedelta(days=1)


def moment_text(value: Any, zone: dt.tzinfo | None = None, *, seconds: bool = False) -> str:
    """Return a moment (an aware date-time or its ISO text) as people read it: in ``zone``
    (default: the current time zone, the tenant's on pages) with that zone's name, to the minute
    (``seconds``: to the second) and never with microseconds: ``2026-12-04 15:59 EST``. The one
    place a time is labelled with its zone; a naive date-time is taken as UTC (how it is stored).
    Anything else comes back as its text."""
    moment = value
    if not isinstance(moment, dt.datetime):
        try:
            moment = dt.datetime.fromisoformat(str(value))
        except ValueError:
            return str(value or "")
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=dt.UTC)
    local = timezone.localtime(moment, zone)
    return local.strftime("%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z")


@register.filter
def moment(value: Any, precision: str = "") -> str:
    """Format a moment in the tenant's time zone with its zone's name: ``run.known_at|moment``
    → ``2026-12-04 15:59 EST``; ``|moment:"seconds"`` adds the seconds; ``—`` for none."""
    if value in (None, ""):
        return "—"
    return moment_text(value, seconds=precision == "seconds")


def span_words(start: Any, end: Any) -> str:
    """Return a span whose stored end is exclusive as the pages say it, first and last day:
    (``2026-08-01``, ``2026-11-01``) → ``1 Aug 2026 through 31 Oct 2026``."""
    first, last = as_date(start), last_day(end)
    if first is None or last is None:
        return f"{start} to {end}"
    return f"{first.day} {first:%b %Y} through {last.day} {last:%b %Y}"


@register.filter
def money(value: Any, currency: str = "") -> str:
    """Format an amount with thousands separators and 2 places, then its currency:
    ``1234567.5|money:"USD"`` → ``1,234,567.50 USD`` (the one money format of every page)."""
    if value in (None, ""):
        return "—"
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    text = f"{amount.quantize(Decimal('0.01'), rounding=ROUND_HALF_EVEN):,.2f}"
    return f"{text}\u00a0{currency}" if currency else text


@register.filter
def percent(value: Any, places: int = 0) -> str:
    """Format a fraction as a percentage: ``0.853|percent`` → ``85 %`` (``—`` for none)."""
    if value in (None, ""):
        return "—"
    try:
        pct = Decimal(str(value)) * 100
    except (InvalidOperation, ValueError):
        return str(value)
    return f"{pct:,.{int(places)}f}\u00a0%"


@register.filter
def count(value: Any) -> str:
    """Format a count with thousands separators: ``1001`` → ``1,001`` (``—`` for none)."""
    if value in (None, ""):
        return "—"
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return str(value)


@register.filter
def bar_width(value: Any) -> str:
    """Return a progress bar's width for a fraction, clamped to 0-100 (``1.2`` → ``100``)."""
    try:
        pct = Decimal(str(value)) * 100
    except (InvalidOperation, ValueError, TypeError):
        return "0"
    return str(max(Decimal(0), min(Decimal(100), pct)).quantize(Decimal(1)))
