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


def test_a_moment_reads_in_the_current_time_zone_with_that_zones_name() -> None:
    import datetime as dt

    from django.utils import timezone

    known = dt.datetime(2026, 12, 4, 20, 59, 0, 421337, tzinfo=dt.UTC)
    with timezone.override("America/New_York"):
        html = Template('{% load quotient %}{{ at|moment:"seconds" }} · {{ at|moment }}').render(
            Context({"at": known})
        )
        assert html == "2026-12-04 15:59:00 EST · 2026-12-04 15:59 EST"
        assert (
            Template("{% load quotient %}{{ at|moment }}").render(
                Context({"at": "2026-07-01T12:00:00+00:00"})
            )
            == "2026-07-01 08:00 EDT"
        )
    with timezone.override("UTC"):
        assert (
            Template("{% load quotient %}{{ at|moment }}").render(Context({"at": known}))
            == "2026-12-04 20:59 UTC"
        )
    assert Template("{% load quotient %}{{ at|moment }}").render(Context({"at": None})) == "—"
