from __future__ import annotations

from django.urls import path

from dashboards import earnings_views

urlpatterns = [
    path("earnings/", earnings_views.my_earnings, name="my_earnings"),
    path("earnings/team/", earnings_views.team, name="team_earnings"),
    path(
        "earnings/people/<int:person_id>/",
        earnings_views.member_earnings,
        name="member_earnings",
    ),
    path(
        "earnings/statements/<int:period_id>-<int:person_id>/",
        earnings_views.statement_page,
        name="statement_page",
    ),
    path("earnings/lines/<int:line_id>/", earnings_views.line_page, name="statement_line_page"),
]
