"""The dashboards' pages."""

from __future__ import annotations

from django.urls import path

from dashboards import (
    accrual_views,
    admin_home_views,
    approval_views,
    dispute_views,
    earnings_views,
    executive_views,
    export_views,
    milestone_views,
    nudge_views,
    period_views,
    preview_views,
    runs_views,
)

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
    # --- a plan version previewed on a person's real period (payouts.preview) ---
    path(
        "plans/<int:plan_id>/versions/<int:number>/real-data/",
        preview_views.plan_version_preview,
        name="plan_version_real_preview",
    ),
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
        "earnings/team/download.<slug:fmt>",
        earnings_views.team_download,
        name="team_earnings_download",
    ),
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

# --- the executive dashboard and accruals (dashboards/executive_views.py, accrual_views.py) ---

urlpatterns += [
    path("analytics/", executive_views.executive_dashboard, name="executive_dashboard"),
    path(
        "analytics/download/<slug:table>.<slug:fmt>",
        executive_views.executive_download,
        name="executive_download",
    ),
    path("finance/accruals/", accrual_views.accruals_page, name="accruals"),
    path(
        "finance/accruals/download/<slug:table>.<slug:fmt>",
        accrual_views.accruals_download,
        name="accruals_download",
    ),
    path("finance/accruals/policies/", accrual_views.policy_page, name="capitalization_policies"),
    path(
        "finance/accruals/policies/<int:policy_id>/",
        accrual_views.policy_edit,
        name="capitalization_policy_edit",
    ),
    path(
        "finance/accruals/policies/<int:policy_id>/delete/",
        accrual_views.policy_delete,
        name="capitalization_policy_delete",
    ),
]


# --- shared goals (milestone_views.py) and the comp admin home (admin_home_views.py) ---

urlpatterns += [
    path("milestones/", milestone_views.milestone_list, name="milestones"),
    path("milestones/<str:goal_id>/", milestone_views.milestone_detail, name="milestone_detail"),
    path("admin-home/", admin_home_views.admin_home, name="admin_home"),
]

# --- nudges and the leaderboard (dashboards/nudge_views.py) ---

urlpatterns += [
    path("settings/nudges/", nudge_views.nudge_settings, name="nudge_settings"),
    path("settings/leaderboard/", nudge_views.leaderboard_setting, name="leaderboard_setting"),
    path("leaderboard/", nudge_views.leaderboard, name="leaderboard"),
]

# --- approvals (dashboards/approval_views.py) ---

urlpatterns += [
    path("approvals/", approval_views.approval_queue, name="approvals"),
    path("approvals/<int:request_id>/", approval_views.approval_detail, name="approval_detail"),
    path(
        "approvals/<int:request_id>/<str:decision>/",
        approval_views.approval_decide,
        name="approval_decide",
    ),
    path("approvals/routes/", approval_views.approval_routes, name="approval_routes"),
    path(
        "approvals/routes/<int:route_id>/",
        approval_views.approval_route_edit,
        name="approval_route_edit",
    ),
    path(
        "approvals/routes/<int:route_id>/delete/",
        approval_views.approval_route_delete,
        name="approval_route_delete",
    ),
]

# --- run schedules (dashboards/schedule_views.py) ---

from dashboards import schedule_views  # noqa: E402

urlpatterns += [
    path("runs/schedules/", schedule_views.run_schedules, name="run_schedules"),
    path(
        "runs/schedules/<int:schedule_id>/",
        schedule_views.run_schedule_change,
        name="run_schedule_change",
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
