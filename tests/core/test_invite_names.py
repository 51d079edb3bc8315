"""The invite form (members page) and API: an over-long name is a clear field error, never cut."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model

from core.forms import InviteForm
from core.models import Membership


def _invite(client, full_name):
    return client.post(
        "/admin/members/",
        {"email": "erin@acme.test", "full_name": full_name, "roles": ["employee"]},
    )


def test_a_name_over_200_characters_is_a_field_error_and_nothing_is_created(client_alice):
    response = _invite(client_alice, "Erin " + "E" * 250)
    assert response.status_code == 200
    assert b"Enter at most 200 characters (this name has 255)." in response.content
    assert not get_user_model().objects.filter(email="erin@acme.test").exists()


def test_a_word_longer_than_the_150_characters_stored_is_a_field_error(client_alice):
    response = _invite(client_alice, "E" * 160 + " Ek")
    assert response.status_code == 200
    assert b"at most 150 characters before the first space" in response.content
    assert not Membership.objects.filter(user__email="erin@acme.test").exists()


def test_the_browser_is_not_told_to_cut_the_name(client_alice):
    page = client_alice.get("/admin/members/").content.decode()
    field = next(tag for tag in page.split("<input") if 'name="full_name"' in tag)
    assert "maxlength" not in field


def test_a_long_name_within_the_limits_is_kept_whole(
    client_alice, django_capture_on_commit_callbacks
):
    name = "A" * 150 + " " + "B" * 49
    with django_capture_on_commit_callbacks(execute=True):
        assert _invite(client_alice, name).status_code == 302
    user = get_user_model().objects.get(email="erin@acme.test")
    assert (user.first_name, user.last_name) == ("A" * 150, "B" * 49)


@pytest.mark.parametrize(
    ("full_name", "valid"),
    [("Ada Lovelace", True), ("x" * 200, False), ("x" * 150, True), ("a " + "b" * 151, False)],
)
def test_the_form_applies_the_services_rule(full_name, valid):
    form = InviteForm({"email": "a@b.test", "full_name": full_name, "roles": ["employee"]})
    assert form.is_valid() is valid


def test_the_api_refuses_an_over_long_word_with_the_envelope(client_alice):
    response = client_alice.post(
        "/api/v1/members/",
        data=json.dumps({"email": "erin@acme.test", "full_name": "E" * 180, "roles": ["employee"]}),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "full_name_too_long"
