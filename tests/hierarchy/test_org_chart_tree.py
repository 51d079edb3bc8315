"""The org chart is a collapsible tree (details/summary, keyboard-operable), its teams in
natural order ("team 2" before "team 11"), as are the node pickers of its forms."""

from __future__ import annotations

import re
from datetime import date

import pytest

from core.sorting import natural_key, natural_sorted
from core.tenancy import tenant_scope
from hierarchy import people


def test_natural_key_orders_numbers_by_value():
    names = ["team 12", "Team 1", "team 3", "team 11", "team 2", "Team", "10", "9"]
    assert sorted(names, key=natural_key) == [
        "9",
        "10",
        "Team",
        "Team 1",
        "team 2",
        "team 3",
        "team 11",
        "team 12",
    ]
    assert natural_sorted([{"n": "b 10"}, {"n": "b 9"}], key=lambda d: d["n"]) == [
        {"n": "b 9"},
        {"n": "b 10"},
    ]


@pytest.fixture
def teams(org):
    with tenant_scope(org.tenant):
        for n in (1, 11, 12, 3, 2):
            people.node_create(
                hierarchy_id=org.reporting.pk,
                code=f"team-{n}",
                name=f"Sales team {n}",
                parent_id=org.east.pk,
                valid_from=date(2025, 1, 1),
            )
    return org


@pytest.mark.django_db
def test_the_org_chart_lists_teams_in_natural_order_as_a_tree(client_alice, teams):
    html = client_alice.get(f"/org/?hierarchy={teams.reporting.pk}&as_of=2026-01-01")
    text = html.content.decode()
    # the tree: one list, branches are <details> with a <summary> (Enter/Space opens them)
    start = text.index('<ul class="org-tree" id="org-tree"')
    tree = text[start : text.index("\n  </ul>", start)]  # nested lists close inline
    assert tree.count("<details") == tree.count("<summary>") >= 3  # Company, Sales, Sales East
    assert "<details open>" in tree  # the top levels start open
    assert 'data-tree-toggle="open" data-tree="org-tree"' in text  # expand all
    assert 'data-tree-toggle="close" data-tree="org-tree"' in text  # collapse all
    assert "<table" not in tree
    # the teams under Sales East, in natural order (text order would be 1, 11, 12, 2, 3)
    order = re.findall(r"<strong>Sales team (\d+)</strong>", tree)
    assert order == ["1", "2", "3", "11", "12"]
    # each node says how many people it holds
    assert "1 direct · 1 in subtree" in tree  # Sales East: Erin
    # the move form's node picker is in natural order too
    picker = text[text.index('name="m-node_id"') :]
    picked = re.findall(r">Sales team (\d+)</option>", picker[: picker.index("</select>")])
    assert picked == ["1", "2", "3", "11", "12"]
