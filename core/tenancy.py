"""Tenancy: the one module that knows which tenant is current.

Why this exists
---------------
Pay data is among the most sensitive data a company holds, and one deployment serves many
companies. Isolation must therefore be impossible to forget, so it is enforced twice and both
layers fail closed:

1. **ORM layer.** Every tenant-owned model inherits :class:`TenantModel`, whose default (and
   base) manager filters by the current tenant and *raises* :class:`NoTenantError` when there is
   none. The only way around it is :func:`dangerously_unscoped`, a greppable name used only by
   platform code (management commands, migrations, Django admin for platform tables).
2. **Database layer (PostgreSQL).** Row-level security, ``ENABLE`` + ``FORCE``, on every tenant
   table, with a policy on ``current_setting('app.tenant_id')``. :func:`install_connection_guard`
   puts an execute wrapper on every connection that, before *each* statement, makes the
   session's ``app.tenant_id`` equal the current scope (or empty, which matches no row). So
   autocommit reads, streamed responses and reused pooled connections always run with the
   right setting, and a setting can never outlive the request or task that made it: the next
   statement re-aligns it. The application connects as a role with no BYPASSRLS that owns no
   table, so even raw SQL cannot see another tenant.

The current tenant lives in a ``ContextVar``. It is entered in exactly four places:
``core.middleware.TenantMiddleware`` (HTML pages), ``core.api.base.TenantViewMixin``
(``perform_authentication``, i.e. after DRF authenticated the request, so API clients work),
``core.tasks.TenantTask.__call__`` (Celery tasks), and ``core.management.base.TenantCommand``
(``--tenant``). Everything else only reads it.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from django.db import models

if TYPE_CHECKING:
    from core.tenant import Tenant

_current_tenant: ContextVar[Tenant | None] = ContextVar("quotient_tenant", default=None)
_unscoped: ContextVar[bool] = ContextVar("quotient_unscoped", default=False)

SETTING_NAME = "app.tenant_id"


class NoTenantError(RuntimeError):
    """A tenant-scoped table was queried with no tenant in scope."""


@contextmanager
def tenant_scope(tenant: Tenant) -> Iterator[Tenant]:
    """Make ``tenant`` current for the duration of the block."""
    if tenant is None or tenant.pk is None:
        raise NoTenantError("tenant_scope() needs a saved tenant")
    token = _current_tenant.set(tenant)
    try:
        yield tenant
    finally:
        _current_tenant.reset(token)


@contextmanager
def no_tenant() -> Iterator[None]:
    """Leave any current tenant for the block (used around platform-only code)."""
    token = _current_tenant.set(None)
    try:
        yield
    finally:
        _current_tenant.reset(token)


@contextmanager
def dangerously_unscoped() -> Iterator[None]:
    """Switch off ORM tenant filtering. Platform code only; RLS still applies on PostgreSQL."""
    token = _unscoped.set(True)
    try:
        yield
    finally:
        _unscoped.reset(token)


def get_current_tenant() -> Tenant:
    """Return the current tenant or raise :class:`NoTenantError`."""
    tenant = _current_tenant.get()
    if tenant is None:
        raise NoTenantError("no tenant is active: enter tenant_scope() first")
    return tenant


def get_current_tenant_or_none() -> Tenant | None:
    """Return the current tenant, or None outside any scope."""
    return _current_tenant.get()


def tenant_zone(name: str | None = None) -> dt.tzinfo:
    """Return the zone the current tenant's times read in: ``name``, else the tenant's in scope,
    else UTC (a page, a download, a schedule: read where the tenant works, whoever asked)."""
    tenant = get_current_tenant_or_none()
    name = name or (tenant.time_zone if tenant is not None else "") or "UTC"
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def get_current_tenant_id() -> int | None:
    """Return the current tenant's id, or None."""
    tenant = _current_tenant.get()
    return None if tenant is None else int(tenant.pk)


class TenantQuerySet(models.QuerySet):  # type: ignore[type-arg]
    """QuerySet of a tenant model; tenancy is applied by the manager."""

    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> list[Any]:
        """Fill each object's tenant from the scope; refuse objects of another tenant."""
        objs = list(objs)
        current = _current_tenant.get()
        for obj in objs:
            if obj.tenant_id is None:
                if current is None:
                    raise NoTenantError(f"cannot create {self.model.__name__} with no tenant")
                obj.tenant = current
            elif current is not None and obj.tenant_id != current.pk and not _unscoped.get():
                raise NoTenantError(f"cannot create {self.model.__name__} of another tenant")
        return super().bulk_create(objs, *args, **kwargs)


class TenantManager(models.Manager):  # type: ignore[type-arg]
    """Default and base manager of every tenant model: filter by tenant or raise."""

    _queryset_class = TenantQuerySet

    def get_queryset(self) -> TenantQuerySet:
        # The manager's own queryset class, so querysets built on TenantQuerySet (the temporal
        # ones in core/temporal.py) keep this filter and its refusal without a tenant.
        queryset = self._queryset_class(self.model, using=self._db)
        if _unscoped.get():
            return queryset
        tenant = _current_tenant.get()
        if tenant is None:
            raise NoTenantError(f"{self.model.__name__} is tenant-scoped and no tenant is active")
        return queryset.filter(tenant_id=tenant.pk)


class TenantModel(models.Model):
    """Abstract base of every tenant-owned table.

    The ``tenant`` foreign key is set from the scope on save when missing; saving an object of
    another tenant inside a scope is refused.
    """

    tenant = models.ForeignKey("core.Tenant", on_delete=models.PROTECT, related_name="+")

    objects = TenantManager()

    class Meta:
        abstract = True
        base_manager_name = "objects"
        default_manager_name = "objects"

    def save(self, *args: Any, **kwargs: Any) -> None:
        current = _current_tenant.get()
        if self.tenant_id is None:
            if current is None:
                raise NoTenantError(f"cannot save {type(self).__name__} with no tenant")
            self.tenant = current
        elif current is not None and self.tenant_id != current.pk and not _unscoped.get():
            raise NoTenantError(f"cannot save {type(self).__name__} of another tenant")
        super().save(*args, **kwargs)

    def full_clean(self, *args: Any, **kwargs: Any) -> None:
        if self.tenant_id is None and (current := _current_tenant.get()) is not None:
            self.tenant = current
        super().full_clean(*args, **kwargs)


def tenant_models() -> list[type[models.Model]]:
    """Return every concrete tenant-owned model."""
    from django.apps import apps

    return [m for m in apps.get_models() if issubclass(m, TenantModel) and not m._meta.abstract]


# --- database guard ----------------------------------------------------------------------------


def _tenant_setting_value() -> str:
    tenant = _current_tenant.get()
    return "" if tenant is None else str(tenant.pk)


_TRANSACTION_CONTROL = ("SAVEPOINT", "ROLLBACK", "RELEASE", "COMMIT", "BEGIN")
_IN_ERROR = 3  # psycopg2.extensions.TRANSACTION_STATUS_INERROR


def _guard(execute: Any, sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
    """Align the session's app.tenant_id with the current scope before each statement.

    A value set inside a transaction can be undone by a rollback, so it is only remembered when
    it was set in autocommit mode; inside a transaction the setting is re-issued whenever the
    remembered value is not a committed one.
    """
    connection = context["connection"]
    wanted = _tenant_setting_value()
    if getattr(connection, "_quotient_tenant_setting", None) != wanted and not (
        isinstance(sql, str) and sql.lstrip()[:9].upper().startswith(_TRANSACTION_CONTROL)
    ):
        raw_connection = connection.connection
        if raw_connection.get_transaction_status() == _IN_ERROR:
            # The statement will fail anyway; nothing can run until the rollback.
            return execute(sql, params, many, context)
        # A cursor of its own: the statement's cursor may be a named (server-side) one.
        with raw_connection.cursor() as raw_cursor:
            raw_cursor.execute("SELECT set_config(%s, %s, false)", [SETTING_NAME, wanted])
        in_transaction = connection.in_atomic_block or not connection.get_autocommit()
        connection._quotient_tenant_setting = None if in_transaction else wanted
    return execute(sql, params, many, context)


def install_connection_guard(sender: Any, connection: Any, **kwargs: Any) -> None:
    """Install :func:`_guard` on a new PostgreSQL connection (``connection_created`` signal)."""
    if connection.vendor != "postgresql":
        return
    connection._quotient_tenant_setting = None
    if _guard not in connection.execute_wrappers:
        connection.execute_wrappers.append(_guard)
