from __future__ import annotations

from django.urls import path

from payouts.api import statements

urlpatterns = [
    path("statements/", statements.StatementListView.as_view(), name="api-statement-list"),
    path(
        "statements/<int:period_id>-<int:person_id>/",
        statements.StatementDetailView.as_view(),
        name="api-statement-detail",
    ),
    path(
        "statements/<int:period_id>-<int:person_id>/csv/",
        statements.StatementCsvView.as_view(),
        name="api-statement-csv",
    ),
    path(
        "statements/<int:period_id>-<int:person_id>/pdf/",
        statements.StatementPdfView.as_view(),
        name="api-statement-pdf",
    ),
    path(
        "statements/lines/<int:line_id>/",
        statements.StatementLineView.as_view(),
        name="api-statement-line",
    ),
]
