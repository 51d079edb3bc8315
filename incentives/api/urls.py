from __future__ import annotations

from django.urls import path

from incentives.api import views

urlpatterns = [
    path("imports/", views.IngestBatchListView.as_view(), name="api-import-list"),
    path(
        "imports/<int:batch_id>/", views.IngestBatchDetailView.as_view(), name="api-import-detail"
    ),
    path("imports/<int:batch_id>/retry/", views.IngestRetryView.as_view(), name="api-import-retry"),
    path(
        "imports/<int:batch_id>/errors/",
        views.IngestErrorListView.as_view(),
        name="api-import-errors",
    ),
    path(
        "imports/<int:batch_id>/errors.csv",
        views.IngestErrorCsvView.as_view(),
        name="api-import-errors-csv",
    ),
    path("imports/<slug:kind>/rows/", views.IngestRowsView.as_view(), name="api-import-rows"),
    path("imports/<slug:kind>/csv/", views.IngestCsvView.as_view(), name="api-import-csv"),
    path("column-mappings/", views.ColumnMappingView.as_view(), name="api-column-mappings"),
    path("transactions/", views.TransactionListView.as_view(), name="api-transaction-list"),
    path(
        "transactions/<int:transaction_id>/",
        views.TransactionDetailView.as_view(),
        name="api-transaction-detail",
    ),
    path("credits/", views.CreditListView.as_view(), name="api-credit-list"),
    path("credit-rollups/", views.CreditRollupListView.as_view(), name="api-credit-rollup-list"),
    path(
        "credits/recalculate/", views.CreditRecalculateView.as_view(), name="api-credit-recalculate"
    ),
    path("crediting-rules/", views.CreditingRuleListView.as_view(), name="api-rule-list"),
    path(
        "crediting-rules/<int:rule_id>/",
        views.CreditingRuleDetailView.as_view(),
        name="api-rule-detail",
    ),
    path("fx-rates/", views.FxRateListView.as_view(), name="api-fx-rate-list"),
    path("fx-rates/convert/", views.FxConvertView.as_view(), name="api-fx-convert"),
    path("kpi-values/", views.KpiValueListView.as_view(), name="api-kpi-list"),
    path(
        "kpi-values/<int:kpi_value_id>/sign-off/",
        views.KpiValueSignOffView.as_view(),
        name="api-kpi-sign-off",
    ),
]
