from __future__ import annotations

from django.urls import path

from core.api import views

urlpatterns = [
    path("", views.ApiRootView.as_view(), name="api-root"),
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
]
