from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from core import views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password-reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("tenant/switch/", views.tenant_switch, name="tenant_switch"),
    path("admin/members/", views.members, name="members"),
    path("admin/members/<int:membership_id>/", views.member_update, name="member_update"),
    path("admin/api-clients/", views.api_clients, name="api_clients"),
    path(
        "admin/api-clients/<int:client_id>/revoke/",
        views.api_client_revoke,
        name="api_client_revoke",
    ),
]
