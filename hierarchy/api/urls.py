from __future__ import annotations

from django.urls import path

from hierarchy.api import views

urlpatterns = [
    path("me/", views.MeView.as_view(), name="api-me"),
    path("members/", views.MemberListView.as_view(), name="api-member-list"),
    path(
        "members/<int:membership_id>/", views.MemberDetailView.as_view(), name="api-member-detail"
    ),
    path("api-clients/", views.ApiClientListView.as_view(), name="api-client-list"),
    path(
        "api-clients/<int:client_id>/",
        views.ApiClientDetailView.as_view(),
        name="api-client-detail",
    ),
    path("audit-events/", views.AuditEventListView.as_view(), name="api-audit-list"),
    path(
        "audit-events/<int:event_id>/",
        views.AuditEventDetailView.as_view(),
        name="api-audit-detail",
    ),
]
