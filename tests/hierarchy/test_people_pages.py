"""Pages: org chart with a date picker, people, person timeline, periods, HR import."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core.models import Role
from core.tenancy import tenant_scope
from hierarchy import periods
from hierarchy.models import ImportBatch, Person
from tests.factories.hierarchy import MembershipFactory, UserFactory
from tests.tenancy import assert_not_found


@pytest.mark.covers_url("org_chart")
def test_the_org_chart_shows_the_tree_as_of_the_chosen_date(client_alice, client_charlie, org):
    with tenant_scope(org.tenant):
        from datetime import date

        from hierarchy import people

        people.node_move(
            node_id=org.west.pk, parent_id=org.marketing.pk, valid_from=date(2026, 3, 1)
        )
    url = f"/org/?hierarchy={org.reporting.pk}"
    before = client_alice.get(url + "&as_of=2026-02-01").content.decode()
    after = client_alice.get(url + "&as_of=2026-03-01").content.decode()
    assert "Sales West" in before and "Dana VP" in before
    # West is listed after Marketing once it moved there
    assert before.index("Sales West") > before.index("Sales East")
    assert after.index("Sales West") < after.index("Sales</strong>")
    # Charlie cannot pick A's hierarchy, and his own page shows none of A's nodes
    assert_not_found(client_charlie.get(url))
    own = client_charlie.get("/org/").content.decode()
    assert "Sales West" not in own and "No hierarchies yet" in own
    # and cannot post changes into A
    response = client_charlie.post(
        url, {"action": "move", "m-node_id": org.west.pk, "m-valid_from": "2026-01-01"}
    )
    assert_not_found(response)


def test_the_org_chart_adds_and_moves_nodes_with_clear_errors(client_alice, org):
    url = f"/org/?hierarchy={org.reporting.pk}&as_of=2026-06-01"
    created = client_alice.post(
        url,
        {
            "action": "node",
            "n-code": "cs",
            "n-name": "Customer Success",
            "n-parent_id": org.root.pk,
            "n-valid_from": "2026-01-01",
        },
    )
    assert created.status_code == 302
    cycle = client_alice.post(
        url,
        {
            "action": "move",
            "m-node_id": org.sales.pk,
            "m-parent_id": org.east.pk,
            "m-valid_from": "2026-05-01",
        },
    )
    assert cycle.status_code == 200
    assert "would make Sales its own ancestor on 2026-05-01" in cycle.content.decode()


@pytest.mark.covers_url("people_list", "person_detail")
def test_people_pages_are_tenant_scoped_and_show_the_timeline(client_alice, client_charlie, org):
    listed = client_alice.get("/people/?q=erin").content.decode()
    assert "Erin East" in listed and "Wes West" not in listed
    page = client_alice.get(f"/people/{org.erin.pk}/").content.decode()
    assert "Sales East" in page and "Sam Sales" in page  # timeline and manager chain
    # Charlie
    assert "Erin East" not in client_charlie.get("/people/").content.decode()
    assert_not_found(client_charlie.get(f"/people/{org.erin.pk}/"))
    assert_not_found(
        client_charlie.post(
            f"/people/{org.erin.pk}/",
            {"action": "terminate", "t-termination_date": "2026-01-01"},
        )
    )
    with tenant_scope(org.tenant):
        assert Person.objects.get(pk=org.erin.pk).termination_date is None


def test_an_employee_sees_only_their_own_page(client, org):
    user = UserFactory(email="erin@acme.test")
    MembershipFactory(user=user, tenant=org.tenant, roles=[Role.EMPLOYEE])
    with tenant_scope(org.tenant):
        Person.objects.filter(pk=org.erin.pk).update(user=user)
    client.force_login(user)
    assert client.get(f"/people/{org.erin.pk}/").status_code == 200
    assert_not_found(client.get(f"/people/{org.wes.pk}/"))
    assert_not_found(client.get("/org/"))
    assert_not_found(client.get("/imports/"))
    nav = client.get("/").content.decode()
    assert "People" in nav and "HR import" not in nav
    # the people list counts her alone in the singular
    listed = client.get("/people/").content.decode()
    assert "· 1 person</span>" in listed and "1 people" not in listed


def test_an_admin_adds_an_assignment_and_sees_a_clear_allocation_error(client_alice, org):
    url = f"/people/{org.erin.pk}/"
    response = client_alice.post(
        url,
        {
            "action": "assign",
            "a-node_id": org.marketing.pk,
            "a-role_id": org.pmm.pk,
            "a-allocation_pct": "40",
            "a-valid_from": "2026-03-01",
        },
    )
    assert response.status_code == 200
    assert "Allocation would be 140% on 2026-03-01" in response.content.decode()


@pytest.mark.covers_url("periods")
def test_the_periods_page_generates_a_fiscal_year(client_alice, client_charlie, tenant_a):
    empty = client_alice.get("/periods/").content.decode()
    assert "No periods yet" in empty
    assert client_alice.post("/periods/", {"fiscal_year": "2026"}).status_code == 302
    page = client_alice.get("/periods/").content.decode()
    assert "FY2026 Q3" in page and "FY2026 M12 (Dec 2026)" in page
    assert "the year starts in January" in page  # the month by name, not "month 1"
    # each period's last day, not its exclusive stored end (Q3 is 1 Jul - 30 Sep)
    assert "<th>Last day</th>" in page and "exclusive" not in page
    assert "<td>30 Sep 2026</td>" in page and "<td>31 Dec 2026</td>" in page
    assert "FY2026" not in client_charlie.get("/periods/").content.decode()
    with tenant_scope(tenant_a):
        assert periods.period_list().count() == 17


@pytest.mark.covers_url("hr_imports", "hr_import_detail")
def test_the_import_page_previews_then_shows_row_errors(client_alice, client_charlie, tenant_a):
    good = b"employee_id,full_name,hire_date\nE1,Ada,2024-01-01\n"
    response = client_alice.post(
        "/imports/",
        {"kind": "people", "dry_run": "on", "file": SimpleUploadedFile("people.csv", good)},
    )
    assert response.status_code == 302
    preview = client_alice.get(response["Location"]).content.decode()
    assert "Dry run: the row is valid. Nothing was written yet" in preview
    assert "Would create" in preview and "E1" in preview
    bad = b"employee_id,full_name,hire_date\nE1,Ada,2024-01-01\nE1,Ada,2024-01-01\n"
    response = client_alice.post(
        "/imports/", {"kind": "people", "file": SimpleUploadedFile("people.csv", bad)}
    )
    page = client_alice.get(response["Location"]).content.decode()
    assert "nothing was imported" in page
    assert "Employee id “E1” is also on line 2." in page
    with tenant_scope(tenant_a):
        assert not Person.objects.exists()
        batch = ImportBatch.objects.first()
    # Charlie
    assert_not_found(client_charlie.get(f"/imports/{batch.pk}/"))
    assert "people.csv" not in client_charlie.get("/imports/").content.decode()
