from __future__ import annotations

from django.urls import path

from incentives import views

urlpatterns = [
    path("imports/", views.imports, name="imports"),
    path("imports/<int:batch_id>/", views.import_detail, name="import_detail"),
    path("transactions/", views.transactions, name="transactions"),
    path("transactions/<int:transaction_id>/", views.transaction_detail, name="transaction_detail"),
    path("credits/recalculate/", views.recalculate, name="credits_recalculate"),
    path("credits/rollups/<int:person_id>/", views.rollup_detail, name="rollup_detail"),
]
