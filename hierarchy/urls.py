from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from hierarchy import org_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password-reset/", auth_views.PasswordResetView.as_view(), name="password_reset"),
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
    path("admin/audit/", views.audit_log, name="audit_log"),
]

# --- people, org structure, periods, HR import (issue #3) ---------------------------------------

urlpatterns += [
    path("org/", org_views.org_chart, name="org_chart"),
    path("people/", org_views.people_list, name="people_list"),
    path("people/<int:person_id>/", org_views.person_detail, name="person_detail"),
    path("periods/", org_views.periods_page, name="periods"),
    path("imports/", org_views.hr_imports, name="hr_imports"),
    path("imports/<int:batch_id>/", org_views.hr_import_detail, name="hr_import_detail"),
]
