from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import AllowAny

from core.auth import throttled_login
from core.views import healthz

api_v1 = [
    path("", include("core.api.urls")),
    path("", include("hierarchy.api.urls")),
    path("", include("plans.api.urls")),
    path("", include("incentives.api.urls")),
    path("", include("payouts.api.urls")),
]

urlpatterns = [
    path("", include("core.urls")),
    path("", include("hierarchy.urls")),
    path("data/", include("incentives.urls")),
    path("plans/", include("plans.urls")),
    path("", include("dashboards.urls")),
    path("healthz", healthz, name="healthz"),
    path("api/v1/", include(api_v1)),
    # The schema describes the open-source API, not tenant data: readable without signing in.
    path(
        "api/schema/", SpectacularAPIView.as_view(permission_classes=[AllowAny]), name="api-schema"
    ),
    path(
        "api/docs/",
        # The split view serves its start-up script as a file: no inline script (CSP).
        SpectacularSwaggerSplitView.as_view(url_name="api-schema", permission_classes=[AllowAny]),
        name="api-docs",
    ),
    # The platform admin's sign-in, with the same throttle (and 429 page) as /login/.
    path("django-admin/login/", throttled_login(admin.site.login), name="django-admin-login"),
    path("django-admin/", admin.site.urls),
]

handler404 = "core.views.page_not_found"
handler403 = "core.views.permission_denied"
handler500 = "core.views.server_error"
