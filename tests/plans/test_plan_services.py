"""Plans and versions: drafts, publishing, immutability (services and database), the diff."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import DatabaseError, transaction

from core.errors import ConflictError, ValidationFailedError
from core.models import AuditEvent
from core.tenancy import tenant_scope
from plans import catalog, selectors, services
from plans.models import PlanVersion, VersionStatus

D = date


def test_a_plan_from_a_template_starts_as_a_draft_with_the_template_text(tenant_a, alice):
    with tenant_scope(tenant_a):
        # when
        plan = services.plan_create(
            code="ae-2026", name="AE 2026", template="sales_ae", user_id=alice.pk
        )
        # then
        version = plan.versions.get()
        assert version.status == VersionStatus.DRAFT and version.number == 1
        assert version.spec["id"] == "ae-2026" and version.spec["name"] == "AE 2026"
        assert "# the accelerator" in version.source  # the template's comments are kept
        assert version.created_by_id == alice.pk
        assert plan.function == "sales" and plan.template == "sales_ae"
        actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
        assert actions == ["plan.create"]  # one event for the plan and its first draft


def test_an_invalid_spec_is_refused_with_each_problem_at_its_path_and_line(tenant_a, alice):
    with tenant_scope(tenant_a):
        source = catalog.template_source("sales_ae", plan_id="x").replace(
            'rate: "0.08"', "rate: -1"
        )
        with pytest.raises(ValidationFailedError) as caught:
            services.plan_create(code="x", name="X", source=source, user_id=alice.pk)
        problems = caught.value.details["problems"]
        assert problems[0]["path"] == "components[0].rate_table.tiers[1].rate"
        assert problems[0]["message"] == "must be >= 0"
        assert source.splitlines()[problems[0]["line"] - 1].strip().startswith('- {from: "0.5"')
        # nothing half-written
        assert not PlanVersion.objects.exists()
        assert not AuditEvent.objects.exists()


def test_publishing_freezes_the_version_and_an_edit_makes_a_new_draft(plan_a, alice):
    with tenant_scope(plan_a.tenant):
        v1 = plan_a.versions.get()
        assert v1.status == VersionStatus.PUBLISHED and v1.published_by_id == alice.pk
        edited = v1.source.replace('rate: "0.08"', 'rate: "0.09"')
        # when
        saved = services.plan_version_save(version_id=v1.pk, source=edited, user_id=alice.pk)
        # then
        assert saved.new_draft and saved.version.number == 2
        assert saved.version.based_on_id == v1.pk
        assert saved.message == services.PUBLISHED_IMMUTABLE.format(number=1, draft=2)
        v1.refresh_from_db()
        assert 'rate: "0.08"' in v1.source  # the published text did not change
        # a second edit of v1 while v2 is a draft is refused, naming the draft
        with pytest.raises(ConflictError) as caught:
            services.plan_version_save(version_id=v1.pk, source=edited, user_id=alice.pk)
        assert caught.value.code == "draft_exists"
        assert "version 2" in caught.value.message
        # the draft itself changes in place
        again = services.plan_version_save(
            version_id=saved.version.pk, source=edited.replace("0.09", "0.10"), user_id=alice.pk
        )
        assert not again.new_draft and again.version.pk == saved.version.pk


def test_the_database_refuses_to_change_or_delete_a_published_version(plan_a):
    with tenant_scope(plan_a.tenant):
        v1 = plan_a.versions.get()
        spec = dict(v1.spec, currency="EUR")
        with pytest.raises(DatabaseError), transaction.atomic():
            PlanVersion.objects.filter(pk=v1.pk).update(spec=spec)
        with pytest.raises(DatabaseError), transaction.atomic():
            PlanVersion.objects.filter(pk=v1.pk).update(valid_from=D(2025, 1, 1))
        with pytest.raises(DatabaseError), transaction.atomic():
            PlanVersion.objects.filter(pk=v1.pk).delete()
        # ending it is the one change allowed (a successor's start)
        PlanVersion.objects.filter(pk=v1.pk).update(valid_to=D(2026, 7, 1))
        v1.refresh_from_db()
        assert v1.valid_to == D(2026, 7, 1) and v1.spec["currency"] == "USD"


def test_a_draft_can_still_be_changed_and_deleted_in_the_database(tenant_a, alice):
    with tenant_scope(tenant_a):
        plan = services.plan_create(code="x", name="X", template="sdr", user_id=alice.pk)
        draft = plan.versions.get()
        PlanVersion.objects.filter(pk=draft.pk).update(note="changed")  # positive control
        draft.refresh_from_db()
        assert draft.note == "changed"
        PlanVersion.objects.filter(pk=draft.pk).delete()
        assert not plan.versions.exists()


def test_a_successor_ends_the_version_before_it_the_day_it_starts(plan_a, alice):
    with tenant_scope(plan_a.tenant):
        v1 = plan_a.versions.get()
        v2 = services.plan_version_draft_create(plan_id=plan_a.pk, user_id=alice.pk)
        # a start on or before v1's is refused, naming both
        with pytest.raises(ConflictError) as caught:
            services.plan_version_publish(
                version_id=v2.pk, user_id=alice.pk, valid_from=D(2026, 1, 1)
            )
        assert "version 1 starts on 2026-01-01" in caught.value.message
        services.plan_version_publish(version_id=v2.pk, user_id=alice.pk, valid_from=D(2026, 7, 1))
        v1.refresh_from_db()
        assert v1.valid_to == D(2026, 7, 1)
        assert selectors.plan_version_in_force(plan_id=plan_a.pk, day=D(2026, 6, 30)) == v1
        assert selectors.plan_version_in_force(plan_id=plan_a.pk, day=D(2026, 7, 1)).number == 2
        with pytest.raises(ConflictError):
            services.plan_version_publish(version_id=v2.pk, user_id=alice.pk)


def test_the_diff_between_versions_reads_in_words(plan_a, alice):
    with tenant_scope(plan_a.tenant):
        v1 = plan_a.versions.get()
        source = v1.source.replace('rate: "0.08"', 'rate: "0.09"').replace(
            'multiplier: "1.5"', 'multiplier: "2"'
        )
        services.plan_version_save(version_id=v1.pk, source=source, user_id=alice.pk)
        # when
        changes = selectors.plan_version_diff(plan_id=plan_a.pk, old=1, new=2)
        # then
        assert changes == [
            "Component 'New business commission': tier 2 rate changed from 8 % to 9 %.",
            "Component 'Expansion commission': accelerator multiplier changed from 1.5 to 2.",
        ]


def test_archiving_keeps_the_plan_but_refuses_new_versions(plan_a, alice):
    with tenant_scope(plan_a.tenant):
        services.plan_archive(plan_id=plan_a.pk, user_id=alice.pk)
        assert plan_a not in selectors.plan_list()
        assert plan_a in selectors.plan_list(archived=True)
        with pytest.raises(ConflictError) as caught:
            services.plan_version_draft_create(plan_id=plan_a.pk, user_id=alice.pk)
        assert caught.value.code == "plan_archived"
        services.plan_archive(plan_id=plan_a.pk, user_id=alice.pk, archived=False)
        assert plan_a in selectors.plan_list()
        assert AuditEvent.objects.filter(action="plan.archive", object_id=str(plan_a.pk)).exists()


def test_a_duplicate_code_is_refused(plan_a, alice):
    with tenant_scope(plan_a.tenant), pytest.raises(ConflictError) as caught:
        services.plan_create(code="sales-ae", name="Again", template="sdr", user_id=alice.pk)
    assert caught.value.code == "duplicate_code"


def test_the_same_number_written_two_ways_is_no_change() -> None:
    from plans.diff import spec_diff

    old = {"components": [{"id": "new_business", "name": "New business", "rate": 0}]}
    new = {"components": [{"id": "new_business", "name": "New business", "rate": "0.00"}]}
    assert spec_diff(old, new) == []
    new["components"][0]["rate"] = "0.05"
    assert spec_diff(old, new) == ["Component 'New business': rate changed from 0 % to 5 %."]
