from __future__ import annotations

from django.apps import AppConfig


class IncentivesConfig(AppConfig):
    name = "incentives"
    default_auto_field = "django.db.models.BigAutoField"
