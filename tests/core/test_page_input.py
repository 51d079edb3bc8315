"""A NUL character in a page request is the branded 400, never a 500 (PostgreSQL refuses NUL
in text), on every page; the API answers the same with its JSON envelope."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.urls import reverse

PAGES = ["people_list", "audit_log", "transactions", "imports", "org_chart", "periods"]


@pytest.mark.parametrize("name", PAGES)
def test_a_nul_in_a_pages_query_is_the_branded_400(client_alice, name):
    # when
    response = client_alice.get(reverse(name), {"q": "a\x00b", "type": "x\x00"})
    # then
    assert response.status_code == 400
    html = response.content.decode()
    assert "That request could not be read" in html
    assert "NUL character" in html
    assert "Go to your home page" in html


def test_a_nul_in_a_form_body_is_the_branded_400_and_changes_nothing(client_alice, tenant_a):
    from core.models import Membership

    # given
    before = Membership.objects.filter(tenant=tenant_a).count()
    # when
    response = client_alice.post(
        reverse("members"),
        urlencode({"email": "new@acme.test", "full_name": "N\x00", "roles": "employee"}),
        content_type="application/x-www-form-urlencoded",
    )
    # then
    assert response.status_code == 400
    assert Membership.objects.filter(tenant=tenant_a).count() == before


def test_an_ordinary_query_still_reaches_the_page(client_alice):
    # when
    response = client_alice.get(reverse("people_list"), {"q": "alice"})
    # then
    assert response.status_code == 200


def test_the_api_keeps_its_own_envelope_for_a_nul(client_alice):
    # when
    response = client_alice.get("/api/v1/people/", {"q": "\x00"})
    # then
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_parameter"


def test_a_nul_in_an_upload_forms_text_field_is_the_branded_400(client_alice, tenant_a):
    """Multipart forms too: the text fields beside the file (here the import's kind) are checked;
    the file itself is left to the importer, which reports a NUL in it by line."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from core.tenancy import tenant_scope
    from incentives.models import IngestBatch

    # given
    with tenant_scope(tenant_a):
        before = IngestBatch.objects.count()
    upload = SimpleUploadedFile("t.csv", b"external_id,amount\nT-1,10\n", content_type="text/csv")
    # when
    response = client_alice.post(reverse("imports"), {"kind": "transactions\x00", "file": upload})
    # then
    assert response.status_code == 400
    assert "NUL character" in response.content.decode()
    with tenant_scope(tenant_a):
        assert IngestBatch.objects.count() == before


def test_an_upload_whose_file_holds_a_nul_still_reaches_the_importer(client_alice):
    from django.core.files.uploadedfile import SimpleUploadedFile

    # given: the NUL is inside the file, not in a form field
    upload = SimpleUploadedFile(
        "t.csv", b"external_id,amount\nT-\x001,10\n", content_type="text/csv"
    )
    # when
    response = client_alice.post(reverse("imports"), {"kind": "transactions", "file": upload})
    # then: not the middleware's 400 page; the import page answers
    assert "That request could not be read" not in response.content.decode()
