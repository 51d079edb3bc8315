from __future__ import annotations

from django.urls import path

from hierarchy.api import audit_views as av
from hierarchy.api import people_views as pv

# --- people, hierarchies, assignments, periods, HR imports (issue #3) ---------------------------

urlpatterns = [
    path("audit-events/", av.AuditEventListView.as_view(), name="api-audit-list"),
    path(
        "audit-events/<int:event_id>/",
        av.AuditEventDetailView.as_view(),
        name="api-audit-detail",
    ),
    path("people/", pv.PersonListView.as_view(), name="api-person-list"),
    path("people/<int:person_id>/", pv.PersonDetailView.as_view(), name="api-person-detail"),
    path(
        "people/<int:person_id>/timeline/",
        pv.PersonTimelineView.as_view(),
        name="api-person-timeline",
    ),
    path(
        "people/<int:person_id>/managers/",
        pv.PersonManagersView.as_view(),
        name="api-person-managers",
    ),
    path(
        "people/<int:person_id>/terminate/",
        pv.PersonTerminateView.as_view(),
        name="api-person-terminate",
    ),
    path("job-roles/", pv.JobRoleListView.as_view(), name="api-job-role-list"),
    path("job-roles/<int:role_id>/", pv.JobRoleDetailView.as_view(), name="api-job-role-detail"),
    path("hierarchies/", pv.HierarchyListView.as_view(), name="api-hierarchy-list"),
    path(
        "hierarchies/<int:hierarchy_id>/",
        pv.HierarchyDetailView.as_view(),
        name="api-hierarchy-detail",
    ),
    path(
        "hierarchies/<int:hierarchy_id>/tree/",
        pv.HierarchyTreeView.as_view(),
        name="api-hierarchy-tree",
    ),
    path("nodes/", pv.NodeListView.as_view(), name="api-node-list"),
    path("nodes/<int:node_id>/", pv.NodeDetailView.as_view(), name="api-node-detail"),
    path("nodes/<int:node_id>/move/", pv.NodeMoveView.as_view(), name="api-node-move"),
    path("nodes/<int:node_id>/members/", pv.NodeMembersView.as_view(), name="api-node-members"),
    path("assignments/", pv.AssignmentListView.as_view(), name="api-assignment-list"),
    path(
        "assignments/<int:assignment_id>/",
        pv.AssignmentDetailView.as_view(),
        name="api-assignment-detail",
    ),
    path("periods/", pv.PeriodListView.as_view(), name="api-period-list"),
    path("periods/<int:period_id>/", pv.PeriodDetailView.as_view(), name="api-period-detail"),
    path("hr-imports/", pv.ImportListView.as_view(), name="api-hr-import-list"),
    path("hr-imports/<int:batch_id>/", pv.ImportDetailView.as_view(), name="api-hr-import-detail"),
    path(
        "hr-imports/<int:batch_id>/errors.csv",
        pv.ImportErrorsView.as_view(),
        name="api-hr-import-errors",
    ),
]
