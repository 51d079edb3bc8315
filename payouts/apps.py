from __future__ import annotations

from django.apps import AppConfig


class PayoutsConfig(AppConfig):
    name = "payouts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from payouts.db import register_sqlite_function

        connection_created.connect(register_sqlite_function, dispatch_uid="payouts-sqlite-marker")
