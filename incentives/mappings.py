"""Column mappings: which column of an incoming file feeds which Quotient field.

A mapping is ``{"columns": {their column: our field}, "values": {our field: {their value: ours}},
"defaults": {our field: value}, "date_formats": [...]}``. Presets cover a Salesforce
Opportunity report export and a HubSpot Deals export; tenants save their own as
:class:`~incentives.models.ColumnMapping`.
"""

from __future__ import annotations

from typing import Any

TRANSACTION_FIELDS: dict[str, str] = {
    "source": "system the row comes from (default: the mapping's or 'upload')",
    "external_id": "the row's id in that system (required)",
    "kind": "new_business, expansion, renewal, churn, mql, sql, opportunity, meeting, pql, "
    "feature_adoption, support_ticket or custom (required)",
    "amount": "decimal amount; negative only for churn (required)",
    "currency": "ISO 4217 code (required)",
    "quantity": "units, default 1",
    "booked_on": "date the deal counts on (required)",
    "closed_on": "date closed",
    "collected_on": "date cash was collected (releases holds)",
    "owner_employee_id": "employee id of the owner",
    "owner_email": "e-mail of the owner (when there is no employee id)",
    "account": "account name or id",
    "product": "product",
    "region": "region / territory",
    "status": "'cancelled' reverses the deal",
    "splits": "split credit: 'E1:60;E2:40' (employee id:percent)",
    "touches": "attribution touches: 'E3:marketing:2026-01-02;E4:sdr:2026-01-05'",
}
TRANSACTION_REQUIRED = ("external_id", "kind", "amount", "currency", "booked_on")

KPI_FIELDS: dict[str, str] = {
    "metric": "metric name, e.g. nrr, csat, adoption_rate, otif (required)",
    "subject_type": "person, node, account or tenant (required)",
    "subject": "employee id, node code or account (blank for tenant)",
    "period": "period label (e.g. FY2027 Q1) or its start date (required)",
    "value": "decimal value (required)",
    "source": "system the value comes from",
    "owner_employee_id": "who owns the metric",
    "status": "draft or signed_off",
}
KPI_REQUIRED = ("metric", "subject_type", "period", "value")

FX_FIELDS: dict[str, str] = {
    "currency": "ISO 4217 code of the currency priced (required)",
    "quote_currency": "ISO 4217 code it is priced in (required)",
    "valid_on": "the day the rate takes effect (required)",
    "rate": "units of quote_currency per unit of currency, > 0, up to 8 decimals (required)",
}
FX_REQUIRED = ("currency", "quote_currency", "valid_on", "rate")

RULE_FIELDS: dict[str, str] = {
    "name": "the rule's unique name (required)",
    "kind": "direct, split, rollup, territory or attribution (required)",
    "priority": "lower runs first (default 100)",
    "valid_from": "first day in force (required)",
    "valid_to": "first day no longer in force (blank: open-ended)",
    "transaction_kinds": "kinds it applies to, separated by ';' (blank: all)",
    "config": "the kind's parameters as a JSON object (docs/incentives.md)",
}
RULE_REQUIRED = ("name", "kind", "valid_from")

# Fields and required fields by import kind (IngestKind values).
FIELDS: dict[str, dict[str, str]] = {
    "transactions": TRANSACTION_FIELDS,
    "kpi_values": KPI_FIELDS,
    "fx_rates": FX_FIELDS,
    "crediting_rules": RULE_FIELDS,
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "transactions": TRANSACTION_REQUIRED,
    "kpi_values": KPI_REQUIRED,
    "fx_rates": FX_REQUIRED,
    "crediting_rules": RULE_REQUIRED,
}

ISO_DATES = ["%Y-%m-%d"]

PRESETS: dict[str, dict[str, Any]] = {
    "quotient": {
        "label": "Quotient columns (field names as headers)",
        "kind": "transactions",
        "columns": {name: name for name in TRANSACTION_FIELDS},
        "defaults": {"source": "upload"},
    },
    "salesforce_opportunity": {
        "label": "Salesforce Opportunity report export",
        "kind": "transactions",
        "columns": {
            "Opportunity ID": "external_id",
            "Type": "kind",
            "Amount": "amount",
            "Amount Currency": "currency",
            "Close Date": "booked_on",
            "Owner Employee Number": "owner_employee_id",
            "Owner Email": "owner_email",
            "Account Name": "account",
            "Product Name": "product",
            "Billing Region": "region",
            "Stage": "status",
        },
        "values": {
            "kind": {
                "New Business": "new_business",
                "Existing Business": "expansion",
                "New Customer": "new_business",
                "Upsell": "expansion",
                "Renewal": "renewal",
                "Downgrade": "churn",
            },
            "status": {"Closed Won": "", "Closed Lost": "cancelled"},
        },
        "defaults": {"source": "salesforce", "currency": "USD"},
        "date_formats": ["%m/%d/%Y", "%Y-%m-%d"],
    },
    "hubspot_deals": {
        "label": "HubSpot Deals export",
        "kind": "transactions",
        "columns": {
            "Record ID": "external_id",
            "Deal Type": "kind",
            "Amount": "amount",
            "Currency": "currency",
            "Close Date": "booked_on",
            "Deal owner email": "owner_email",
            "Associated Company": "account",
            "Deal Stage": "status",
        },
        "values": {
            "kind": {
                "newbusiness": "new_business",
                "New Business": "new_business",
                "existingbusiness": "expansion",
                "Existing Business": "expansion",
                "renewal": "renewal",
            },
            "status": {
                "closedwon": "",
                "Closed Won": "",
                "closedlost": "cancelled",
                "Closed Lost": "cancelled",
            },
        },
        "defaults": {"source": "hubspot", "currency": "USD"},
        "date_formats": ["%Y-%m-%d %H:%M", "%Y-%m-%d"],
    },
    "quotient_kpi": {
        "label": "Quotient KPI columns",
        "kind": "kpi_values",
        "columns": {name: name for name in KPI_FIELDS},
        "defaults": {"source": "upload"},
    },
    "quotient_fx": {
        "label": "Quotient FX rate columns",
        "kind": "fx_rates",
        "columns": {name: name for name in FX_FIELDS},
    },
    "quotient_rules": {
        "label": "Quotient crediting rule columns",
        "kind": "crediting_rules",
        "columns": {name: name for name in RULE_FIELDS},
    },
}


def preset(name: str) -> dict[str, Any] | None:
    """Return a preset mapping by name."""
    return PRESETS.get(name)
