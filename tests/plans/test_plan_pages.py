"""The plan builder's pages: list, create from a template, edit, preview, publish, diff, assign.

Each page has a cross-tenant case: Charlie (Globex) asking for Acme's plan gets the 404 page.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from core.tenancy import tenant_scope
from plans.models import Plan, PlanAssignment, PlanVersion, VersionStatus
from tests import drawn

SAMPLE = (
    "period: {id: m, start: 2026-01-01, end: 2026-02-01}\n"
    "people: [{person: a}]\n"
    "quotas: [{holder: a, quota: new_bookings, amount: 100000},\n"
    "         {holder: a, quota: expansion_bookings, amount: 20000}]\n"
    "credits: [{id: c1, person: a, date: 2026-01-05, amount: 130000, type: new_business}]\n"
)
"""Try-it inputs: 130,000 new business against a 100,000 quota."""


def _plan(tenant: Any) -> Plan:
    with tenant_scope(tenant):
        return Plan.objects.get()


@pytest.mark.covers_url("plans", "plan_create")
def test_a_comp_admin_lists_plans_and_creates_one_from_a_template(
    client_alice, client_charlie, tenant_a
):
    page = client_alice.get("/plans/")
    assert page.status_code == 200
    assert b"Start from a template" in page.content and b"Sales Account Executive" in page.content
    assert b'href="/plans/"' in page.content  # the navigation links the plans page
    created = client_alice.post(
        "/plans/new/",
        {
            "template": "sales_ae",
            "name": "Sales AE 2026",
            "code": "sales-ae-2026",
            "valid_from": "2026-01-01",
        },
    )
    plan = _plan(tenant_a)
    assert created.status_code == 302
    assert created["Location"] == f"/plans/{plan.pk}/versions/1/"
    assert b"Sales AE 2026" in client_alice.get("/plans/").content
    # another tenant: an empty list, and creating there makes a plan of its own tenant only
    assert b"Sales AE 2026" not in client_charlie.get("/plans/").content
    duplicate = client_alice.post(
        "/plans/new/",
        {"template": "sdr", "name": "Again", "code": "sales-ae-2026", "valid_from": "2026-01-01"},
    )
    assert b"exists" in duplicate.content
    assert client_charlie.get("/plans/new/").status_code == 200


def test_an_employee_does_not_see_the_plans_pages(client, bob):
    client.force_login(bob)
    # the tenant's plans are not hers: /plans/ leads to "My plan" (test_plan_documents.py)
    assert client.get("/plans/")["Location"] == "/plans/mine/"
    assert client.get("/plans/new/").status_code == 404
    home = client.get("/").content
    assert b'href="/plans/"' not in home and b'href="/plans/mine/"' in home


@pytest.mark.covers_url("plan_version", "plan_version_publish", "plan_detail", "plan_version_diff")
def test_edit_publish_edit_again_and_read_the_diff(client_alice, client_charlie, tenant_a):
    client_alice.post(
        "/plans/new/",
        {"template": "sales_ae", "name": "Sales AE", "code": "ae", "valid_from": "2026-01-01"},
    )
    plan = _plan(tenant_a)
    url = f"/plans/{plan.pk}/versions/1/"
    page = client_alice.get(url)
    assert page.status_code == 200
    assert b"# the accelerator" in page.content and b"plotly.min.js" in page.content
    with tenant_scope(tenant_a):
        source = PlanVersion.objects.get().source
    # an invalid edit is refused with the problem at its line; nothing saved
    bad = client_alice.post(
        url, {"source": source.replace('rate: "0.08"', "rate: -1"), "valid_from": "2026-01-01"}
    )
    assert bad.status_code == 200
    line = next(n for n, text in enumerate(source.splitlines(), 1) if 'rate: "0.08"' in text)
    assert f"line {line}".encode() in bad.content
    assert b"components[0].rate_table.tiers[1].rate" in bad.content
    # publish, then an edit becomes version 2
    published = client_alice.post(f"{url}publish/", {"valid_from": "2026-01-01"})
    assert published.status_code == 302
    with tenant_scope(tenant_a):
        assert PlanVersion.objects.get().status == VersionStatus.PUBLISHED
    saved = client_alice.post(
        url,
        {
            "source": source.replace('"0.08"', '"0.09"'),
            "valid_from": "2026-01-01",
            "note": "tier 2 up",
        },
    )
    assert saved["Location"] == f"/plans/{plan.pk}/versions/2/"
    diff = client_alice.get(f"/plans/{plan.pk}/versions/2/diff/")
    assert b"tier 2 rate changed from 8 % to 9 %" in diff.content
    detail = client_alice.get(f"/plans/{plan.pk}/")
    assert b"Version 2" in detail.content and b"tier 2 up" in detail.content
    # another tenant gets 404 on every page of this plan
    for path in (f"/plans/{plan.pk}/", url, f"/plans/{plan.pk}/versions/2/diff/"):
        assert client_charlie.get(path).status_code == 404, path
    assert client_charlie.post(f"/plans/{plan.pk}/versions/2/publish/").status_code == 404
    assert (
        client_charlie.post(url, {"source": source, "valid_from": "2026-01-01"}).status_code == 404
    )


@pytest.mark.covers_url("plan_preview")
def test_the_preview_checks_patches_draws_and_tries_the_plan(
    client_alice, client_charlie, tenant_a
):
    client_alice.post(
        "/plans/new/",
        {"template": "sales_ae", "name": "Sales AE", "code": "ae", "valid_from": "2026-01-01"},
    )
    plan = _plan(tenant_a)
    with tenant_scope(tenant_a):
        source = PlanVersion.objects.get().source
    sample = SAMPLE
    rows = [
        {"from": "0", "to": "0.5", "rate": "0.05"},
        {"from": "0.5", "to": "1.0", "rate": "0.10"},
        {"from": "1.0", "to": "", "rate": "0.12"},
    ]
    body = {
        "source": source,
        "sample": sample,
        "patch": {"path": "components[0].rate_table.tiers", "kind": "tiers", "rows": rows},
    }
    url = f"/plans/{plan.pk}/preview/"
    answer = client_alice.post(url, data=json.dumps(body), content_type="application/json").json()
    # the table edit is written back into the text, the rest as it was
    assert answer["patched"] and 'rate: "0.10"' in answer["source"]
    assert "# the accelerator" in answer["source"] and answer["problems"] == []
    # the chart is the engine's: at 130 % of a 100,000 quota, 2,500 + 5,000 + 3,600 = 11,100
    figure = answer["chart"]["figure"]
    points = dict(zip(figure["data"][0]["x"], figure["data"][0]["y"], strict=True))
    assert points[1.3] == 11100.0
    # try it: the same figure on the sample, with its sentence
    line = answer["tryit"]["lines"][0]
    assert (line["component"], line["amount"]) == ("new_business", "11100.00")
    assert any("130 %" in t["text"] for t in answer["tryit"]["traces"])
    # a bad text answers its problems, at their lines
    bad = client_alice.post(
        url, data=json.dumps({"source": "version: 1\nid: [\n"}), content_type="application/json"
    ).json()
    assert bad["problems"][0]["line"] is not None and bad["chart"] is None
    # another tenant's plan: 404
    assert (
        client_charlie.post(url, data=json.dumps(body), content_type="application/json").status_code
        == 404
    )


@pytest.mark.covers_url("plan_archive")
def test_assign_to_a_node_and_archive(client_alice, client_charlie, tenant_a, org):
    client_alice.post(
        "/plans/new/", {"template": "sdr", "name": "SDR", "code": "sdr", "valid_from": "2026-01-01"}
    )
    plan = _plan(tenant_a)
    client_alice.post(f"/plans/{plan.pk}/versions/1/publish/", {"valid_from": "2026-01-01"})
    with tenant_scope(tenant_a):
        version = PlanVersion.objects.get()
    # the form's "From" starts where the published version does
    page = client_alice.get(f"/plans/{plan.pk}/").content.decode()
    assert 'name="valid_from" value="2026-01-01"' in page
    form = {
        "version": version.pk,
        "holder_kind": "node",
        "node": org.west.pk,
        "target_incentive": "1500",
        "currency": "",
        "valid_from": "2026-01-01",
    }
    assigned = client_alice.post(f"/plans/{plan.pk}/", form)
    assert assigned.status_code == 302
    again = client_alice.post(f"/plans/{plan.pk}/", form)
    assert b"already on plan SDR" in again.content
    assert client_charlie.post(f"/plans/{plan.pk}/", form).status_code == 404
    with tenant_scope(tenant_a):
        assert PlanAssignment.objects.get().node_id == org.west.pk
    assert client_charlie.post(f"/plans/{plan.pk}/archive/").status_code == 404
    assert client_alice.post(f"/plans/{plan.pk}/archive/", {"archived": "1"}).status_code == 302
    with tenant_scope(tenant_a):
        assert Plan.objects.get().archived_at is not None


def test_plotly_is_served_from_the_plotly_package(client_alice):
    from django.contrib.staticfiles import finders

    found = finders.find("plotly/plotly.min.js")
    assert found is not None and found.endswith("plotly/package_data/plotly.min.js")
    assert finders.find("plotly/widgetbundle.js") is None  # that one file, nothing else


def _plan_with_two_versions(client: Any, tenant: Any) -> Plan:
    """Create the Sales AE plan, publish version 1 and save version 2 with a note."""
    client.post(
        "/plans/new/",
        {"template": "sales_ae", "name": "Sales AE", "code": "ae", "valid_from": "2026-01-01"},
    )
    plan = _plan(tenant)
    url = f"/plans/{plan.pk}/versions/1/"
    client.post(f"{url}publish/", {"valid_from": "2026-01-01"})
    with tenant_scope(tenant):
        source = PlanVersion.objects.get().source
    note = "walkthrough of the accelerator with the regional sales leadership " * 2
    client.post(
        url,
        {"source": source.replace('"0.08"', '"0.09"'), "valid_from": "2026-01-01", "note": note},
    )
    return plan


def test_the_plan_page_speaks_a_comp_admins_words_and_stacks_on_a_phone(client_alice, tenant_a):
    # given
    plan = _plan_with_two_versions(client_alice, tenant_a)
    # when
    html = client_alice.get(f"/plans/{plan.pk}/").content.decode()
    # then: the quotas in words, no API hint, no docs path
    assert "Quotas this plan uses: Expansion bookings, New bookings." in html
    main = html.split('<main class="content"')[1]  # the navigation links the API docs
    assert "Quota ids" not in main and "/api/v1/" not in main and "docs/" not in main
    # the versions table becomes cards on a phone (labelled cells); a note and "What changed"
    # break between words only
    assert '<table class="data stack" id="version-table">' in html
    assert '<td data-label="Note" class="words">walkthrough of' in html
    changed = r'<td data-label="" class="nowrap">\s*<a href="[^"]+/diff/">What changed'
    assert re.search(changed, html)
    version = client_alice.get(f"/plans/{plan.pk}/versions/2/").content.decode()
    assert "docs/plan-language.md" not in version
    assert "/api/docs/" not in version.split('<main class="content"')[1]


@pytest.mark.needs_browser
def test_the_plan_page_breaks_no_word_at_1280_px_and_sign_out_fits_a_phone(client_alice, tenant_a):
    # given: the page's HTML (the database work first: Playwright's loop refuses queries)
    plan = _plan_with_two_versions(client_alice, tenant_a)
    html = client_alice.get(f"/plans/{plan.pk}/").content.decode()
    lines = """sel => [...document.querySelectorAll(sel)].map(el => {
        const range = document.createRange();
        range.selectNodeContents(el);
        const words = el.textContent.trim().split(/\\s+/).length;
        const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top))).size;
        return [el.textContent.trim().slice(0, 20), tops, words];
    })"""
    desktop = drawn.evaluate(html, lines, "#version-table td a, #version-table th")
    sign_out = drawn.evaluate(html, lines, ".topbar button", width=390)
    # then: a link or header of one or two words sits on one line ("What chan / ged" was not)
    broken = [cell for cell in desktop if cell[0] and cell[2] <= 2 and cell[1] != 1]
    assert desktop and not broken, broken
    assert sign_out == [["Sign out", 1, 2]], sign_out


def _preview(client: Any, tenant: Any, template: str, sample: str | None = None) -> Any:
    client.post(
        "/plans/new/",
        {"template": template, "name": "P", "code": template, "valid_from": "2026-01-01"},
    )
    with tenant_scope(tenant):
        version = PlanVersion.objects.get(plan__code=template)
    if sample is None:  # the template's own sample
        import yaml

        from plans import catalog

        sample = yaml.safe_dump(catalog.template_get(template).sample)
    body = {"source": version.source, "sample": sample}
    url = f"/plans/{version.plan_id}/preview/"
    return client.post(url, data=json.dumps(body), content_type="application/json").json()


def test_the_builder_names_components_by_their_titles_and_formats_amounts(client_alice, tenant_a):
    # given / when: the Sales AE template on a sample of 130,000 new business
    sample = SAMPLE
    answer = _preview(client_alice, tenant_a, "sales_ae", sample)
    # then: the chart's select, its caption, the tiers table and "try it" use the plan's names
    assert answer["components"][0] == {
        "id": "new_business",
        "title": "New business commission",
        "type": "commission",
    }
    assert answer["tables"][0]["label"] == "New business commission: tiers (by attainment)"
    note = answer["chart"]["note"]
    assert note.startswith("What New business commission pays for a target incentive of 10,000")
    assert "count measures" not in note and "new_business" not in note
    line = next(ln for ln in answer["tryit"]["lines"] if ln["component"] == "new_business")
    assert line["title"] == "New business commission"
    assert line["amount_text"] == "10,100.00\u00a0USD"  # thousands separated, as every page
    assert {t["title"] for t in answer["tryit"]["traces"]} >= {"New business commission"}


def test_try_it_says_1_unit_and_3_units(client_alice, tenant_a):
    # given / when: the SDR template's sample (3 meetings, 1 opportunity)
    answer = _preview(client_alice, tenant_a, "sdr")
    texts = {t["component"]: t["text"] for t in answer["tryit"]["traces"]}
    # then
    assert texts["per_opportunity"].startswith("1 unit at 250.00 each")
    assert texts["per_meeting"].startswith("3 units at 50.00 each")
    assert "(20 units where it counts units" in answer["chart"]["note"]


def test_the_version_page_shows_progress_until_the_builder_answers(client_alice, tenant_a):
    client_alice.post(
        "/plans/new/",
        {"template": "sales_ae", "name": "Sales AE", "code": "ae", "valid_from": "2026-01-01"},
    )
    html = client_alice.get(f"/plans/{_plan(tenant_a).pk}/versions/1/").content.decode()
    # an indeterminate bar (the progress component) in each card filled by the answer
    bars = re.findall(
        r'<div class="busy" data-builder-loading role="status"><div class="progress '
        r'indeterminate" aria-hidden="true"><span></span></div><span class="muted">([^<]+)',
        html,
    )
    assert bars == [
        "Reading the tiers and curves…",
        "Drawing what the plan pays…",
        "Trying the plan on the sample…",
    ]
    assert '<table class="data stack" id="try-lines">' in html
