"""One currency list: every place that takes a currency accepts exactly the same codes.

The list is ISO 4217's current codes with a minor unit (the ``iso4217`` package's table). XYZ
is refused everywhere; BHD is accepted everywhere and has exponent 3. (CSV cells and query
parameters are upper-cased first, so ``usd`` there is USD; the codes themselves are one set.)
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from iso4217 import Currency
from rest_framework import serializers

from core import params
from core.currencies import CURRENCY_CODES, CurrencyField, exponent, validate_currency
from core.errors import ValidationFailedError
from core.models import Tenant
from core.tenancy import tenant_scope
from engine import money, plan_json_schema, validate_plan
from hierarchy.models import Person
from incentives import services
from incentives.models import FxRate, Transaction
from tests.engine.test_spec import PLAN
from tests.incentives.conftest import tx_row

REFUSED = ["XYZ", "BGN", "ANG", "XAU", "XXX", "XTS", "US", "USDD", "", "U S", "U$D", "ÜSD"]
CANDIDATES = sorted(CURRENCY_CODES) + REFUSED


def _accepts(check) -> frozenset[str]:
    accepted = set()
    for code in CANDIDATES:
        try:
            check(code)
        except (ValueError, ValidationError, serializers.ValidationError, ValidationFailedError):
            continue
        accepted.add(code)
    return frozenset(accepted)


class _Body(serializers.Serializer):
    currency = CurrencyField()


def _serializer(code: str) -> None:
    body = _Body(data={"currency": code})
    if not body.is_valid():
        raise serializers.ValidationError(body.errors)


def _plan(code: str) -> None:
    plan = copy.deepcopy(PLAN)
    plan["components"] = plan["components"][:1]
    plan["currency"] = code
    errors = validate_plan(plan)
    if errors:
        raise ValueError(errors)


def _schema(code: str) -> None:
    if code not in plan_json_schema()["$defs"]["currency"]["enum"]:
        raise ValueError(code)


def test_the_list_is_the_iso_table_of_codes_with_a_minor_unit() -> None:
    with_minor_unit = {c.code for c in Currency if c.exponent is not None}
    assert with_minor_unit == CURRENCY_CODES
    assert {"USD", "EUR", "JPY", "BHD", "KWD", "CLF", "XOF"} <= CURRENCY_CODES
    assert not set(REFUSED) & CURRENCY_CODES
    assert (exponent("JPY"), exponent("USD"), exponent("BHD"), exponent("CLF")) == (0, 2, 3, 4)


def test_every_validator_accepts_exactly_the_one_list() -> None:
    places = {
        "model validator": validate_currency,
        "API body field": _serializer,
        "query parameter": params.parse_currency,
        "engine exponent": money.exponent,
        "plan spec": _plan,
        "plan JSON schema": _schema,
    }
    accepted = {name: _accepts(check) for name, check in places.items()}
    assert accepted == dict.fromkeys(places, CURRENCY_CODES)


@pytest.mark.django_db
def test_tenants_people_and_fx_rates_refuse_xyz_and_take_bhd(tenant_a) -> None:
    with tenant_scope(tenant_a):
        for code, ok in (("XYZ", False), ("BHD", True)):
            tenant = Tenant(slug=f"t-{code.lower()}", name=code, default_currency=code)
            person = Person(employee_id=code, full_name=code, hire_date=dt.date(2026, 1, 1))
            person.home_currency = code
            rate = FxRate(currency=code, quote_currency="USD", valid_on=dt.date(2026, 1, 1))
            rate.rate = Decimal("2.65")
            for obj, exclude in ((tenant, []), (person, ["tenant"]), (rate, ["tenant"])):
                if ok:
                    obj.full_clean(exclude=exclude)
                else:
                    with pytest.raises(ValidationError, match="ISO 4217"):
                        obj.full_clean(exclude=exclude)
        with pytest.raises(ValidationFailedError, match="ISO 4217"):
            services.fx_rate_set(
                currency="XYZ", quote_currency="USD", valid_on="2026-01-01", rate=1
            )
        assert (
            services.fx_rate_set(
                currency="BHD", quote_currency="USD", valid_on="2026-01-01", rate=Decimal("2.65")
            ).currency
            == "BHD"
        )


def _post(client, url, body):
    return client.post(url, data=json.dumps(body), content_type="application/json")


@pytest.mark.django_db
def test_every_api_refuses_xyz_and_takes_bhd(client_alice, org) -> None:
    person_body = {"full_name": "Dana", "hire_date": "2026-01-01"}
    # people
    refused = _post(
        client_alice,
        "/api/v1/people/",
        {**person_body, "employee_id": "X1", "home_currency": "XYZ"},
    )
    taken = _post(
        client_alice,
        "/api/v1/people/",
        {**person_body, "employee_id": "B1", "home_currency": "BHD"},
    )
    assert (refused.status_code, taken.status_code) == (400, 201), (refused.content, taken.content)
    assert "home_currency" in refused.json()["error"]["details"]
    # HR import
    hr = (
        "employee_id,full_name,hire_date,home_currency\n"
        "H1,Hana,2026-01-01,XYZ\nH2,Hugo,2026-01-01,BHD\n"
    )

    response = client_alice.post(
        "/api/v1/hr-imports/",
        {"kind": "people", "mode": "partial", "file": SimpleUploadedFile("p.csv", hr.encode())},
    )
    assert response.status_code == 201, response.content
    errors = response.json()["errors"]
    assert [(e["line"], e["column"]) for e in errors] == [(2, "home_currency")]
    # FX rates
    fx = {"quote_currency": "USD", "valid_on": "2026-01-01", "rate": "2.65"}
    refused = _post(client_alice, "/api/v1/fx-rates/", {**fx, "currency": "XYZ"})
    taken = _post(client_alice, "/api/v1/fx-rates/", {**fx, "currency": "BHD"})
    assert (refused.status_code, taken.status_code) == (400, 201), refused.content
    converted = client_alice.get("/api/v1/fx-rates/convert/?amount=1&from=BHD&to=USD&on=2026-02-01")
    assert converted.json()["converted"] == "2.6500"
    refused = client_alice.get("/api/v1/fx-rates/convert/?amount=1&from=XYZ&to=USD&on=2026-02-01")
    assert refused.status_code == 400
    # transactions: BHD has three decimals, XYZ is unknown
    rows = [
        tx_row("X-1", "1.000", currency="XYZ"),
        tx_row("B-1", "1.234", currency="BHD"),
        tx_row("B-2", "1.2345", currency="BHD"),
    ]
    response = _post(
        client_alice, "/api/v1/imports/transactions/rows/", {"rows": rows, "mode": "partial"}
    )
    batch = response.json()
    errors = client_alice.get(f"/api/v1/imports/{batch['id']}/errors/").json()["results"]
    assert {(e["line"], e["code"]) for e in errors} == {
        (1, "unknown_currency"),
        (3, "too_many_decimals"),
    }
    with tenant_scope(org.tenant):
        assert Transaction.objects.get(external_id="B-1").amount == Decimal("1.234")
    # plans
    for code, valid in (("XYZ", False), ("BHD", True)):
        plan = copy.deepcopy(PLAN)
        plan["components"] = plan["components"][:1]
        plan["currency"] = code
        assert _post(client_alice, "/api/v1/plans/validate/", plan).json()["valid"] is valid
