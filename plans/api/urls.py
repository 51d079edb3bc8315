from __future__ import annotations

from django.urls import path

from plans.api import objectives, views

VERSION = "plans/<int:plan_id>/versions/<int:number>/"

urlpatterns = [
    path("plans/schema/", views.PlanSchemaView.as_view(), name="api-plan-schema"),
    path("plans/validate/", views.PlanValidateView.as_view(), name="api-plan-validate"),
    path("plans/scheme/", views.PlanSchemeView.as_view(), name="api-plan-scheme"),
    path("plans/", views.PlanListView.as_view(), name="api-plan-list"),
    path("plans/<int:plan_id>/", views.PlanDetailView.as_view(), name="api-plan-detail"),
    path("plans/<int:plan_id>/archive/", views.PlanArchiveView.as_view(), name="api-plan-archive"),
    path(
        "plans/<int:plan_id>/versions/",
        views.PlanVersionListView.as_view(),
        name="api-plan-versions",
    ),
    path(VERSION, views.PlanVersionDetailView.as_view(), name="api-plan-version-detail"),
    path(
        f"{VERSION}publish/",
        views.PlanVersionPublishView.as_view(),
        name="api-plan-version-publish",
    ),
    path(f"{VERSION}diff/", views.PlanVersionDiffView.as_view(), name="api-plan-version-diff"),
    path(f"{VERSION}cases/", views.PlanCaseListView.as_view(), name="api-plan-case-list"),
    path(f"{VERSION}cases/run/", views.PlanCaseRunView.as_view(), name="api-plan-case-run"),
    path(
        f"{VERSION}cases/<int:case_id>/",
        views.PlanCaseDetailView.as_view(),
        name="api-plan-case-detail",
    ),
    path(
        "plan-assignments/",
        views.PlanAssignmentListView.as_view(),
        name="api-plan-assignment-list",
    ),
    path(
        "plan-assignments/bulk/",
        views.PlanAssignmentBulkView.as_view(),
        name="api-plan-assignment-bulk",
    ),
    path(
        "plan-assignments/<int:assignment_id>/",
        views.PlanAssignmentDetailView.as_view(),
        name="api-plan-assignment-detail",
    ),
    path(
        "plan-assignments/<int:assignment_id>/end/",
        views.PlanAssignmentEndView.as_view(),
        name="api-plan-assignment-end",
    ),
    path("plan-templates/", views.PlanTemplateListView.as_view(), name="api-plan-template-list"),
    path(
        "plan-templates/<slug:key>/",
        views.PlanTemplateDetailView.as_view(),
        name="api-plan-template-detail",
    ),
    path("quotas/", views.QuotaListView.as_view(), name="api-quota-list"),
    path("quotas/bulk/", views.QuotaBulkView.as_view(), name="api-quota-bulk"),
    path("quotas/upload/", views.QuotaUploadView.as_view(), name="api-quota-upload"),
    path("quotas/<int:quota_pk>/", views.QuotaDetailView.as_view(), name="api-quota-detail"),
    path("quotas/<int:quota_pk>/end/", views.QuotaEndView.as_view(), name="api-quota-end"),
    path(
        "plan-acknowledgements/",
        views.PlanAcknowledgementListView.as_view(),
        name="api-plan-acknowledgement-list",
    ),
    path(
        "plan-documents/<int:person_id>/<int:version_id>/pdf/",
        views.PlanDocumentPdfView.as_view(),
        name="api-plan-document-pdf",
    ),
    path(
        "plan-acknowledgements/<int:acknowledgement_id>/",
        views.PlanAcknowledgementDetailView.as_view(),
        name="api-plan-acknowledgement-detail",
    ),
    path("objectives/", objectives.ObjectiveListView.as_view(), name="api-objective-list"),
    path(
        "objectives/<int:objective_id>/",
        objectives.ObjectiveDetailView.as_view(),
        name="api-objective-detail",
    ),
    path(
        "objectives/<int:objective_id>/set/",
        objectives.ObjectiveSetView.as_view(),
        name="api-objective-set",
    ),
    path(
        "objectives/<int:objective_id>/submit/",
        objectives.ObjectiveSubmitView.as_view(),
        name="api-objective-submit",
    ),
    path(
        "objectives/<int:objective_id>/sign-off/",
        objectives.ObjectiveSignOffView.as_view(),
        name="api-objective-sign-off",
    ),
    path(
        "objectives/<int:objective_id>/reopen/",
        objectives.ObjectiveReopenView.as_view(),
        name="api-objective-reopen",
    ),
    path(
        "objectives/<int:objective_id>/comment/",
        objectives.ObjectiveCommentView.as_view(),
        name="api-objective-comment",
    ),
]
