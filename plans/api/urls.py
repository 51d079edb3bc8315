from __future__ import annotations

from django.urls import path

from plans.api import views

urlpatterns = [
    path("plans/schema/", views.PlanSchemaView.as_view(), name="api-plan-schema"),
    path("plans/validate/", views.PlanValidateView.as_view(), name="api-plan-validate"),
]
