"""The dashboards' pages."""

from __future__ import annotations

from django.urls import path

from dashboards import dispute_views, earnings_views, export_views, period_views, runs_views

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
    # --- calculation runs (payouts.runs) ---
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
    # --- earnings: an employee's own, a manager's team (payouts' statements) ---
    path("earnings/", earnings_views.my_earnings, name="my_earnings"),
    path("earnings/team/", earnings_views.team, name="team_earnings"),
    path(
        "earnings/people/<int:person_id>/",
        earnings_views.member_earnings,
        name="member_earnings",
    ),
    path(
        "earnings/statements/<int:period_id>-<int:person_id>/",
        earnings_views.statement_page,
        name="statement_page",
    ),
    path("earnings/lines/<int:line_id>/", earnings_views.line_page, name="statement_line_page"),
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

# --- disputes (dashboards/dispute_views.py) ---

urlpatterns += [
    path("disputes/", dispute_views.dispute_inbox, name="dispute_inbox"),
    path("disputes/mine/", dispute_views.my_questions, name="my_questions"),
    path("disputes/new/", dispute_views.dispute_raise, name="dispute_raise"),
    path("disputes/settings/", dispute_views.dispute_settings, name="dispute_settings"),
    path("disputes/<int:dispute_id>/", dispute_views.dispute_detail, name="dispute_detail"),
    path(
        "disputes/<int:dispute_id>/<str:action>/",
        dispute_views.dispute_action,
        name="dispute_action",
    ),
]
