"""How the segment builder presents each criterion type: a label, a group and typed inputs per field.

Validation stays in segments.criteria (the builder shows its errors next to the fields by path); this module is
only the form layout, checked against the registry by the tests so no type is forgotten.
"""

from __future__ import annotations

from typing import Any


def _f(name: str, label: str, kind: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "label": label, "kind": kind, **extra}


AMOUNTS = [_f("fromAmount", "From amount", "amount"), _f("toAmount", "To amount", "amount")]
DATES = [_f("fromDate", "From date", "date"), _f("toDate", "To date", "date")]
COUNTS = [_f("min", "At least", "int", min=0), _f("max", "At most", "int", min=0)]

GROUPS = ["Purchases", "What and where they bought", "Customer profile"]

CATALOGUE: list[dict[str, Any]] = [
    # purchases
    {"type": "transaction_count", "group": 0, "label": "Number of purchases", "fields": COUNTS},
    {
        "type": "transaction_count_in_period",
        "group": 0,
        "label": "Number of purchases between dates",
        "fields": [*COUNTS, *DATES],
    },
    {"type": "transaction_amount", "group": 0, "label": "Total spend", "fields": AMOUNTS},
    {"type": "average_transaction_amount", "group": 0, "label": "Average purchase amount", "fields": AMOUNTS},
    {"type": "transaction_amount_in_period", "group": 0, "label": "Spend between dates", "fields": [*AMOUNTS, *DATES]},
    {
        "type": "transaction_amount_in_last_n_days",
        "group": 0,
        "label": "Spend in the last N days",
        "fields": [*AMOUNTS, _f("days", "Days", "int", min=0, max=3650)],
    },
    {
        "type": "transaction_amount_each_day_in_period",
        "group": 0,
        "label": "Spend on each day between dates",
        "fields": [*AMOUNTS, *DATES],
    },
    {
        "type": "transaction_amount_each_day_in_last_n_days",
        "group": 0,
        "label": "Spend on each of the last N days",
        "fields": [*AMOUNTS, _f("days", "Days", "int", min=0, max=365)],
    },
    {"type": "purchase_period", "group": 0, "label": "Bought between dates", "fields": DATES},
    {
        "type": "last_purchase_n_days_before",
        "group": 0,
        "label": "Last purchase exactly N days ago",
        "fields": [_f("days", "Days ago", "int", min=0, max=3650)],
    },
    {
        "type": "last_transaction_between_days",
        "group": 0,
        "label": "Last purchase between N and M days ago",
        "fields": [
            _f("fromDays", "From days ago", "int", min=0, max=3650),
            _f("toDays", "To days ago", "int", min=0, max=3650),
        ],
    },
    {"type": "member_registration_date", "group": 0, "label": "First seen between dates", "fields": DATES},
    # what and where
    {
        "type": "bought_items",
        "group": 1,
        "label": "Bought items or groups",
        "fields": [
            _f("items", "Items and groups", "item_objects", wide=True),
            _f("storeIds", "In stores (optional)", "stores", optional=True),
            _f("purchaseFrom", "From date (optional)", "date"),
            _f("purchaseTo", "To date (optional)", "date"),
            _f("minPurchases", "At least N purchases", "int", min=1),
        ],
    },
    {
        "type": "bought_skus",
        "group": 1,
        "label": "Bought items (SKUs)",
        "fields": [_f("skuIds", "Items", "tokens", suggest="item", wide=True)],
    },
    {
        "type": "bought_labels",
        "group": 1,
        "label": "Bought items with labels",
        "fields": [_f("labels", "Labels (key=value)", "key_values", suggest="label", wide=True)],
    },
    {
        "type": "bought_makers",
        "group": 1,
        "label": "Bought brands",
        "fields": [_f("makers", "Brands", "tokens", suggest="maker", wide=True)],
    },
    {
        "type": "bought_through_channel",
        "group": 1,
        "label": "Bought in stores",
        "fields": [_f("channelIds", "Stores", "stores", wide=True)],
    },
    {
        "type": "transaction_percent_in_channel",
        "group": 1,
        "label": "Share of purchases in a store",
        "fields": [_f("channelId", "Store", "store"), _f("percent", "At least %", "decimal", min=0, max=100)],
    },
    # profile
    {
        "type": "anniversary",
        "group": 2,
        "label": "Birthday or anniversary within N days",
        "fields": [
            _f(
                "anniversaryType",
                "Anniversary",
                "choice",
                choices=[["birthday", "Birthday"], ["registration", "First purchase"]],
            ),
            _f("days", "Within days", "int", min=1, max=366),
        ],
    },
    {
        "type": "age",
        "group": 2,
        "label": "Age",
        "fields": [_f("min", "At least", "int", min=0, max=150), _f("max", "At most", "int", min=0, max=150)],
    },
    {
        "type": "gender",
        "group": 2,
        "label": "Gender",
        "fields": [_f("genders", "Genders", "tokens", options=["female", "male", "other"], wide=True)],
    },
    {
        "type": "country",
        "group": 2,
        "label": "Country",
        "fields": [_f("countries", "Countries (codes, e.g. NO)", "tokens", wide=True)],
    },
    {"type": "city", "group": 2, "label": "City", "fields": [_f("cities", "Cities", "tokens", wide=True)]},
    {
        "type": "postal",
        "group": 2,
        "label": "Postal code",
        "fields": [_f("postalCodes", "Postal codes", "tokens", wide=True)],
    },
    {
        "type": "marketing_consent",
        "group": 2,
        "label": "Marketing consent",
        "fields": [
            _f("channel", "Channel", "choice", choices=[["email", "E-mail"], ["sms", "SMS"]]),
            _f("consent", "Consent", "choice", choices=[["true", "Given"], ["false", "Refused"]], boolean=True),
        ],
    },
    {
        "type": "customer_has_labels",
        "group": 2,
        "label": "Has labels",
        "fields": [_f("labels", "Label keys", "keys", wide=True)],
    },
    {
        "type": "customer_with_labels_values",
        "group": 2,
        "label": "Has label values",
        "fields": [_f("labels", "Labels (key=value)", "key_values", wide=True)],
    },
    {
        "type": "member_custom_field_value",
        "group": 2,
        "label": "Custom field value",
        "fields": [_f("key", "Field", "text"), _f("value", "Value", "text")],
    },
    {
        "type": "member_loyalty_card_number",
        "group": 2,
        "label": "Loyalty card numbers",
        "fields": [_f("cardNumbers", "Card numbers", "tokens", wide=True)],
    },
    {
        "type": "customer_list",
        "group": 2,
        "label": "Customer list",
        "fields": [_f("customers", "Customer ids, e-mails or phones", "tokens", wide=True)],
    },
    {
        "type": "customer_csv_list",
        "group": 2,
        "label": "Customer list (CSV)",
        "fields": [_f("csv", "CSV, customers in the first column", "textarea", wide=True)],
    },
]


def catalogue(*, stores: list[tuple[str, str]], currency: str) -> dict[str, Any]:
    return {
        "groups": GROUPS,
        "types": CATALOGUE,
        "stores": [{"id": sid, "name": name or sid} for sid, name in stores],
        "currency": currency,
    }
