from __future__ import annotations

from django.apps import AppConfig


class HierarchyConfig(AppConfig):
    name = "hierarchy"
    verbose_name = "People, hierarchies and periods"
    default_auto_field = "django.db.models.BigAutoField"
