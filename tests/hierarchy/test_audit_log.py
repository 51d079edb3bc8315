"""The audit log: searchable (who, object, action, days), readable field changes, pay fields
shown as hidden through the access policy, pages, object links and a CSV of the filtered set,
on the page and the API alike; another tenant's events never show."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from core import services as core_services
from core.audit import Actor, acting_as, audit_record
from core.models import AuditEvent
from core.tenancy import tenant_scope
from hierarchy import audit_log, people
from hierarchy.models import Person

pytestmark = pytest.mark.django_db


# --- readable changes (no database) -----------------------------------------------------------


def test_a_money_change_reads_with_its_currency_and_decimals():
    event = AuditEvent(
        action="plan_assignment.update",
        object_type="plans.planassignment",
        before={"target_incentive": "10000.0000", "currency": "USD", "valid_to": None},
        after={"target_incentive": "12000.0000", "currency": "USD", "valid_to": "2027-07-01"},
    )
    sentences = [c.sentence() for c in audit_log.readable_changes(event)]
    assert sentences == [
        "Target incentive: 10,000.00 USD → 12,000.00 USD",
        "Valid to: — → 2027-07-01",
    ]


def test_a_creation_lists_what_was_set_and_yen_has_no_decimals():
    event = AuditEvent(
        action="adjustment.request",
        object_type="payouts.adjustment",
        after={
            "id": 4,
            "tenant_id": 1,
            "amount": "150000.0000",
            "currency": "JPY",
            "recoverable": True,
            "person_id": 7,
            "created_at": "2027-01-04T09:12:44.120000+00:00",
            "decided_at": "2027-01-05T10:00:00+00:00",
        },
    )
    rows = {c.label: c.after for c in audit_log.readable_changes(event)}
    assert rows == {
        "Amount": "150,000 JPY",
        "Currency": "JPY",
        "Decided at": "2027-01-05 10:00 UTC",
        "Person": "#7",
        "Recoverable": "Yes",
    }
    assert all(c.before is None for c in audit_log.readable_changes(event))


def test_a_creation_skips_what_was_left_empty_and_totals_read_as_money():
    event = AuditEvent(
        after={"note": None, "totals": {"USD": "4161393.8700", "JPY": "1200"}, "request_hash": "ab"}
    )
    assert [c.sentence() for c in audit_log.readable_changes(event)] == [
        "Totals: 1,200 JPY, 4,161,393.87 USD"
    ]


def test_redacted_fields_read_as_hidden():
    event = AuditEvent(before={"full_name": "Wes"}, after={"full_name": "Wes West"})
    event.redacted_fields = ["base_salary"]
    changes = audit_log.readable_changes(event)
    assert [c.sentence() for c in changes] == ["Full name: Wes → Wes West", "Base salary: hidden"]
    assert changes[-1].hidden


# --- the cast ---------------------------------------------------------------------------------


@pytest.fixture
def history(org: Any, tenant_a: Any, tenant_b: Any, alice: Any) -> Any:
    """Alice raised Wes's salary and renamed Erin; a payroll client touched a node last year;
    tenant B has an event of its own."""
    with tenant_scope(tenant_a):
        Person.objects.filter(pk=org.wes.pk).update(base_salary=Decimal("87654"))
        with acting_as(Actor(user_id=alice.pk, label="alice@acme.test")):
            people.person_update(person_id=org.wes.pk, base_salary=Decimal("88000"))
            people.person_update(person_id=org.erin.pk, full_name="=HYPERLINK(evil)")
        AuditEvent.objects.create(  # last year (the table refuses updates: written so)
            created_at=timezone.now() - dt.timedelta(days=400),
            actor_label="api:payroll",
            action="node.update",
            object_type="hierarchy.node",
            object_id=str(org.east.pk),
            before={"name": "E"},
            after={"name": "Sales East"},
        )
    with tenant_scope(tenant_b):
        audit_record(action="person.update", object_type="hierarchy.person", object_id="1")
    return org


def _rows(response: Any) -> list[list[str]]:
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode())))


# --- the page ---------------------------------------------------------------------------------


@pytest.mark.covers_url("audit_log")
def test_the_page_searches_by_actor_object_action_and_days(client_alice, client_charlie, history):
    wes = history.wes.pk
    mine = client_alice.get(
        f"/admin/audit/?object_type=hierarchy.person&object_id={wes}&actor=Alice"
    )
    text = mine.content.decode()
    assert mine.status_code == 200
    assert "87,654.00 USD</del> → <strong>88,000.00 USD" in text  # the change, in words
    assert f'href="/people/{wes}/"' in text  # the object's page
    assert "1 event matches" in text
    by_actor = client_alice.get("/admin/audit/?actor=API:PAY").content.decode()
    assert "node.update" in by_actor and "person.update" not in by_actor
    by_action = client_alice.get("/admin/audit/?action=node").content.decode()
    assert "node.update" in by_action and "person.update" not in by_action
    today = timezone.now().date().isoformat()
    recent = client_alice.get(f"/admin/audit/?since={today}&until={today}").content.decode()
    assert "person.update" in recent and "node.update" not in recent
    bad = client_alice.get("/admin/audit/?since=2027-02-30&until=2020-01-01")
    assert bad.status_code == 200 and "Enter a valid date" in bad.content.decode()
    # another tenant's admin sees none of it
    theirs = client_charlie.get(f"/admin/audit/?object_type=hierarchy.person&object_id={wes}")
    assert theirs.status_code == 200 and "88,000" not in theirs.content.decode()


def test_the_page_downloads_the_filtered_set_as_csv_with_formulas_neutralised(
    client_alice, history
):
    rows = _rows(client_alice.get("/admin/audit/?action=person.update&format=csv"))
    assert rows[0] == list(audit_log.CSV_HEADER)
    assert len(rows) == 3  # the header and the two person updates, nothing else
    assert {r[2] for r in rows[1:]} == {"person.update"}
    renamed = next(r for r in rows[1:] if "Full name" in r[6])
    assert renamed[6] == "Full name: Erin East → =HYPERLINK(evil)"  # (not a formula: mid-cell)
    assert renamed[5].startswith("'=")  # the object's name, neutralised too
    raised = next(r for r in rows[1:] if "Base salary" in r[6])
    assert "Base salary: 87,654.00 USD → 88,000.00 USD" in raised[6]


def test_the_page_is_paginated(client_alice, org, tenant_a):
    with tenant_scope(tenant_a):
        for i in range(55):
            audit_record(action=f"test.step{i:02d}", object_type="test.thing", object_id=str(i))
    first = client_alice.get("/admin/audit/?object_type=test.thing").content.decode()
    assert "Page 1 of 2" in first and "test.step54" in first and "test.step00" not in first
    assert "object_type=test.thing&amp;page=2" in first  # the filter survives the pages
    second = client_alice.get("/admin/audit/?object_type=test.thing&page=2").content.decode()
    assert "test.step00" in second


# --- the API ----------------------------------------------------------------------------------


def test_the_api_has_the_same_filters_and_readable_changes(client_alice, client_charlie, history):
    wes = history.wes.pk
    body = client_alice.get(
        f"/api/v1/audit-events/?object_type=hierarchy.person&object_id={wes}&actor=alice"
    ).json()
    assert body["count"] == 1
    change = next(c for c in body["results"][0]["changes"] if c["field"] == "base_salary")
    assert (change["before"], change["after"], change["hidden"]) == (
        "87,654.00 USD",
        "88,000.00 USD",
        False,
    )
    today = timezone.now().date().isoformat()
    recent = client_alice.get(f"/api/v1/audit-events/?since={today}&action=node.update").json()
    assert recent["count"] == 0  # the node's event is from last year
    assert client_alice.get("/api/v1/audit-events/?action=node.update").json()["count"] == 1
    old = client_alice.get("/api/v1/audit-events/?until=2000-01-01").json()
    assert old["count"] == 0
    assert client_charlie.get(f"/api/v1/audit-events/?object_id={wes}").json()["count"] == 0


def test_the_api_answers_csv_of_every_matching_event(client_alice, history):
    rows = _rows(client_alice.get("/api/v1/audit-events/?action=person.update&format=csv&limit=1"))
    assert len(rows) == 3  # the whole filtered set, not a page
    assert client_alice.get("/api/v1/audit-events/?format=xml").status_code == 400
    bad = client_alice.get("/api/v1/audit-events/?since=2027-02-30")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_parameter"
    unknown = client_alice.get("/api/v1/audit-events/?who=alice")
    assert unknown.json()["error"]["code"] == "unknown_parameter"


def test_an_audit_only_token_gets_salaries_hidden_in_json_and_csv(client, history, tenant_a):
    with tenant_scope(tenant_a):
        issued = core_services.api_client_create(
            name="siem", scopes=["read:audit"], created_by_id=None
        )
    auth = {"HTTP_AUTHORIZATION": f"Bearer {issued.token}"}
    listed = client.get("/api/v1/audit-events/?action=person.update", **auth).json()
    raised = next(e for e in listed["results"] if e["object_id"] == str(history.wes.pk))
    hidden = [c for c in raised["changes"] if c["hidden"]]
    assert {c["field"] for c in hidden} == {"attributes", "base_salary", "user_id"}
    assert {c["after"] for c in hidden} == {"hidden"}
    rows = _rows(client.get("/api/v1/audit-events/?action=person.update&format=csv", **auth))
    text = "\n".join(",".join(r) for r in rows)
    assert "88,000" not in text and "87,654" not in text
    assert any("base_salary" in r[7] for r in rows[1:])
