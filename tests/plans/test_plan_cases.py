"""Plan test cases: a version's worked cases (inputs -> expected payout), run by the engine;
publishing is refused while any fails, with every failing case and its difference in words.

The Sales AE template (plans/templates/sales_ae.yaml), by hand: new business in marginal
tiers of the quota (0-50 % at 5 %, 50-100 % at 8 %, above at 12 %), expansion at 4 %.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from core.errors import ConflictError, ValidationFailedError
from core.models import AuditEvent
from core.tenancy import tenant_scope
from plans import cases, services
from plans.models import PlanCase, PlanVersion, VersionStatus

D = date
MINUS = "\u2212"


def inputs(new_business: int, person: str = "alice") -> str:
    """One AE with a 100,000 new-business quota (and 20,000 expansion) booking ``new_business``."""
    return (
        "period: {id: 2026-01, start: 2026-01-01, end: 2026-02-01}\n"
        f"people:\n  - {{person: {person}, target_incentive: 8000}}\n"
        "quotas:\n"
        f"  - {{holder: {person}, quota: new_bookings, amount: 100000}}\n"
        f"  - {{holder: {person}, quota: expansion_bookings, amount: 20000}}\n"
        "credits:\n"
        f"  - {{id: c1, person: {person}, date: 2026-01-08, amount: {new_business}, "
        "type: new_business}\n"
    )


# 120,000: 50,000 x 5 % + 50,000 x 8 % + 20,000 x 12 % = 2,500 + 4,000 + 2,400 = 8,900.00
AT_120 = {"name": "AE at 120 %", "source": inputs(120_000), "total": "8900.00"}
# 150,000: 2,500 + 4,000 + 50,000 x 12 % = 12,500.00
AT_150 = {"name": "AE at 150 %", "source": inputs(150_000), "total": "12500.00"}
# 80,000: 2,500 + 30,000 x 8 % = 4,900.00 (below quota: the accelerator does not reach it)
AT_80 = {"name": "AE at 80 %", "source": inputs(80_000), "total": "4900.00"}


def _plan(user_id: int) -> Any:
    return services.plan_create(
        code="ae", name="AE", template="sales_ae", user_id=user_id, valid_from=D(2026, 1, 1)
    )


def _add(version: PlanVersion, case: dict[str, str], user_id: int, **extra: Any) -> PlanCase:
    return cases.plan_case_create(
        version_id=version.pk,
        name=case["name"],
        inputs_source=case["source"],
        expected_total=case["total"],
        user_id=user_id,
        **extra,
    )


def _accelerator(version: PlanVersion, rate: str, user_id: int) -> None:
    """Change the tier above quota (12 %) to ``rate``."""
    source = version.source.replace('rate: "0.12"', f'rate: "{rate}"')
    assert source != version.source
    services.plan_version_save(version_id=version.pk, source=source, user_id=user_id)


@pytest.mark.django_db
def test_a_case_passes_when_the_engine_pays_what_it_expects_per_component(tenant_a, alice):
    with tenant_scope(tenant_a):
        # given
        version = _plan(alice.pk).versions.get()
        case = _add(
            version,
            AT_120,
            alice.pk,
            expected_components={"new_business": "8900.00", "expansion": "0"},
        )
        # when
        [result] = cases.plan_cases_run(version=version)
        # then
        assert result.passed and result.person == "alice"
        assert result.actual_total == Decimal("8900.00")
        assert {(c.component, c.actual, c.passed) for c in result.components} == {
            ("new_business", Decimal("8900.00"), True),
            ("expansion", Decimal("0.00"), True),
        }
        assert case.inputs["people"][0]["person"] == "alice"
        assert AuditEvent.objects.filter(action="plan_case.create").count() == 1


@pytest.mark.django_db
def test_a_changed_tier_fails_the_case_with_the_difference_in_words(tenant_a, alice):
    with tenant_scope(tenant_a):
        # given a passing case, then the accelerator from 12 % to 10 %:
        # 20,000 x 10 % = 2,000 instead of 2,400 -> 8,500.00, 400.00 less
        version = _plan(alice.pk).versions.get()
        _add(version, AT_120, alice.pk, expected_components={"new_business": "8900"})
        _accelerator(version, "0.10", alice.pk)
        version.refresh_from_db()
        # when
        [result] = cases.plan_cases_run(version=version)
        # then
        assert not result.passed
        assert result.actual_total == Decimal("8500.00")
        assert result.differences == (
            f"Case 'AE at 120 %': expected 8,900.00 USD, got 8,500.00 USD ({MINUS}400.00) "
            "on New business commission",
            f"Case 'AE at 120 %': expected 8,900.00 USD, got 8,500.00 USD ({MINUS}400.00) in total",
        )


@pytest.mark.django_db
def test_publishing_is_refused_listing_every_failing_case(tenant_a, alice):
    with tenant_scope(tenant_a):
        # given three cases; the accelerator at 10 % fails the two above quota
        # (120 %: 8,500.00, -400.00; 150 %: 2,500 + 4,000 + 5,000 = 11,500.00, -1,000.00)
        version = _plan(alice.pk).versions.get()
        for case in (AT_120, AT_150, AT_80):
            _add(version, case, alice.pk)
        _accelerator(version, "0.10", alice.pk)
        events = AuditEvent.objects.count()
        # when
        with pytest.raises(ValidationFailedError) as refused:
            services.plan_version_publish(version_id=version.pk, user_id=alice.pk)
        # then every failing case is named with its difference, the passing one is not
        error = refused.value
        assert error.code == "plan_cases_failing"
        assert [c["name"] for c in error.details["cases"]] == ["AE at 120 %", "AE at 150 %"]
        assert error.details["failures"] == [
            f"Case 'AE at 120 %': expected 8,900.00 USD, got 8,500.00 USD ({MINUS}400.00) in total",
            f"Case 'AE at 150 %': expected 12,500.00 USD, got 11,500.00 USD ({MINUS}1,000.00) "
            "in total",
        ]
        assert error.message.startswith("2 test case(s) of version 1 fail")
        assert PlanVersion.objects.get().status == VersionStatus.DRAFT
        assert AuditEvent.objects.count() == events
        # and back at 12 % it publishes
        version.refresh_from_db()
        services.plan_version_save(
            version_id=version.pk,
            source=version.source.replace('rate: "0.10"', 'rate: "0.12"'),
            user_id=alice.pk,
        )
        published = services.plan_version_publish(version_id=version.pk, user_id=alice.pk)
        assert published.is_published


@pytest.mark.django_db
def test_a_draft_without_cases_publishes_and_its_health_warns(tenant_a, alice, client_alice):
    with tenant_scope(tenant_a):
        plan = _plan(alice.pk)
    page = client_alice.get(f"/plans/{plan.pk}/versions/1/")
    assert cases.NO_CASES.encode() in page.content.replace(b"&quot;", b'"')
    assert b"no test cases" in page.content
    with tenant_scope(tenant_a):
        version = services.plan_version_publish(version_id=plan.versions.get().pk, user_id=None)
        assert version.is_published


@pytest.mark.django_db
def test_a_new_draft_copies_the_cases_and_a_published_versions_cases_cannot_change(tenant_a, alice):
    with tenant_scope(tenant_a):
        # given a published version with two cases
        plan = _plan(alice.pk)
        v1 = plan.versions.get()
        first = _add(v1, AT_120, alice.pk, expected_components={"new_business": "8900.00"})
        _add(v1, AT_80, alice.pk)
        services.plan_version_publish(version_id=v1.pk, user_id=alice.pk)
        events = AuditEvent.objects.count()
        # when
        draft = services.plan_version_draft_create(plan_id=plan.pk, user_id=alice.pk)
        # then: one event for the draft, counting the cases it copied
        assert AuditEvent.objects.count() == events + 1
        event = AuditEvent.objects.order_by("-id").first()
        assert event.action == "plan_version.create" and event.after["cases_copied"] == 2
        copied = list(PlanCase.objects.filter(plan_version=draft).order_by("name"))
        assert [(c.name, c.expected_total, c.expected_components) for c in copied] == [
            ("AE at 120 %", Decimal("8900.0000"), {"new_business": "8900.00"}),
            ("AE at 80 %", Decimal("4900.0000"), {}),
        ]
        # the published version's cases stay as they were
        with pytest.raises(ConflictError):
            cases.plan_case_update(case_id=first.pk, user_id=alice.pk, expected_total="1")
        with pytest.raises(ConflictError):
            cases.plan_case_delete(case_id=first.pk, user_id=alice.pk)
        with pytest.raises(ConflictError):
            _add(v1, AT_150, alice.pk)
        # an edit of the published version (a new draft) copies them too
        assert all(c.passed for c in cases.plan_cases_run(version=draft))


@pytest.mark.django_db
def test_bad_inputs_are_refused_at_their_path_and_line(tenant_a, alice):
    with tenant_scope(tenant_a):
        version = _plan(alice.pk).versions.get()
        text = "period: {id: 2026-01, start: 2026-01-01}\npeople:\n  - {target_incentive: 1}\n"
        with pytest.raises(ValidationFailedError) as refused:
            cases.plan_case_create(
                version_id=version.pk,
                name="broken",
                inputs_source=text,
                expected_total="0",
                user_id=alice.pk,
            )
        problems = refused.value.details["problems"]
        assert [(p["path"], p["line"]) for p in problems] == [
            ("period.end", 1),
            ("people[0].person", 3),
        ]
        with pytest.raises(ValidationFailedError, match="must be a number"):
            _add(version, {**AT_120, "total": "lots"}, alice.pk)
        two = inputs(1).replace("people:\n", "people:\n  - {person: bob}\n")
        with pytest.raises(ValidationFailedError, match="Say whose payout"):
            _add(version, {**AT_120, "source": two}, alice.pk)
        assert not PlanCase.objects.exists()  # nothing half-written


@pytest.mark.django_db
def test_a_plan_from_the_manager_template_starts_with_its_worked_case_passing(tenant_a, alice):
    with tenant_scope(tenant_a):
        # given the Sales AE plan the override reads (code sales-ae) and the manager's plan
        services.plan_create(code="sales-ae", name="AE", template="sales_ae", user_id=alice.pk)
        plan = services.plan_create(
            code="mgr", name="Managers", template="manager_override", user_id=alice.pk
        )
        version = plan.versions.get()
        # when
        results = cases.plan_cases_run(version=version)
        # then the case the template carries (6,340.00: 1,540.00 override + 4,800.00 bonus)
        assert [(r.name, r.passed, r.actual_total) for r in results] == [
            ("Team of two at 110 %", True, Decimal("6340.00"))
        ]
        event = AuditEvent.objects.filter(action="plan.create", object_id=str(plan.pk)).get()
        assert event.after["cases"] == 1


# --- the API ------------------------------------------------------------------------------------


def post(client: Any, url: str, body: Any) -> Any:
    return client.post(url, data=json.dumps(body), content_type="application/json")


def patch(client: Any, url: str, body: Any) -> Any:
    return client.patch(url, data=json.dumps(body), content_type="application/json")


@pytest.mark.django_db
@pytest.mark.covers_url("api-plan-case-list", "api-plan-case-detail", "api-plan-case-run")
def test_the_cases_api_adds_runs_changes_and_deletes_in_its_tenant_only(
    client_alice, client_charlie, tenant_a, alice
):
    with tenant_scope(tenant_a):
        plan = _plan(alice.pk)
    base = f"/api/v1/plans/{plan.pk}/versions/1/cases/"
    # add (inputs as text, and as a JSON object)
    made = post(
        client_alice,
        base,
        {
            "name": "AE at 120 %",
            "inputs_source": AT_120["source"],
            "expected_total": "8900.00",
            "expected_components": {"new_business": "8900.00"},
        },
    )
    assert made.status_code == 201, made.json()
    case = made.json()
    as_json = post(
        client_alice,
        base,
        {
            "name": "AE at 80 %",
            "inputs": {
                "period": {"id": "2026-01", "start": "2026-01-01", "end": "2026-02-01"},
                "people": [{"person": "alice"}],
                "quotas": [
                    {"holder": "alice", "quota": "new_bookings", "amount": 100000},
                    {"holder": "alice", "quota": "expansion_bookings", "amount": 20000},
                ],
                "credits": [
                    {
                        "id": "c1",
                        "person": "alice",
                        "date": "2026-01-08",
                        "amount": 80000,
                        "type": "new_business",
                    }
                ],
            },
            "expected_total": "4900.00",
        },
    )
    assert as_json.status_code == 201, as_json.json()
    listed = client_alice.get(base).json()
    assert [c["name"] for c in listed["results"]] == ["AE at 120 %", "AE at 80 %"]
    assert client_alice.get(f"{base}{case['id']}/").json()["expected_total"] == "8900.0000"
    # run: both pass
    ran = post(client_alice, f"{base}run/", {}).json()
    assert (ran["passed"], ran["failed"]) == (2, 0)
    # a wrong expectation fails, and says by how much
    changed = patch(client_alice, f"{base}{case['id']}/", {"expected_total": "9000"})
    assert changed.status_code == 200, changed.json()
    ran = post(client_alice, f"{base}run/", {}).json()
    failing = [r for r in ran["results"] if not r["passed"]]
    assert [r["differences"] for r in failing] == [
        [f"Case 'AE at 120 %': expected 9,000.00 USD, got 8,900.00 USD ({MINUS}100.00) in total"]
    ]
    # publishing answers 400 in the error envelope with every failure
    refused = post(client_alice, f"/api/v1/plans/{plan.pk}/versions/1/publish/", {})
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == "plan_cases_failing"
    assert error["details"]["failures"] == failing[0]["differences"]
    # bad inputs: the problem at its path, nothing written
    bad = post(
        client_alice, base, {"name": "x", "inputs_source": "people: 3", "expected_total": "1"}
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["details"]["inputs"][0].startswith("period:")
    # delete
    assert client_alice.delete(f"{base}{case['id']}/").status_code == 204
    assert client_alice.get(f"{base}{case['id']}/").status_code == 404
    # another tenant: every URL is a 404
    other = as_json.json()["id"]
    assert client_charlie.get(base).status_code == 404
    assert client_charlie.get(f"{base}{other}/").status_code == 404
    assert post(client_charlie, base, {"name": "x"}).status_code == 404
    assert patch(client_charlie, f"{base}{other}/", {"name": "y"}).status_code == 404
    assert client_charlie.delete(f"{base}{other}/").status_code == 404
    assert post(client_charlie, f"{base}run/", {}).status_code == 404
    with tenant_scope(tenant_a):
        assert PlanCase.objects.get().name == "AE at 80 %"


# --- the pages ----------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.covers_url("plan_case_new", "plan_case_edit", "plan_case_delete")
def test_the_builder_saves_a_case_from_try_it_and_publish_shows_every_failure(
    client_alice, client_charlie, tenant_a, alice
):
    with tenant_scope(tenant_a):
        plan = _plan(alice.pk)
    url = f"/plans/{plan.pk}/versions/1/"
    # "Save as test case" prefills the engine's result as the expectation, nothing saved yet
    prefilled = client_alice.post(
        f"{url}cases/new/", {"prefill": "1", "inputs_source": AT_150["source"]}
    )
    assert prefilled.status_code == 200
    assert b'value="12500.00"' in prefilled.content
    assert b"new_business: &quot;12500.00&quot;" in prefilled.content
    with tenant_scope(tenant_a):
        assert not PlanCase.objects.exists()
    # bad inputs: the problem next to the field, at its line
    bad = client_alice.post(
        f"{url}cases/new/",
        {"name": "x", "inputs_source": "period: {id: p}\n", "expected_total": "1"},
    )
    assert bad.status_code == 200 and b"period.start" in bad.content and b"line 1" in bad.content
    # save it, and a second one
    for case in (AT_150, AT_120):
        saved = client_alice.post(
            f"{url}cases/new/",
            {
                "name": case["name"],
                "inputs_source": case["source"],
                "expected_total": case["total"],
            },
        )
        assert saved.status_code == 302, saved.content[:500]
    page = client_alice.get(url)
    assert b"all 2 pass" in page.content and b'id="test-cases"' in page.content
    # a tier change fails both; publish is refused with both differences
    with tenant_scope(tenant_a):
        version = PlanVersion.objects.get()
        _accelerator(version, "0.10", alice.pk)
        ids = dict(PlanCase.objects.values_list("name", "pk"))
    page = client_alice.get(url)
    assert b"2 of 2 failing" in page.content
    refused = client_alice.post(f"{url}publish/", {"valid_from": "2026-01-01"}, follow=True)
    text = refused.content.decode()
    assert "Not published: 2 test case(s) fail" in text
    assert f"got 8,500.00 USD ({MINUS}400.00) in total" in text
    assert f"got 11,500.00 USD ({MINUS}1,000.00) in total" in text
    # edit one to the new figure, delete the other: publishing goes through
    edit = f"{url}cases/{ids['AE at 120 %']}/"
    assert b"fail" in client_alice.get(edit).content
    saved = client_alice.post(
        edit, {"name": "AE at 120 %", "inputs_source": AT_120["source"], "expected_total": "8500"}
    )
    assert saved.status_code == 302
    assert client_alice.post(f"{url}cases/{ids['AE at 150 %']}/delete/").status_code == 302
    published = client_alice.post(f"{url}publish/", {"valid_from": "2026-01-01"})
    assert published.status_code == 302 and published["Location"] == f"/plans/{plan.pk}/"
    # another tenant: 404 on each page
    assert client_charlie.get(f"{url}cases/new/").status_code == 404
    assert client_charlie.get(edit).status_code == 404
    assert client_charlie.post(f"{edit}delete/").status_code == 404
