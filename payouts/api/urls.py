from __future__ import annotations

from django.urls import path

from payouts.api import accruals as accrual_views
from payouts.api import analytics as analytics_views
from payouts.api import approvals, disputes, exports, milestones, rollups, runs, statements
from payouts.api import ledger as views
from payouts.api import nudges as nudge_views

urlpatterns = [
    path("statements/", statements.StatementListView.as_view(), name="api-statement-list"),
    path("rollups/", rollups.RollupView.as_view(), name="api-rollup"),
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

# --- the ledger and the period lifecycle (payouts/api/ledger.py) ---

PERIOD = "periods/<int:period_id>/"

urlpatterns += [
    path("ledger-entries/", views.LedgerEntryListView.as_view(), name="api-ledger-entry-list"),
    path(
        "ledger-entries/<int:entry_id>/",
        views.LedgerEntryDetailView.as_view(),
        name="api-ledger-entry-detail",
    ),
    path("clawbacks/", views.ClawbackView.as_view(), name="api-clawback"),
    path("adjustments/", views.AdjustmentListView.as_view(), name="api-adjustment-list"),
    path(
        "adjustments/<int:adjustment_id>/",
        views.AdjustmentDetailView.as_view(),
        name="api-adjustment-detail",
    ),
    path(
        "adjustments/<int:adjustment_id>/approve/",
        views.AdjustmentApproveView.as_view(),
        name="api-adjustment-approve",
    ),
    path(
        "adjustments/<int:adjustment_id>/reject/",
        views.AdjustmentRejectView.as_view(),
        name="api-adjustment-reject",
    ),
    path("draws/", views.DrawListView.as_view(), name="api-draw-list"),
    path("draws/<int:draw_id>/", views.DrawDetailView.as_view(), name="api-draw-detail"),
    path(f"{PERIOD}draw-balances/", views.DrawBalanceView.as_view(), name="api-draw-balances"),
    path("holds/", views.HoldListView.as_view(), name="api-hold-list"),
    path("holds/<int:hold_id>/", views.HoldDetailView.as_view(), name="api-hold-detail"),
    path("holds/<int:hold_id>/release/", views.HoldReleaseView.as_view(), name="api-hold-release"),
    path(f"{PERIOD}submit/", views.PeriodSubmitView.as_view(), name="api-period-submit"),
    path(f"{PERIOD}approve/", views.PeriodApproveView.as_view(), name="api-period-approve"),
    path(f"{PERIOD}reopen/", views.PeriodReopenView.as_view(), name="api-period-reopen"),
    path(f"{PERIOD}close/", views.PeriodCloseView.as_view(), name="api-period-close"),
    path(f"{PERIOD}checklist/", views.PeriodChecklistView.as_view(), name="api-period-checklist"),
]

# --- calculation runs (payouts/api/runs.py) ---

urlpatterns += [
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

BATCH = "export-batches/<int:batch_id>/"

# --- finance exports (payouts/api/exports.py) ---

urlpatterns += [
    path("payouts/", exports.PayoutListView.as_view(), name="api-payout-list"),
    path("export-batches/", exports.ExportBatchListView.as_view(), name="api-export-batch-list"),
    path(BATCH, exports.ExportBatchDetailView.as_view(), name="api-export-batch-detail"),
    path(f"{BATCH}file/", exports.ExportBatchFileView.as_view(), name="api-export-batch-file"),
    path(
        f"{BATCH}payroll/",
        exports.ExportBatchPayrollView.as_view(),
        name="api-export-batch-payroll",
    ),
    path(
        f"{BATCH}mark-paid/",
        exports.ExportBatchMarkPaidView.as_view(),
        name="api-export-batch-mark-paid",
    ),
    path("earning-codes/", exports.EarningCodeListView.as_view(), name="api-earning-code-list"),
    path(
        "earning-codes/<int:code_id>/",
        exports.EarningCodeDetailView.as_view(),
        name="api-earning-code-detail",
    ),
]

# --- executive analytics and accruals (payouts/api/analytics.py, payouts/api/accruals.py) ---

urlpatterns += [
    path("analytics/cost/", analytics_views.AnalyticsCostView.as_view(), name="api-analytics-cost"),
    path(
        "analytics/revenue/",
        analytics_views.AnalyticsRevenueView.as_view(),
        name="api-analytics-revenue",
    ),
    path(
        "analytics/recovery/",
        analytics_views.AnalyticsRecoveryView.as_view(),
        name="api-analytics-recovery",
    ),
    path(
        "analytics/attainment/",
        analytics_views.AnalyticsAttainmentView.as_view(),
        name="api-analytics-attainment",
    ),
    path(
        "analytics/scorecard/",
        analytics_views.AnalyticsScorecardView.as_view(),
        name="api-analytics-scorecard",
    ),
    path(
        "analytics/movers/",
        analytics_views.AnalyticsMoversView.as_view(),
        name="api-analytics-movers",
    ),
    path("accruals/", accrual_views.AccrualUnpaidView.as_view(), name="api-accruals"),
    path(
        "accruals/capitalized/",
        accrual_views.AccrualCapitalizedView.as_view(),
        name="api-accruals-capitalized",
    ),
    path(
        "accruals/policies/",
        accrual_views.PolicyListView.as_view(),
        name="api-capitalization-policy-list",
    ),
    path(
        "accruals/policies/<int:policy_id>/",
        accrual_views.PolicyDetailView.as_view(),
        name="api-capitalization-policy-detail",
    ),
]


# --- shared goals and anomalies (payouts/api/milestones.py) ---

urlpatterns += [
    path("milestones/", milestones.MilestoneListView.as_view(), name="api-milestone-list"),
    path(
        "milestones/<str:goal_id>/",
        milestones.MilestoneDetailView.as_view(),
        name="api-milestone-detail",
    ),
    path("anomalies/", milestones.AnomalyListView.as_view(), name="api-anomaly-list"),
]

# --- earnings progress and nudges (payouts/api/nudges.py) ---

urlpatterns += [
    path("earnings/me/", nudge_views.EarningsMeView.as_view(), name="api-earnings-me"),
    path(
        "nudges/preference/",
        nudge_views.NudgePreferenceView.as_view(),
        name="api-nudge-preference",
    ),
]

# --- approvals (payouts/api/approvals.py) ---

urlpatterns += [
    path("approvals/", approvals.ApprovalListView.as_view(), name="api-approval-list"),
    path(
        "approvals/<int:request_id>/",
        approvals.ApprovalDetailView.as_view(),
        name="api-approval-detail",
    ),
    path(
        "approvals/<int:request_id>/approve/",
        approvals.ApprovalApproveView.as_view(),
        name="api-approval-approve",
    ),
    path(
        "approvals/<int:request_id>/reject/",
        approvals.ApprovalRejectView.as_view(),
        name="api-approval-reject",
    ),
    path(
        "approval-routes/",
        approvals.ApprovalRouteListView.as_view(),
        name="api-approval-route-list",
    ),
    path(
        "approval-routes/<int:route_id>/",
        approvals.ApprovalRouteDetailView.as_view(),
        name="api-approval-route-detail",
    ),
]

# --- run schedules (payouts/api/schedules.py) ---

from payouts.api import schedules as run_schedules  # noqa: E402

urlpatterns += [
    path(
        "run-schedules/",
        run_schedules.RunScheduleListView.as_view(),
        name="api-run-schedule-list",
    ),
    path(
        "run-schedules/<int:schedule_id>/",
        run_schedules.RunScheduleDetailView.as_view(),
        name="api-run-schedule-detail",
    ),
]

# --- disputes (payouts/api/disputes.py) ---

DISPUTE = "disputes/<int:dispute_id>/"

urlpatterns += [
    path("disputes/", disputes.DisputeListView.as_view(), name="api-dispute-list"),
    path(DISPUTE, disputes.DisputeDetailView.as_view(), name="api-dispute-detail"),
    path(
        DISPUTE + "comments/", disputes.DisputeCommentsView.as_view(), name="api-dispute-comments"
    ),
    path(DISPUTE + "assign/", disputes.DisputeAssignView.as_view(), name="api-dispute-assign"),
    path(DISPUTE + "resolve/", disputes.DisputeResolveView.as_view(), name="api-dispute-resolve"),
    path(DISPUTE + "reject/", disputes.DisputeRejectView.as_view(), name="api-dispute-reject"),
    path(
        DISPUTE + "withdraw/", disputes.DisputeWithdrawView.as_view(), name="api-dispute-withdraw"
    ),
]

# --- a plan version previewed on a person's real period (payouts/api/preview.py) ---

from payouts.api import preview as version_preview  # noqa: E402

urlpatterns += [
    path(
        "plans/<int:plan_id>/versions/<int:number>/preview/",
        version_preview.PlanVersionPreviewView.as_view(),
        name="api-plan-version-preview",
    ),
]
