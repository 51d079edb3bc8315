"""Management commands: tenant_create, api_client_create (--tenant), demo_seed."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from core.models import ApiClient, AuditEvent, Membership, Tenant
from core.tenancy import tenant_scope


def test_tenant_create_makes_a_tenant_and_invites_its_admin(
    db, mailoutbox, django_capture_on_commit_callbacks
):
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command(
            "tenant_create",
            "initech",
            "Initech",
            "--currency",
            "EUR",
            "--time-zone",
            "Europe/Paris",
            "--admin-email",
            "boss@initech.test",
            stdout=out,
        )
    tenant = Tenant.objects.get(slug="initech")
    assert (tenant.default_currency, tenant.time_zone) == ("EUR", "Europe/Paris")
    assert Membership.objects.get(tenant=tenant).roles == ["tenant_admin"]
    assert mailoutbox[0].to == ["boss@initech.test"]
    with tenant_scope(tenant):
        assert set(AuditEvent.objects.values_list("action", flat=True)) == {
            "tenant.create",
            "membership.invite",
        }


def test_tenant_create_rejects_bad_values_naming_the_field(db):
    with pytest.raises(CommandError, match="time_zone"):
        call_command("tenant_create", "initech", "Initech", "--time-zone", "Mars/Olympus")
    with pytest.raises(CommandError, match="default_currency"):
        call_command("tenant_create", "initech", "Initech", "--currency", "euro")


def test_api_client_create_works_inside_the_named_tenant_only(tenant_a, tenant_b):
    out = StringIO()
    call_command(
        "api_client_create",
        "--tenant",
        "acme",
        "--name",
        "ci",
        "--scope",
        "read:payouts",
        stdout=out,
    )
    assert out.getvalue().startswith("qtk_")
    assert ApiClient.objects.get(name="ci").tenant == tenant_a
    with pytest.raises(CommandError, match="no active tenant"):
        call_command(
            "api_client_create", "--tenant", "nope", "--name", "x", "--scope", "read:payouts"
        )
    with pytest.raises(CommandError, match="Unknown scope"):
        call_command("api_client_create", "--tenant", "acme", "--name", "y", "--scope", "root")


def test_demo_seed_is_idempotent_and_creates_every_persona(db):
    call_command("demo_seed", "--quiet")
    call_command("demo_seed", "--quiet")
    demo = Tenant.objects.get(slug="demo")
    roles = {r for m in Membership.objects.filter(tenant=demo) for r in m.roles}
    assert roles == {"tenant_admin", "comp_admin", "finance", "executive", "manager", "employee"}
    assert Membership.objects.filter(user__email="admin@demo.quotient.dev").count() == 2
