"""The small template filters every page shares (core/templatetags/quotient.py)."""

from __future__ import annotations

from django.template import Context, Template

from core.templatetags.quotient import address, label


def _render(text: str, **context: object) -> str:
    return Template("{% load quotient %}" + text).render(Context(context))


def test_a_key_becomes_words() -> None:
    assert label("per_qualified_meeting") == "Per qualified meeting"
    assert label(" cost_centre ") == "Cost centre"


def test_an_address_wraps_before_its_at_and_never_inside_a_word() -> None:
    # given / when / then: a break opportunity before the @, the rest escaped
    assert address("finance@demo.quotient.dev") == "finance<wbr>@demo.quotient.dev"
    assert _render("{{ v|address }}", v="<b>@x.test") == "&lt;b&gt;<wbr>@x.test"
    # anything else is left as it is, and escaped by the template
    assert _render("{{ v|address }}", v="an API client <ci>") == "an API client &lt;ci&gt;"
    assert _render("{{ v|address }}", v="@handle") == "@handle"
    assert _render("{{ v|address }}", v=None) == ""
