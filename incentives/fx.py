"""Currency conversion with the tenant's dated FX rates (into a plan's currency)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from core.errors import ValidationFailedError
from engine.money import from_e4, to_e4
from incentives.selectors import fx_rate_on

FX_RATE_MISSING = "No {currency}/{quote} rate on or before {day}."


def rate_on(*, currency: str, quote_currency: str, day: dt.date) -> Decimal:
    """Return the rate in force on ``day``: the latest on or before it, direct or inverted."""
    if currency == quote_currency:
        return Decimal(1)
    direct = fx_rate_on(currency=currency, quote_currency=quote_currency, day=day)
    inverse = fx_rate_on(currency=quote_currency, quote_currency=currency, day=day)
    if direct is not None and (inverse is None or direct.valid_on >= inverse.valid_on):
        return direct.rate
    if inverse is not None:
        return Decimal(1) / inverse.rate
    raise ValidationFailedError(
        FX_RATE_MISSING.format(currency=currency, quote=quote_currency, day=day),
        code="fx_rate_missing",
        details={"currency": currency, "quote_currency": quote_currency, "day": str(day)},
    )


def convert(*, amount: Decimal, currency: str, to_currency: str, day: dt.date) -> Decimal:
    """Return ``amount`` in ``to_currency`` at the rate of ``day``, to 4 decimal places."""
    rate = rate_on(currency=currency, quote_currency=to_currency, day=day)
    return from_e4(to_e4(amount * rate))
