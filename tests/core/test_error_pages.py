"""Branded error pages: a forbidden or unknown page is "not found / not available to you" in the
product's layout, with a way home, in the demo (DEBUG) too; under /api/ the JSON envelope."""

from __future__ import annotations

import re

import pytest
from django.test import Client, RequestFactory

from config import urls
from core import views

DJANGO_DEBUG_PAGE = b"Using the URLconf"


@pytest.fixture(params=[True, False], ids=["debug", "production"])
def debug(request, settings):
    settings.DEBUG = request.param
    return request.param


def _branded_not_found(response) -> None:
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    body = response.content
    assert DJANGO_DEBUG_PAGE not in body and b"technical_404" not in body
    assert b"Not found" in body and b"not available to you" in body
    assert b"Quotient" in body


def test_an_unknown_page_is_branded_for_an_anonymous_visitor(client, db, debug):
    response = client.get("/no-such-page/")
    _branded_not_found(response)
    assert b'href="/login/"' in response.content


def test_an_unknown_page_is_branded_in_the_layout_for_a_member(client_alice, debug):
    response = client_alice.get("/no-such-page/")
    _branded_not_found(response)
    assert b"Go to your home page" in response.content and b'href="/"' in response.content
    assert b"Sign out" in response.content  # the product layout, with its navigation
    assert b"Acme Corp" in response.content


def test_a_forbidden_page_looks_exactly_like_an_unknown_one(client, bob, debug):
    client.force_login(bob)
    forbidden = client.get("/admin/members/")
    _branded_not_found(forbidden)
    unknown = client.get("/admin/nothing-here/")
    assert _without_tokens(forbidden.content) == _without_tokens(unknown.content)


def _without_tokens(html: bytes) -> bytes:
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", html)


def test_a_page_that_renders_its_own_404_keeps_it(client, bob, debug):
    from core.models import Membership

    Membership.objects.filter(user=bob).update(is_active=False)
    client.force_login(bob)
    response = client.get("/")
    assert response.status_code == 404 and b"not an active member" in response.content


@pytest.mark.parametrize(
    "path", ["/api/v1/no-such-endpoint/", "/api/v2/", "/api/nothing", "/api/v1/people/999999/x"]
)
def test_an_unknown_api_path_is_a_json_error_in_the_envelope(client_alice, path, debug):
    response = client_alice.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    expected = {"error": {"code": "not_found", "message": "Not found.", "details": {}}}
    assert response.json() == expected


def test_an_unknown_api_path_is_json_without_signing_in_too(client, db, debug):
    response = client.get("/api/v1/no-such-endpoint/")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_the_missing_slash_still_redirects(client, db, debug):
    response = client.get("/login")
    assert response.status_code == 301 and response["Location"] == "/login/"


def test_an_expired_form_shows_a_branded_403(db, debug):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/login/", {"username": "a@b.c", "password": "x"})
    assert response.status_code == 403
    assert b"That did not go through" in response.content and b"Reload the page" in response.content
    assert b"CSRF verification failed" not in response.content


def test_the_server_error_page_is_branded_and_the_api_gets_the_envelope():
    assert urls.handler500 == "core.views.server_error"
    request = RequestFactory().get("/people/")
    request.META["QUOTIENT_REQUEST_ID"] = "req-42"
    page = views.server_error(request)
    assert page.status_code == 500
    assert b"Something went wrong" in page.content and b"req-42" in page.content
    api = views.server_error(RequestFactory().get("/api/v1/people/"))
    assert api.status_code == 500
    assert api["Content-Type"] == "application/json"


def test_a_permission_denied_is_branded_and_json_under_the_api(db):
    assert urls.handler403 == "core.views.permission_denied"
    request = RequestFactory().get("/api/v1/people/")
    from django.contrib.auth.models import AnonymousUser

    request.user = AnonymousUser()
    assert views.permission_denied(request).status_code == 403
    page_request = RequestFactory().get("/people/")
    page_request.user = AnonymousUser()
    page = views.permission_denied(page_request)
    assert page.status_code == 403 and b"That did not go through" in page.content
