"""The one currency list of Quotient: every validation of a currency code goes through here.

The list is ISO 4217's current codes that have a minor unit, as the ``iso4217`` package ships
the ISO table (``engine.money.CURRENCY_EXPONENTS`` reads it; the engine is pure, so it holds
the table and this module builds Django and DRF validation on it). Tenants' default currency,
people's home currency, FX rates, transactions, credits, CSV/JSON imports and plan specs all
accept exactly this set: ``XYZ`` is refused everywhere, ``BHD`` accepted everywhere with
exponent 3. A withdrawn code (``BGN`` since the euro, ``ANG`` since ``XCG``) is refused on new
input.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from rest_framework import serializers

from engine.money import CURRENCY_EXPONENTS, exponent, is_currency_code

__all__ = [
    "CURRENCY_CODES",
    "CURRENCY_EXPONENTS",
    "UNKNOWN_CURRENCY",
    "CurrencyField",
    "exponent",
    "is_currency_code",
    "validate_currency",
]

CURRENCY_CODES: frozenset[str] = frozenset(CURRENCY_EXPONENTS)
UNKNOWN_CURRENCY = "Use a current ISO 4217 currency code, e.g. USD."


def validate_currency(value: Any) -> None:
    """Raise ValidationError unless ``value`` is a current ISO 4217 code (model validator)."""
    if not is_currency_code(value):
        raise ValidationError(UNKNOWN_CURRENCY, code="unknown_currency", params={"value": value})


class CurrencyField(serializers.CharField):
    """An ISO 4217 code in an API body: three letters from :data:`CURRENCY_CODES`."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_length", 3)
        kwargs.setdefault("max_length", 3)
        super().__init__(**kwargs)
        self.validators.append(validate_currency)
