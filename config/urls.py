from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny

from core.views import healthz

api_v1 = [
    path("", include("core.api.urls")),
    path("", include("hierarchy.api.urls")),
    path("", include("plans.api.urls")),
    path("", include("incentives.api.urls")),
]

urlpatterns = [
    path("", include("core.urls")),
    path("", include("hierarchy.urls")),
    path("data/", include("incentives.urls")),
    path("healthz", healthz, name="healthz"),
    path("api/v1/", include(api_v1)),
    # The schema describes the open-source API, not tenant data: readable without signing in.
    path(
        "api/schema/", SpectacularAPIView.as_view(permission_classes=[AllowAny]), name="api-schema"
    ),
    path(
        "api/docs/",
        SpectacularSwaggerView.as_view(url_name="api-schema", permission_classes=[AllowAny]),
        name="api-docs",
    ),
    path("django-admin/", admin.site.urls),
]
