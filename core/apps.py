from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate


def _grant_after_migrate(sender: Any, using: str = "default", **kwargs: Any) -> None:
    from core.db import grant_app_role

    grant_app_role(using)


class CoreConfig(AppConfig):
    """The platform floor: tenancy, auth, audit, idempotency, API base, tasks, health."""

    name = "core"
    verbose_name = "Platform"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Tasks are started by registered name (core.tasks.start): register them in every
        # process, web and worker alike.
        import core.tasks  # noqa: F401
        from core.tenancy import install_connection_guard

        connection_created.connect(install_connection_guard, dispatch_uid="quotient_tenant_guard")
        post_migrate.connect(
            _grant_after_migrate, sender=self, dispatch_uid="quotient_grant_app_role"
        )
