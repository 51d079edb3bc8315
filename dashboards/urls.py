from __future__ import annotations

from django.urls import path

from dashboards import export_views

urlpatterns = [
    path("exports/", export_views.export_list, name="exports"),
    path("exports/<int:batch_id>/", export_views.export_detail, name="export_detail"),
    path(
        "exports/<int:batch_id>/download/<slug:content>.<slug:fmt>",
        export_views.export_download,
        name="export_download",
    ),
    path(
        "exports/<int:batch_id>/mark-paid/", export_views.export_mark_paid, name="export_mark_paid"
    ),
    path("exports/earning-codes/", export_views.earning_codes, name="earning_codes"),
    path(
        "exports/earning-codes/<int:code_id>/delete/",
        export_views.earning_code_delete,
        name="earning_code_delete",
    ),
]
