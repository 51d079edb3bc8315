"""Plan documents and acknowledgements: "My plan" for an employee, the document in words with
engine-computed examples, "I acknowledge", the admin's who-has-and-hasn't, the API; access
through hierarchy/access.py (her own, a manager her team's), another tenant's a 404."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from core.models import AuditEvent, Role
from core.tenancy import tenant_scope
from hierarchy.models import Person
from hierarchy.periods import tenant_today
from plans import documents, selectors, services
from plans.models import PlanAcknowledgement
from tests.factories.hierarchy import MembershipFactory, UserFactory
from tests.pdftext import pdf_text, pdf_title
from tests.plans.conftest import comp_admin_access
from tests.tenancy import assert_not_found

D = date


@pytest.fixture
def on_plan(plan_a, org, alice, bob):
    """Sales AE v1 on the AE role (Erin and Wes); Bob is Erin; Erin's quotas set; Sam (the
    sales manager) signs in as Maria."""
    with tenant_scope(org.tenant):
        access = comp_admin_access(alice.pk)
        version = plan_a.versions.get()
        services.plan_assignment_create(
            access=access,
            plan_version_id=version.pk,
            holder=services.Holder(role_id=org.ae.pk),
            target_incentive="6000",
            valid_from=D(2026, 1, 1),
            user_id=alice.pk,
        )
        Person.objects.filter(pk=org.erin.pk).update(user=bob)
        maria = UserFactory(email="maria@acme.test")
        MembershipFactory(user=maria, tenant=org.tenant, roles=[Role.MANAGER])
        Person.objects.filter(pk=org.sam.pk).update(user=maria)
        for qid, amount in (("new_bookings", "100000"), ("expansion_bookings", "20000")):
            services.quota_create(
                access=access,
                holder=services.QuotaHolder(person_id=org.erin.pk),
                quota_id=qid,
                amount=amount,
                currency="USD",
                valid_from=D(2026, 1, 1),
                valid_to=D(2028, 1, 1),
                user_id=None,
            )
        return version, maria


def test_the_document_says_the_plan_in_words_with_the_engines_examples(plan_a):
    with tenant_scope(plan_a.tenant):
        spec = plan_a.versions.get().spec
    doc = documents.plan_document(
        spec=spec,
        plan_name="Sales AE",
        version_number=1,
        spec_hash="x",
        valid_from=D(2026, 1, 1),
        valid_to=None,
        assignment_from=D(2026, 1, 1),
        assignment_to=None,
        holder_label="person Erin",
        target_incentive=Decimal("6000"),
        currency="USD",
        quotas={"new_bookings": (Decimal(100000), "USD", D(2026, 1, 1), D(2027, 1, 1))},
    )
    new = doc.components[0]
    assert new.sentences[0] == (
        "Pays on new_bookings in tiers by attainment of quota, each slice at its own tier's "
        "rate: 0 % to 50 % at 5 %; 50 % to 100 % at 8 %; from 100 % at 12 %."
    )
    # 50 %: 50,000 x 5 %; 100 %: + 50,000 x 8 %; 150 %: + 50,000 x 12 %
    assert [(e.attainment, e.payout) for e in new.examples] == [
        (Decimal("0.5"), Decimal("2500")),
        (Decimal("1"), Decimal("6500")),
        (Decimal("1.5"), Decimal("12500")),
    ]
    expansion = doc.components[1]
    assert "Above 100 % of quota the rate is multiplied by 1.5 (accelerator)." in (
        expansion.sentences
    )
    assert "Target incentive: 6,000.00 USD, paid every month" in doc.text
    total = doc.totals[0].payout
    assert total == new.examples[0].payout + expansion.examples[0].payout


def test_an_employee_opens_my_plan_reads_it_and_acknowledges(client, bob, on_plan, org, alice):
    version, _maria = on_plan
    client.force_login(bob)
    # /plans/ is no longer a 404 for her: it leads to "My plan"
    assert client.get("/plans/")["Location"] == "/plans/mine/"
    mine = client.get("/plans/mine/")
    assert mine.status_code == 200 and b"Sales AE" in mine.content and b"not yet" in mine.content
    url = f"/plans/documents/{org.erin.pk}/{version.pk}/"
    page = client.get(url)
    assert page.status_code == 200
    body = page.content.decode()
    assert "6,000.00 USD" in body and "I acknowledge" in body and "100,000.00 USD" in body
    assert "6,500.00 USD" in body  # the engine's example at 100 %
    printed = client.get(f"{url}print/")
    assert printed.status_code == 200 and "Print or save as PDF" in printed.content.decode()
    done = client.post(f"{url}acknowledge/", REMOTE_ADDR="203.0.113.7")
    assert done.status_code == 302
    again = client.post(f"{url}acknowledge/")  # a second click keeps the first
    assert again.status_code == 302
    with tenant_scope(org.tenant):
        ack = PlanAcknowledgement.objects.get()
        assert (ack.person_id, ack.plan_version_id, ack.user_id, ack.ip_address) == (
            org.erin.pk,
            version.pk,
            bob.pk,
            "203.0.113.7",
        )
        assert ack.spec_hash == version.spec_hash
        assert AuditEvent.objects.filter(action="plan.acknowledge").count() == 1
    assert b"Acknowledged" in client.get(url).content
    # her colleague's document is not hers to read
    assert client.get(f"/plans/documents/{org.wes.pk}/{version.pk}/").status_code == 404
    assert client.get(f"/plans/{version.plan_id}/acknowledgements/").status_code == 404


@pytest.mark.covers_url(
    "my_plans",
    "plan_document",
    "plan_document_print",
    "plan_document_pdf",
    "plan_document_acknowledge",
    "plan_acknowledgements",
)
def test_the_admin_sees_who_has_acknowledged_and_another_tenant_sees_nothing(
    client, bob, client_charlie, on_plan, org, alice
):
    version, maria = on_plan
    client.force_login(bob)
    url = f"/plans/documents/{org.erin.pk}/{version.pk}/"
    client.post(f"{url}acknowledge/")
    # the manager reads her team's documents but cannot acknowledge for them
    client.force_login(maria)
    team = client.get("/plans/mine/")
    assert b"Erin East" in team.content and b"Wes West" in team.content
    assert client.get(url).status_code == 200
    assert (
        b"I acknowledge" not in client.get(f"/plans/documents/{org.wes.pk}/{version.pk}/").content
    )
    client.post(f"/plans/documents/{org.wes.pk}/{version.pk}/acknowledge/")
    with tenant_scope(org.tenant):
        assert PlanAcknowledgement.objects.count() == 1
    # the comp admin: one acknowledged (Erin), one not yet (Wes)
    client.force_login(alice)
    acks = client.get(f"/plans/{version.plan_id}/acknowledgements/")
    body = acks.content.decode()
    assert 'id="ack-done">1<' in body and 'id="ack-pending">1<' in body
    assert "Erin East" in body and "Wes West" in body
    # Globex: Acme's people, documents and plan are not found
    for path in (
        url,
        f"{url}print/",
        f"{url}pdf/",
        f"/plans/{version.plan_id}/acknowledgements/",
    ):
        assert client_charlie.get(path).status_code == 404, path
    assert client_charlie.post(f"{url}acknowledge/").status_code == 404
    assert b"Sales AE" not in client_charlie.get("/plans/mine/").content


def test_a_new_version_asks_again(client, bob, on_plan, org, alice, plan_a):
    version, _maria = on_plan
    client.force_login(bob)
    client.post(f"/plans/documents/{org.erin.pk}/{version.pk}/acknowledge/")
    with tenant_scope(org.tenant):
        saved = services.plan_version_save(
            version_id=version.pk,
            source=version.source.replace('rate: "0.04"', 'rate: "0.05"'),
            user_id=alice.pk,
        )
        v2 = services.plan_version_publish(
            version_id=saved.version.pk, user_id=alice.pk, valid_from=D(2027, 1, 1)
        )
    mine = client.get("/plans/mine/").content.decode()
    assert f"/plans/documents/{org.erin.pk}/{v2.pk}/" in mine
    assert mine.count("not yet") == 1  # v1 acknowledged, v2 asks again


def _post(client: Any, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, data=json.dumps(body), content_type="application/json")


@pytest.mark.covers_url("api-plan-acknowledgement-list", "api-plan-acknowledgement-detail")
def test_acknowledgements_over_the_api(client, bob, client_alice, client_charlie, on_plan, org):
    version, _maria = on_plan
    employee = Client()
    employee.force_login(bob)
    first = _post(employee, "/api/v1/plan-acknowledgements/", {"plan_version": version.pk})
    assert first.status_code == 201, first.json()
    again = _post(employee, "/api/v1/plan-acknowledgements/", {"plan_version": version.pk})
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    ack_id = first.json()["id"]
    assert employee.get("/api/v1/plan-acknowledgements/").json()["count"] == 1
    assert (
        client_alice.get(f"/api/v1/plan-acknowledgements/?plan={version.plan_id}").json()["count"]
        == 1
    )
    assert client_alice.get(f"/api/v1/plan-acknowledgements/{ack_id}/").status_code == 200
    # the admin cannot acknowledge for Erin; Erin cannot for Wes (not hers to see: 404)
    on_behalf = _post(
        client_alice,
        "/api/v1/plan-acknowledgements/",
        {"plan_version": version.pk, "person_id": org.erin.pk},
    )
    assert on_behalf.status_code == 403
    other = _post(
        employee,
        "/api/v1/plan-acknowledgements/",
        {"plan_version": version.pk, "person_id": org.wes.pk},
    )
    assert other.status_code == 404
    # Globex
    assert client_charlie.get("/api/v1/plan-acknowledgements/").json()["count"] == 0
    assert client_charlie.get(f"/api/v1/plan-acknowledgements/{ack_id}/").status_code == 404
    assert (
        _post(
            client_charlie,
            "/api/v1/plan-acknowledgements/",
            {"plan_version": version.pk, "person_id": org.erin.pk},
        ).status_code
        == 404
    )


def _engine_document(org: Any, version: Any) -> documents.PlanDocument:
    """Erin's document as plans.documents computes it (the engine's examples)."""
    with tenant_scope(org.tenant):
        _person, _assignment, doc = selectors.plan_document_get(
            access=comp_admin_access(),
            person_id=org.erin.pk,
            version_id=version.pk,
            day=tenant_today(org.tenant),
        )
        return doc


def test_the_pdf_says_the_target_incentive_and_the_engines_three_worked_examples(
    client, bob, client_alice, on_plan, org
):
    # given Erin's document as the engine computes it
    version, maria = on_plan
    doc = _engine_document(org, version)
    assert len(doc.totals) == 3
    url = f"/plans/documents/{org.erin.pk}/{version.pk}/pdf/"
    # when Erin, her manager and the comp admin download it
    client.force_login(bob)
    mine = client.get(url)
    manager = Client()
    manager.force_login(maria)
    downloads = [mine, manager.get(url), client_alice.get(url)]
    # then each is the same PDF of her plan, with the engine's numbers
    for got in downloads:
        assert got.status_code == 200 and got["Content-Type"] == "application/pdf"
    assert "plan-sales-ae-v1-E3.pdf" in mine["Content-Disposition"]
    text = pdf_text(mine.content)
    assert pdf_title(mine.content) == "Sales AE, version 1"
    assert f"Target incentive {doc.target_incentive:,.2f} USD" in text
    for example in doc.totals:
        assert f"{example.attainment:.0%}".replace("%", " %") + f" {example.payout:,.2f} USD" in (
            text
        ), example
    assert "For Erin East (E3)" in text and org.tenant.name in text and "Page 1 of" in text
    for c in doc.components:
        assert c.name in text
    # the links to it: "My plan" and the document page
    assert url.encode() in client.get("/plans/mine/").content
    assert url.encode() in client_alice.get(url.removesuffix("pdf/")).content
    # Wes's is not Erin's to download
    assert client.get(f"/plans/documents/{org.wes.pk}/{version.pk}/pdf/").status_code == 404


@pytest.mark.covers_url("api-plan-document-pdf")
def test_the_api_hands_out_the_same_pdf_to_whoever_may_read_the_document(
    client, bob, client_alice, client_charlie, on_plan, org
):
    # given
    version, _maria = on_plan
    doc = _engine_document(org, version)
    url = f"/api/v1/plan-documents/{org.erin.pk}/{version.pk}/pdf/"
    # when the comp admin downloads Erin's
    got = client_alice.get(url)
    # then it says her target incentive and the engine's worked examples
    assert got.status_code == 200 and got["Content-Type"] == "application/pdf"
    text = pdf_text(got.content)
    assert f"Target incentive {doc.target_incentive:,.2f} USD" in text
    assert all(f"{e.payout:,.2f} USD" in text for e in doc.totals)
    # Erin reads her own, not Wes's; Globex reads neither
    client.force_login(bob)
    assert client.get(url).status_code == 200
    assert_not_found(client.get(f"/api/v1/plan-documents/{org.wes.pk}/{version.pk}/pdf/"))
    assert_not_found(client_charlie.get(url))
    assert_not_found(client_alice.get(f"/api/v1/plan-documents/{org.erin.pk}/999999/pdf/"))
