"""Live pages: the employee earnings page, the team page and the run list answer a poll with
304 while nothing changed (ETag / If-None-Match, core/etag.py) and with the new page once
something did; the pages carry the blocks live.js swaps and load live.js from our own static."""

from __future__ import annotations

import pytest

from core.audit import audit_record
from core.etag import etag, matches
from core.tenancy import tenant_scope

pytestmark = pytest.mark.django_db


def _poll(client, url, tag=None):
    headers = {"HTTP_X_QUOTIENT_LIVE": "1"}
    if tag:
        headers["HTTP_IF_NONE_MATCH"] = tag
    return client.get(url, **headers)


def _something_changes(tenant) -> None:
    with tenant_scope(tenant):
        audit_record(action="test.change", object_type="test", object_id="1")


@pytest.mark.parametrize(
    ("user", "url", "block"),
    [
        ("erin", "/earnings/", "live-earnings"),
        ("sam", "/earnings/team/", "live-team"),
    ],
)
def test_a_poll_is_304_until_something_changes(client, org, written, user, url, block):
    client.force_login(written.users[user])
    first = client.get(url)
    assert first.status_code == 200
    tag = first["ETag"]
    assert tag.startswith('W/"')
    html = first.content.decode()
    assert f'data-live id="{block}"' in html
    assert "/static/quotient/live.js" in html
    # nothing changed: 304, no body, the same tag
    again = _poll(client, url, tag)
    assert again.status_code == 304 and again.content == b""
    assert again["ETag"] == tag
    # something changed in the tenant: the page again, with a new tag
    _something_changes(org.tenant)
    fresh = _poll(client, url, tag)
    assert fresh.status_code == 200 and fresh["ETag"] != tag
    assert f'data-live id="{block}"' in fresh.content.decode()


def test_the_run_list_polls_304_and_changes_when_a_run_moves(client_alice, org, written):
    url = f"/runs/?period={written.q1.pk}"
    first = client_alice.get(url)
    assert first.status_code == 200 and 'data-live id="live-runs"' in first.content.decode()
    assert _poll(client_alice, url, first["ETag"]).status_code == 304
    _something_changes(org.tenant)
    assert _poll(client_alice, url, first["ETag"]).status_code == 200


def test_the_tag_is_per_user_and_address(client, org, written):
    client.force_login(written.users["erin"])
    mine = client.get("/earnings/")["ETag"]
    other_period = client.get(f"/earnings/?period={written.q2.pk}")["ETag"]
    assert mine != other_period
    client.force_login(written.users["wes"])
    assert _poll(client, "/earnings/", mine).status_code == 200  # not Wes's page


@pytest.mark.covers_url("member_earnings")
def test_not_yours_stays_404_whatever_the_tag(client, org, written, client_charlie):
    client.force_login(written.users["sam"])
    url = f"/earnings/people/{org.erin.pk}/"
    tag = client.get(url)["ETag"]
    assert _poll(client, url, tag).status_code == 304
    # another tenant's member gets the 404 the page gives, never a 304
    for header in (tag, "*"):
        assert client_charlie.get(url, HTTP_IF_NONE_MATCH=header).status_code == 404


def test_if_none_match_parsing():
    tag = etag("a", 1)
    assert tag.startswith('W/"')

    class Req:
        META = {"HTTP_IF_NONE_MATCH": f'"x", {tag.removeprefix("W/")}'}

    assert matches(Req(), tag)  # type: ignore[arg-type]
    Req.META = {"HTTP_IF_NONE_MATCH": '"other"'}
    assert not matches(Req(), tag)  # type: ignore[arg-type]
