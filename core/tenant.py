"""The tenant table: a company using Quotient (a platform table, read before any scope).

It sits beneath :mod:`core.tenancy` (the current tenant and the tenant-model base) and
:mod:`core.models` (which re-exports these names), so the three import one way only:
``core.tenant`` ← ``core.tenancy`` ← ``core.models``.
"""

from __future__ import annotations

import zoneinfo

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models

from core.currencies import validate_currency

SLUG = RegexValidator(
    r"^[a-z0-9][a-z0-9-]{1,48}[a-z0-9]$", "3-50 lowercase letters, digits and dashes."
)


class RoundingMode(models.TextChoices):
    HALF_UP = "half_up", "Half up"
    HALF_EVEN = "half_even", "Half even (banker's)"
    DOWN = "down", "Toward zero"
    UP = "up", "Away from zero"
    FLOOR = "floor", "Floor"
    CEILING = "ceiling", "Ceiling"


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone.")


class Tenant(models.Model):
    """A company using Quotient. Platform table."""

    slug = models.CharField(max_length=50, unique=True, validators=[SLUG])
    name = models.CharField(max_length=200)
    default_currency = models.CharField(max_length=3, default="USD", validators=[validate_currency])
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    fiscal_year_start_month = models.PositiveSmallIntegerField(
        default=1, choices=[(m, m) for m in range(1, 13)]
    )
    rounding_mode = models.CharField(
        max_length=16, choices=RoundingMode.choices, default=RoundingMode.HALF_UP
    )
    is_active = models.BooleanField(default=True)
    leaderboard_enabled = models.BooleanField(
        default=False,
        help_text="Show a leaderboard of attainment per plan to everyone (off by default)",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
