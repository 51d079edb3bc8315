from __future__ import annotations

from django.urls import path

from plans import case_views, document_views, objectives_views, quota_views, scheme_views, views

VERSION = "<int:plan_id>/versions/<int:number>/"

urlpatterns = [
    path("", views.plan_list, name="plans"),
    path("new/", views.plan_create, name="plan_create"),
    path("mine/", document_views.my_plans, name="my_plans"),
    path("scheme/", scheme_views.scheme_page, name="plan_scheme"),
    path(
        "documents/<int:person_id>/<int:version_id>/",
        document_views.plan_document,
        name="plan_document",
    ),
    path(
        "documents/<int:person_id>/<int:version_id>/print/",
        document_views.plan_document_print,
        name="plan_document_print",
    ),
    path(
        "documents/<int:person_id>/<int:version_id>/pdf/",
        document_views.plan_document_download,
        name="plan_document_pdf",
    ),
    path(
        "documents/<int:person_id>/<int:version_id>/acknowledge/",
        document_views.plan_document_acknowledge,
        name="plan_document_acknowledge",
    ),
    path(
        "<int:plan_id>/acknowledgements/",
        document_views.plan_acknowledgements,
        name="plan_acknowledgements",
    ),
    path("objectives/", objectives_views.objectives_page, name="objectives"),
    path("objectives/mine/", objectives_views.my_objectives, name="my_objectives"),
    path("objectives/new/", objectives_views.objective_add, name="objective_add"),
    path(
        "objectives/<int:objective_id>/comment/",
        objectives_views.objective_comment,
        name="objective_comment",
    ),
    path(
        "objectives/<int:objective_id>/<slug:action>/",
        objectives_views.objective_action,
        name="objective_action",
    ),
    path("quotas/", quota_views.quota_list, name="quota_list"),
    path("quotas/upload/", quota_views.quota_upload, name="quota_upload"),
    path("quotas/<int:quota_pk>/", quota_views.quota_detail, name="quota_detail"),
    path("<int:plan_id>/", views.plan_detail, name="plan_detail"),
    path("<int:plan_id>/archive/", views.plan_archive, name="plan_archive"),
    path("<int:plan_id>/preview/", views.plan_preview, name="plan_preview"),
    path(VERSION, views.plan_version, name="plan_version"),
    path(f"{VERSION}publish/", views.plan_version_publish, name="plan_version_publish"),
    path(f"{VERSION}diff/", views.plan_version_diff, name="plan_version_diff"),
    path(f"{VERSION}cases/new/", case_views.plan_case_new, name="plan_case_new"),
    path(f"{VERSION}cases/<int:case_id>/", case_views.plan_case_edit, name="plan_case_edit"),
    path(
        f"{VERSION}cases/<int:case_id>/delete/",
        case_views.plan_case_delete,
        name="plan_case_delete",
    ),
]
