"""Django admin for platform operators: platform tables only (never tenant data)."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.models import Group

from core.models import ApiClient, Membership, Tenant

admin.site.site_header = "Quotient platform administration"
admin.site.unregister(Group)


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["slug", "name", "default_currency", "time_zone", "is_active", "created_at"]
    search_fields = ["slug", "name"]
    list_filter = ["is_active"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["user", "tenant", "roles", "is_active"]
    list_filter = ["tenant", "is_active"]
    search_fields = ["user__email", "tenant__slug"]
    raw_id_fields = ["user"]


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "tenant", "key_id", "scopes", "last_used_at", "revoked_at"]
    list_filter = ["tenant"]
    readonly_fields = ["key_id", "secret_hash", "last_used_at", "created_at"]
