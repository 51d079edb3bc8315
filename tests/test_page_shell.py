"""Every page's shell: the favicon (SVG, a PNG for browsers without SVG icons, the home-screen
icon), served from our own static files, a main landmark and, in the app, a "Skip to content"
link to it."""

from __future__ import annotations

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

pytestmark = pytest.mark.django_db

ICONS = ("quotient/favicon.svg", "quotient/favicon-32.png", "quotient/apple-touch-icon.png")


def test_the_icons_are_our_own_static_files():
    for icon in ICONS:
        assert finders.find(icon), icon
    with open(finders.find("quotient/apple-touch-icon.png"), "rb") as png:
        assert png.read(8) == b"\x89PNG\r\n\x1a\n"


def test_every_page_links_the_icons_and_a_skip_link(client_alice):
    signed_out = Client()
    for client, url in ((signed_out, "/login/"), (client_alice, "/")):
        html = client.get(url).content.decode()
        for icon in ICONS:
            assert f"/static/{icon}" in html, (url, icon)
        assert 'id="content"' in html and "<main " in html  # the main landmark
    assert '<a class="skip-link" href="#content">Skip to content</a>' in html
