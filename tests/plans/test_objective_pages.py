"""The objectives pages: a manager's team for a period (add, set, complete, sign off, reopen,
errors beside the field), an employee's own objectives read-only, empty states, and another
tenant seeing none of it."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from core.tenancy import tenant_scope
from plans.models import Objective, ObjectiveStatus
from tests.plans.objectives_data import mbo_world, objective, signed_off

pytestmark = pytest.mark.django_db


@pytest.fixture
def w(org: Any) -> Any:
    with tenant_scope(org.tenant):
        yield mbo_world(org)


def _as(user: Any) -> Client:
    c = Client()
    c.force_login(user)
    return c


@pytest.mark.covers_url("objectives", "objective_add", "objective_action")
def test_a_manager_sets_and_signs_off_objectives_on_the_page(w, client_charlie):
    sam = _as(w.manager)
    page = sam.get("/plans/objectives/", {"period": w.period.pk})
    body = page.content.decode()
    assert page.status_code == 200
    assert "Erin East" in body and "Wes West" in body and "Mia Marketing" not in body
    assert "No objectives for Jan 2026" in body
    # adding one with a weight over 100 shows the error beside the field, nothing is written
    link = f"{w.plan.pk}:mbo"
    bad = sam.post(
        "/plans/objectives/new/",
        {
            "period": w.period.pk,
            "person": w.org.erin.pk,
            "link": link,
            "title": "X",
            "weight": "150",
        },
    )
    assert bad.status_code == 400
    assert "Enter a weight above 0 and at most 100" in bad.content.decode()
    with tenant_scope(w.org.tenant):
        assert not Objective.objects.exists()
    # two good ones; setting with 70 % says why beside the row
    for title, weight in (("Partner launch", "70"),):
        ok = sam.post(
            "/plans/objectives/new/",
            {
                "period": w.period.pk,
                "person": w.org.erin.pk,
                "link": link,
                "title": title,
                "weight": weight,
            },
        )
        assert ok.status_code == 302
    with tenant_scope(w.org.tenant):
        first = Objective.objects.get()
    refused = sam.post(f"/plans/objectives/{first.pk}/set/")
    assert refused.status_code == 400 and "sum to 70 %" in refused.content.decode()
    sam.post(
        "/plans/objectives/new/",
        {
            "period": w.period.pk,
            "person": w.org.erin.pk,
            "link": link,
            "title": "Docs",
            "weight": "30",
        },
    )
    assert sam.post(f"/plans/objectives/{first.pk}/set/").status_code == 302
    # a completion out of range is refused beside its input; a good one is submitted
    wrong = sam.post(f"/plans/objectives/{first.pk}/submit/", {"completion": "300"})
    assert wrong.status_code == 400
    assert f'id="completion-{first.pk}-error"' in wrong.content.decode()
    sam.post(f"/plans/objectives/{first.pk}/submit/", {"completion": "100"})
    assert sam.post(f"/plans/objectives/{first.pk}/sign-off/").status_code == 302
    with tenant_scope(w.org.tenant):
        first.refresh_from_db()
        assert first.status == ObjectiveStatus.SIGNED_OFF
    after = sam.get("/plans/objectives/", {"period": w.period.pk}).content.decode()
    assert "1 of 2 signed off (50 %)" in after
    # reopening without a reason says so beside the reason
    no_reason = sam.post(f"/plans/objectives/{first.pk}/reopen/", {"reason": ""})
    assert no_reason.status_code == 400
    assert f'id="reason-{first.pk}-error"' in no_reason.content.decode()
    # Globex sees none of it and cannot act on it
    assert (
        client_charlie.post(f"/plans/objectives/{first.pk}/reopen/", {"reason": "x"}).status_code
        == 404
    )
    other = client_charlie.get("/plans/objectives/")
    assert other.status_code == 200 and "Erin East" not in other.content.decode()
    assert client_charlie.get("/plans/objectives/", {"period": w.period.pk}).status_code == 404


@pytest.mark.covers_url("my_objectives", "objective_comment")
def test_an_employee_reads_her_objectives_and_cannot_act(w, client_charlie):
    erin = _as(w.employee)
    assert "No objectives yet" in erin.get("/plans/objectives/mine/").content.decode()
    with tenant_scope(w.org.tenant):
        [done, _open] = signed_off(w, w.org.erin, [("Launch", "60", "90"), ("Docs", "40", None)])
        objective(w, w.org.wes, "Not hers", "100")
    body = erin.get("/plans/objectives/mine/").content.decode()
    assert "Launch" in body and "Docs" in body and "Not hers" not in body
    assert "1 of 2 signed off (50 %)" in body
    assert "Sign off" not in body and "Reopen" not in body
    assert erin.post(f"/plans/objectives/{done.pk}/reopen/", {"reason": "x"}).status_code == 404
    # she comments on her own; too long a comment is refused beside it
    too_long = erin.post(f"/plans/objectives/{done.pk}/comment/", {"comment": "x" * 2001})
    assert too_long.status_code == 400
    assert f'id="comment-{done.pk}-error"' in too_long.content.decode()
    ok = erin.post(f"/plans/objectives/{done.pk}/comment/", {"comment": "Shipped in week 3"})
    assert ok.status_code == 302
    assert "Shipped in week 3" in erin.get("/plans/objectives/mine/").content.decode()
    manager_view = _as(w.manager).get("/plans/objectives/", {"period": w.period.pk})
    assert "Erin East's comment: Shipped in week 3" in manager_view.content.decode()
    assert (
        client_charlie.post(f"/plans/objectives/{done.pk}/comment/", {"comment": "x"}).status_code
        == 404
    )
    assert "Launch" not in client_charlie.get("/plans/objectives/mine/").content.decode()
