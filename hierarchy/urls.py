from __future__ import annotations

from django.urls import path

from hierarchy import audit_views, import_views, org_views

# --- people, org structure, periods, HR import (issue #3) ---------------------------------------

urlpatterns = [
    path("admin/audit/", audit_views.audit_log_page, name="audit_log"),
    path("org/", org_views.org_chart, name="org_chart"),
    path("people/", org_views.people_list, name="people_list"),
    path("people/<int:person_id>/", org_views.person_detail, name="person_detail"),
    path("periods/", org_views.periods_page, name="periods"),
    path("imports/", import_views.hr_imports, name="hr_imports"),
    path("imports/<int:batch_id>/", import_views.hr_import_detail, name="hr_import_detail"),
]
