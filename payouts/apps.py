from __future__ import annotations

from django.apps import AppConfig


class PayoutsConfig(AppConfig):
    name = "payouts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Services start these tasks by registered name (core.tasks.start): register them in
        # every process, web and worker alike.
        import payouts.tasks  # noqa: F401
