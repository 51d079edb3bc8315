"""Query parameters, list filters, ordering, page limits and malformed bodies: 400s, never 500s."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from core import params
from core.api.pagination import DEFAULT_LIMIT, MAX_LIMIT
from core.api.parsers import MAX_JSON_DEPTH
from core.tenancy import tenant_scope
from hierarchy import periods
from hierarchy.models import Period
from tests.incentives.conftest import tx_row

# --- core.params: one raw string -> one value ----------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("true", True), ("TRUE", True), ("1", True), ("false", False), ("False", False), ("0", False)],
)
def test_booleans_are_true_false_one_or_zero(raw: str, expected: bool) -> None:
    assert params.parse_boolean(raw) is expected


@pytest.mark.parametrize("raw", ["yes", "on", "2", "truthy", "", "nan"])
def test_any_other_boolean_is_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="true or false"):
        params.parse_boolean(raw)


def test_dates_are_iso_and_bounded() -> None:
    assert params.parse_date("2026-02-28") == date(2026, 2, 28)
    for raw in ("9999-12-31", "0001-01-01", "1899-12-31", "3000-01-01"):
        with pytest.raises(ValueError, match="between 1900-01-01 and 2999-12-31"):
            params.parse_date(raw)
    for raw in ("2026-02-30", "31/12/2026", "today", "2026-13-01"):
        with pytest.raises(ValueError, match="YYYY-MM-DD"):
            params.parse_date(raw)


def test_datetimes_keep_their_offset_and_default_to_utc() -> None:
    assert params.parse_datetime_aware("2026-01-31T12:00:00+02:00") == datetime(
        2026, 1, 31, 10, 0, tzinfo=UTC
    )
    assert params.parse_datetime_aware("2026-01-31T12:00:00") == datetime(
        2026, 1, 31, 12, 0, tzinfo=UTC
    )
    for raw in ("2026-01-31T12:00:00+25:00", "2026-01-31T12:00:00+99", "9999-12-31T23:59:59-05:00"):
        with pytest.raises(ValueError):
            params.parse_datetime_aware(raw)


def test_an_unencoded_plus_gets_a_hint() -> None:
    with pytest.raises(ValueError, match="%2B"):
        params.parse_datetime_aware("2026-01-31T12:00:00 02:00")


@pytest.mark.parametrize("raw", ["0", "-1", "1.5", "²", "١٢", "9" * 25, str(2**63), "1e3", " "])
def test_ids_are_positive_ascii_64_bit_integers(raw: str) -> None:
    with pytest.raises(ValueError, match="must be an id"):
        params.parse_id(raw)


def test_amounts_fit_numeric_20_4() -> None:
    assert str(params.parse_amount("-1234.5")) == "-1234.5"
    for raw in ("1e400", "NaN", "Infinity", "1" * 17, "12,5", "0x10"):
        with pytest.raises(ValueError):
            params.parse_amount(raw)


# --- the API: view parameters ------------------------------------------------------------------


def _error(response):
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    body = response.json()
    assert set(body["error"]) == {"code", "message", "details"}, body
    return body["error"]


@pytest.mark.parametrize("as_of", ["9999-12-31", "0001-01-01", "2026-02-30", "soon"])
def test_an_impossible_as_of_is_a_400_on_every_view_that_reads_it(client_alice, org, as_of):
    person, node = org.people["E1"], org.nodes["team"]
    urls = [
        f"/api/v1/people/?as_of={as_of}",
        f"/api/v1/people/{person.pk}/?as_of={as_of}",
        f"/api/v1/people/{person.pk}/timeline/?as_of={as_of}",
        f"/api/v1/people/{person.pk}/managers/?as_of={as_of}",
        f"/api/v1/hierarchies/{node.hierarchy_id}/tree/?as_of={as_of}",
        f"/api/v1/nodes/{node.pk}/members/?as_of={as_of}",
        f"/api/v1/assignments/?as_of={as_of}",
    ]
    for url in urls:
        error = _error(client_alice.get(url))
        assert (error["code"], list(error["details"])) == ("invalid_parameter", ["as_of"]), url


@pytest.mark.parametrize("known_at", ["2026-01-31T12:00:00%2B25:00", "2026-01-31T25:00", "x"])
def test_a_bad_known_at_is_a_400(client_alice, org, known_at):
    person = org.people["E1"]
    for url in (
        f"/api/v1/people/{person.pk}/timeline/?known_at={known_at}",
        f"/api/v1/assignments/?known_at={known_at}",
    ):
        error = _error(client_alice.get(url))
        assert error["details"] == {"known_at": [error["message"]]}
        assert "ISO 8601" in error["message"]


def test_known_at_with_an_offset_replays_the_org_as_then_known(client_alice, org):
    # given an assignment recorded now
    person = org.people["E1"]
    before = (datetime.now(UTC) - timedelta(days=400)).astimezone().isoformat()
    # when the org is replayed as known long before it was recorded
    url = f"/api/v1/people/{person.pk}/timeline/?known_at={before.replace('+', '%2B')}"
    response = client_alice.get(url)
    # then
    assert response.status_code == 200, response.content
    assert response.json()["segments"] == []
    assert client_alice.get(f"/api/v1/people/{person.pk}/timeline/").json()["segments"]


def test_fx_convert_refuses_huge_amounts_and_unknown_currencies_with_400s(client_alice, org):
    base = "/api/v1/fx-rates/convert/?from=EUR&to=USD&on=2026-02-01&amount="
    for amount in ("1" + "0" * 40, "1e999999", "NaN", "-Infinity", ""):
        error = _error(client_alice.get(base + amount))
        assert list(error["details"]) == ["amount"], amount
    error = _error(
        client_alice.get("/api/v1/fx-rates/convert/?amount=1&from=XYZ&to=USD&on=2026-02-01")
    )
    assert list(error["details"]) == ["from"]
    error = _error(
        client_alice.get("/api/v1/fx-rates/convert/?amount=1&from=EUR&to=USD&on=9999-12-31")
    )
    assert list(error["details"]) == ["on"]


def test_a_zero_fx_rate_is_refused(client_alice, org):
    response = client_alice.post(
        "/api/v1/fx-rates/",
        data=json.dumps(
            {"currency": "EUR", "quote_currency": "USD", "valid_on": "2026-01-01", "rate": "0"}
        ),
        content_type="application/json",
    )
    assert _error(response)["details"].keys() == {"rate"}


@pytest.mark.parametrize("flag", ["maybe", "yes", "2"])
def test_a_boolean_parameter_other_than_true_false_1_0_is_a_400(client_alice, org, flag):
    for url in (
        f"/api/v1/transactions/?history={flag}",
        f"/api/v1/credits/?corrections={flag}",
        f"/api/v1/nodes/{org.nodes['team'].pk}/members/?include_descendants={flag}",
    ):
        assert _error(client_alice.get(url))["code"] == "invalid_parameter", url


def test_include_descendants_false_keeps_to_the_node_itself(client_alice, org):
    sales = org.nodes["sales"].pk
    everyone = client_alice.get(f"/api/v1/nodes/{sales}/members/").json()["results"]
    direct = client_alice.get(f"/api/v1/nodes/{sales}/members/?include_descendants=0").json()
    assert len(everyone) == 5
    assert [p["employee_id"] for p in direct["results"]] == ["M1"]


# --- the API: list filters and ordering --------------------------------------------------------


@pytest.fixture
def imported(org, client_alice):
    rows = [
        tx_row("T-1", "300.00"),
        tx_row("T-2", "100.00", owner_employee_id="E2", booked_on="2026-03-01"),
        tx_row("T-3", "200.00", account="Umbrella"),
    ]
    response = client_alice.post(
        "/api/v1/imports/transactions/rows/",
        data=json.dumps({"rows": rows}),
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    return rows


def _ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["external_id"] for row in response.json()["results"]]


def test_transaction_filters_keep_their_names_and_meaning(client_alice, imported):
    url = "/api/v1/transactions/"
    assert sorted(_ids(client_alice.get(url))) == ["T-1", "T-2", "T-3"]
    assert _ids(client_alice.get(url + "?owner=E2")) == ["T-2"]
    assert _ids(client_alice.get(url + "?account=umbr")) == ["T-3"]
    assert _ids(client_alice.get(url + "?date_from=2026-03-01")) == ["T-2"]
    assert sorted(_ids(client_alice.get(url + "?date_to=2026-03-01"))) == ["T-1", "T-3"]
    assert _ids(client_alice.get(url + "?q=T-3")) == ["T-3"]
    assert _ids(client_alice.get(url + "?kind=renewal")) == []
    assert _ids(client_alice.get(url + "?owner=E1&account=Umbrella")) == ["T-3"]


def test_ordering_is_a_whitelist_in_both_directions(client_alice, imported):
    url = "/api/v1/transactions/?ordering="
    assert _ids(client_alice.get(url + "amount")) == ["T-2", "T-3", "T-1"]
    assert _ids(client_alice.get(url + "-amount")) == ["T-1", "T-3", "T-2"]
    assert _ids(client_alice.get(url + "-booked_on,amount"))[0] == "T-2"


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/transactions/?ordering=owner__user__password",
        "/api/v1/transactions/?ordering=nope",
        "/api/v1/people/?ordering=base_salary",
        "/api/v1/members/?ordering=-user__password",
        "/api/v1/audit-events/?ordering=before",
        "/api/v1/periods/?ordering=amount",
    ],
)
def test_an_unknown_ordering_field_is_a_400(client_alice, org, url):
    error = _error(client_alice.get(url))
    assert (error["code"], list(error["details"])) == ("invalid_parameter", ["ordering"])


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/transactions/?owner_id=1",
        "/api/v1/people/?salary__gt=1",
        "/api/v1/api-clients/?search=x",
        "/api/v1/fx-rates/?currency=EUR",
        "/api/v1/job-roles/?page=2",
    ],
)
def test_an_unknown_filter_parameter_is_a_400_naming_what_the_list_accepts(client_alice, org, url):
    error = _error(client_alice.get(url))
    assert error["code"] == "unknown_parameter"
    assert "limit" in error["message"] and "offset" in error["message"]


def test_bad_filter_values_are_400s(client_alice, org):
    for url in (
        "/api/v1/transactions/?kind=bribe",
        "/api/v1/transactions/?date_from=2026-02-30",
        "/api/v1/periods/?fiscal_year=99999",
        "/api/v1/periods/?kind=weekly",
        "/api/v1/nodes/?hierarchy=%C2%B2",
        "/api/v1/assignments/?person=-1",
    ):
        assert _error(client_alice.get(url))["code"] == "invalid_parameter", url


def test_period_filters_and_ordering(client_alice, org):
    with tenant_scope(org.tenant):
        periods.period_generate_fiscal_year(fiscal_year=2027)
        quarters_2027 = Period.objects.filter(kind="quarterly", fiscal_year=2027).count()
    body = client_alice.get("/api/v1/periods/?kind=quarterly&fiscal_year=2027&ordering=-start")
    rows = body.json()["results"]
    assert len(rows) == quarters_2027 == 4
    assert [r["label"] for r in rows] == sorted((r["label"] for r in rows), reverse=True)


# --- the API: pages ----------------------------------------------------------------------------


@pytest.fixture
def many_periods(org):
    with tenant_scope(org.tenant):
        for year in range(2027, 2100):
            periods.period_generate_fiscal_year(fiscal_year=year)
        return Period.objects.count()


def test_a_limit_above_the_maximum_is_clamped(client_alice, many_periods):
    assert many_periods > MAX_LIMIT
    body = client_alice.get("/api/v1/periods/?limit=100000000").json()
    assert (body["count"], len(body["results"])) == (many_periods, MAX_LIMIT)
    assert f"limit={MAX_LIMIT}" in body["next"]


@pytest.mark.parametrize("limit", ["abc", "0", "-5", "1.5", "9" * 5000])
def test_a_limit_that_is_not_a_positive_number_means_the_default(client_alice, many_periods, limit):
    body = client_alice.get(f"/api/v1/periods/?limit={limit}").json()
    assert len(body["results"]) == DEFAULT_LIMIT


def test_a_huge_offset_is_an_empty_page(client_alice, many_periods):
    body = client_alice.get(f"/api/v1/periods/?offset={10**40}").json()
    assert (body["count"], body["results"]) == (many_periods, [])


# --- the API: malformed bodies and query strings -----------------------------------------------


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 3000, 100_000])
def test_deeply_nested_json_is_a_400(client_alice, org, depth):
    for url in ("/api/v1/plans/validate/", "/api/v1/people/", "/api/v1/imports/transactions/rows/"):
        body = '{"rows": ' + _nested(depth) + "}"
        response = client_alice.post(url, data=body, content_type="application/json")
        error = _error(response)
        assert error["code"] == "malformed_request", url
        assert "nested deeper" in error["message"]


def test_json_as_deep_as_the_limit_is_read(client_alice, org):
    body = '{"a": ' + _nested(MAX_JSON_DEPTH - 1) + "}"
    response = client_alice.post(
        "/api/v1/plans/validate/", data=body, content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json()["valid"] is False


@pytest.mark.parametrize(
    "body",
    [
        {"employee_id": "N\u00001", "full_name": "Nul", "hire_date": "2026-01-01"},
        {
            "employee_id": "N2",
            "full_name": "Nul",
            "hire_date": "2026-01-01",
            "attributes": {"a\u0000": 1},
        },
        {"rows": [tx_row("N-1", account="Ini\u0000tech")]},
    ],
)
def test_nul_characters_in_json_are_a_400(client_alice, org, body):
    url = "/api/v1/imports/transactions/rows/" if "rows" in body else "/api/v1/people/"
    response = client_alice.post(url, data=json.dumps(body), content_type="application/json")
    error = _error(response)
    assert (error["code"], "NUL" in error["message"]) == ("malformed_request", True)


def test_nul_characters_in_the_query_string_are_a_400(client_alice, org):
    for url in ("/api/v1/people/?q=a%00b", "/api/v1/transactions/?owner=%00", "/api/v1/me/?x%00=1"):
        assert _error(client_alice.get(url))["code"] == "invalid_parameter", url


def test_an_idempotency_key_with_control_characters_is_a_400(client_alice, org):
    response = client_alice.post(
        "/api/v1/job-roles/",
        data=json.dumps({"name": "AE", "function": "sales"}),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="key\x00\x01",
    )
    assert _error(response)["code"] == "idempotency_key_invalid"


def test_a_csv_transaction_import_with_a_nul_reports_the_line(client_alice, org):
    header = "external_id,kind,amount,currency,booked_on,owner_employee_id\n"
    content = (
        header
        + "C-1,new_business,10,USD,2026-02-01,E1\nC-2,new_busi\x00ness,10,USD,2026-02-01,E1\n"
    )
    response = client_alice.post(
        "/api/v1/imports/transactions/csv/?mode=partial",
        data=content.encode(),
        content_type="text/csv",
    )
    assert response.status_code in (201, 202), response.content
    batch = response.json()
    errors = client_alice.get(f"/api/v1/imports/{batch['id']}/errors/").json()["results"]
    assert [(e["line"], e["code"]) for e in errors] == [(3, "nul_character")]
    assert batch["counts"]["created"] == 1


def test_a_csv_hr_import_with_a_nul_reports_its_line_and_writes_nothing(client_alice, org):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from hierarchy.models import Person

    content = b"employee_id,full_name,hire_date\nZ1,Zed\x00,2026-01-01\nZ2,Zoe,2026-01-01\n"
    response = client_alice.post(
        "/api/v1/hr-imports/",
        {"kind": "people", "file": SimpleUploadedFile("p.csv", content, "text/csv")},
    )
    # a NUL is a row error on its line (the import kernel's rule); all or nothing writes nothing
    body = response.json()
    assert (response.status_code, body["status"]) == (201, "failed")
    assert [(e["line"], e["code"]) for e in body["errors"]] == [(2, "nul_character")]
    with tenant_scope(org.tenant):
        assert not Person.objects.filter(employee_id__in=["Z1", "Z2"]).exists()
