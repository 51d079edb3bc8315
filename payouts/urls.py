"""The payouts API's URLs (included under /api/v1/)."""

from __future__ import annotations

from django.urls import path

from payouts.api import runs

urlpatterns = [
    path("runs/", runs.RunListView.as_view(), name="api-run-list"),
    path("runs/<int:run_id>/", runs.RunDetailView.as_view(), name="api-run-detail"),
    path("runs/<int:run_id>/retry/", runs.RunRetryView.as_view(), name="api-run-retry"),
    path("runs/<int:run_id>/lines/", runs.RunLinesView.as_view(), name="api-run-lines"),
    path(
        "runs/<int:run_id>/compare/<int:other_id>/",
        runs.RunCompareView.as_view(),
        name="api-run-compare",
    ),
]
