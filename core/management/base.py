"""Base classes for management commands: the fourth place a tenant scope is entered."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.tenancy import tenant_scope

# What differs between the owner's and the app's connection (OPTIONS: the statement timeout).
_ROLE_KEYS = ("USER", "PASSWORD", "HOST", "PORT", "OPTIONS")


class TenantCommand(BaseCommand):
    """A command that works inside one tenant, named with ``--tenant <slug>``."""

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="slug of the tenant to work in")

    def execute(self, *args: Any, **options: Any) -> Any:
        from core.models import Tenant

        slug = options.get("tenant")
        tenant = Tenant.objects.filter(slug=slug, is_active=True).first()
        if tenant is None:
            raise CommandError(f"no active tenant with slug {slug!r}")
        with tenant_scope(tenant):
            return super().execute(*args, **options)


def use_owner_role(alias: str = "default") -> None:
    """Reconnect ``alias`` as the schema owner from DATABASE_OWNER_URL, if one is configured.

    The application role's user is kept as ``APP_USER`` so that post-migrate grants know whom
    to grant to.
    """
    from django.conf import settings
    from django.db import connections

    owner = getattr(settings, "DATABASE_OWNER", None)
    if not owner:
        return
    target = settings.DATABASES[alias]
    target.setdefault("APP_USER", target.get("USER"))
    for key in _ROLE_KEYS:
        target[key] = owner.get(key, {} if key == "OPTIONS" else "")
    connection = connections[alias]
    connection.close()
    connection.settings_dict.update({k: target[k] for k in _ROLE_KEYS})
    connection.settings_dict["APP_USER"] = target["APP_USER"]


def use_app_role(alias: str = "default") -> None:
    """Reconnect ``alias`` as the application role after :func:`use_owner_role`."""
    from django.conf import settings
    from django.db import connections

    app = getattr(settings, "DATABASE_APP", None)
    if not app:
        return
    target = settings.DATABASES[alias]
    for key in _ROLE_KEYS:
        target[key] = app.get(key, {} if key == "OPTIONS" else "")
    connection = connections[alias]
    connection.close()
    connection.settings_dict.update({k: target[k] for k in _ROLE_KEYS})
