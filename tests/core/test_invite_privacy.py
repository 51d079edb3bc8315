"""Inviting someone who already exists in another tenant reveals nothing that tenant gave them
(issue #8, hole 8): the members page and API show the name typed here, never another's."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from core.models import Membership

SECRET = "Paula Globex-Secret"


def _invite(client: Any, email: str, name: str) -> Any:
    return client.post(
        "/api/v1/members/",
        data=json.dumps({"email": email, "full_name": name, "roles": ["employee"]}),
        content_type="application/json",
    )


def test_inviting_an_email_known_only_to_another_tenant_shows_the_name_given_here(
    client_alice: Any, charlie: Any
) -> None:
    # given: Globex invited Paula under a name of its own
    globex = Client()
    globex.force_login(charlie)
    assert _invite(globex, "paula@shared.test", SECRET).status_code == 201
    # when: Acme invites the same address, in the page and (for someone else) the API
    page = client_alice.post(
        "/admin/members/",
        {"email": "Paula@Shared.test", "full_name": "Paula A.", "roles": ["employee"]},
        follow=True,
    )
    assert _invite(globex, "quinn@shared.test", "Quinn Globex-Secret").status_code == 201
    api = _invite(client_alice, "quinn@shared.test", "Quinn A.")
    # then: Acme sees its own names only, everywhere
    assert page.status_code == 200
    html = page.content.decode()
    assert "Paula A." in html and "Globex-Secret" not in html
    assert api.json()["full_name"] == "Quinn A."
    listed = client_alice.get("/api/v1/members/").json()["results"]
    names = {m["email"]: m["full_name"] for m in listed}
    assert names["paula@shared.test"] == "Paula A."
    assert "Globex-Secret" not in json.dumps(listed)
    member = Membership.objects.get(tenant__slug="acme", user__email="paula@shared.test")
    detail = client_alice.get(f"/api/v1/members/{member.pk}/").json()
    assert detail["full_name"] == "Paula A."
    # and Globex still sees the name it gave
    assert SECRET in globex.get("/admin/members/").content.decode()
