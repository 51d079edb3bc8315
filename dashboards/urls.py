"""The dashboards' pages."""

from __future__ import annotations

from django.urls import path

from dashboards import export_views, period_views

urlpatterns = [
    # --- period close (payouts' lifecycle and ledger) ---
    path("periods/close/", period_views.period_close_list, name="period_close_list"),
    path(
        "periods/<int:period_id>/close/",
        period_views.period_close_detail,
        name="period_close_detail",
    ),
    path(
        "periods/<int:period_id>/close/<str:action>/",
        period_views.period_transition,
        name="period_transition",
    ),
    path(
        "periods/<int:period_id>/adjustments/",
        period_views.adjustment_create,
        name="adjustment_create",
    ),
    path(
        "adjustments/<int:adjustment_id>/<str:decision>/",
        period_views.adjustment_decide,
        name="adjustment_decide",
    ),
    path("periods/<int:period_id>/holds/", period_views.hold_create, name="hold_create"),
    path("holds/<int:hold_id>/release/", period_views.hold_release, name="hold_release"),
]

# --- finance exports (dashboards/export_views.py) ---

urlpatterns += [
    path("exports/", export_views.export_list, name="exports"),
    path("exports/<int:batch_id>/", export_views.export_detail, name="export_detail"),
    path(
        "exports/<int:batch_id>/download/<slug:content>.<slug:fmt>",
        export_views.export_download,
        name="export_download",
    ),
    path(
        "exports/<int:batch_id>/mark-paid/", export_views.export_mark_paid, name="export_mark_paid"
    ),
    path("exports/earning-codes/", export_views.earning_codes, name="earning_codes"),
    path(
        "exports/earning-codes/<int:code_id>/delete/",
        export_views.earning_code_delete,
        name="earning_code_delete",
    ),
]
