from __future__ import annotations

from django.urls import path

from payouts.api import exports

BATCH = "export-batches/<int:batch_id>/"

urlpatterns = [
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
