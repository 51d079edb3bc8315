"""The transactions list reads a counted transaction (a lead, a ticket) as its quantity and
unit ("1 lead"), not the word "count"; amounts keep their currency."""

from __future__ import annotations

import re

import pytest

from incentives import services
from incentives.models import count_unit
from tests.incentives.conftest import tx_row


def test_count_units_read_in_the_singular_and_plural():
    assert count_unit("mql", 1) == "lead"
    assert count_unit("support_ticket", 3) == "tickets"
    assert count_unit("custom", 2) == "units"


@pytest.mark.django_db
def test_the_amount_column_shows_the_count_and_its_unit(in_org, client_alice):
    services.ingest_rows(
        request=services.IngestRequest(kind="transactions", source_format="json"),
        rows=[
            tx_row("D-1", "1200.00"),
            tx_row("L-1", "0", kind="mql", quantity="1"),
            tx_row("T-1", "0", kind="support_ticket", quantity="3"),
        ],
        created_by_id=None,
    )
    html = client_alice.get("/data/transactions/").content.decode()
    cells = dict(
        re.findall(
            r'>([A-Z]-1)</a>.*?<td class="num nowrap" data-unit="\w+">(.*?)</td>', html, re.S
        )
    )
    assert cells["D-1"] == "1,200.00&nbsp;USD"
    assert cells["L-1"] == '1&nbsp;<span class="muted">lead</span>'
    assert cells["T-1"] == '3&nbsp;<span class="muted">tickets</span>'
    assert ">count<" not in html
    assert "Amount or count" in html
