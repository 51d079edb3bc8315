"""The dashboards' pages."""

from __future__ import annotations

from django.urls import path

from dashboards import runs_views

urlpatterns = [
    path("runs/", runs_views.run_list, name="runs"),
    path("runs/calculate/", runs_views.run_calculate, name="run_calculate"),
    path("runs/<int:run_id>/", runs_views.run_detail, name="run_detail"),
    path("runs/<int:run_id>/retry/", runs_views.run_retry, name="run_retry"),
    path("runs/<int:run_id>/compare/", runs_views.run_compare_pick, name="run_compare_pick"),
    path(
        "runs/<int:run_id>/compare/<int:other_id>/",
        runs_views.run_compare,
        name="run_compare",
    ),
]
