"""Receipt documents: validation against the Dintero spec and extraction of the columns and codes we index.

Pure functions over dicts; no database access here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from loyalty.api.swagger import Errors, allow_numeric_mcc, compile_schema, parse_datetime
from loyalty.core.validation import customer_id_problems
from receipts.models import NON_PURCHASE_STATUSES

SPEC_PATH = Path(__file__).resolve().parent / "spec" / "dintero-receipts.yaml"
INT8_MIN, INT8_MAX = -(2**63), 2**63 - 1
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
MAX_ID_LENGTH = 255
ENTITY_FIELDS = ("id", "created_at", "created_by", "updated_at", "deleted_by", "deleted_at")


@cache
def spec() -> dict[str, Any]:
    loaded = yaml.safe_load(SPEC_PATH.read_text())
    allow_numeric_mcc(loaded["definitions"])
    return loaded


@cache
def _receipt_validator():
    definitions = spec()["definitions"]
    return compile_schema({"$ref": "#/definitions/Receipt"}, definitions)


@cache
def definition_validator(name: str):
    return compile_schema({"$ref": f"#/definitions/{name}"}, spec()["definitions"])


def validate_receipt(document: Any) -> Errors:
    """Every problem with one posted receipt, as (path, message)."""
    errors: Errors = []
    if not isinstance(document, dict):
        return [("", "must be a receipt object")]
    _receipt_validator()(document, errors)
    errors.extend(_id_problems(document.get("receipt_id"), "receipt_id"))
    store = document.get("store")
    if isinstance(store, dict):
        errors.extend(_id_problems(store.get("id"), "store.id"))
    errors.extend(customer_id_problems(document.get("customer_id"), "customer_id"))
    errors.extend(_value_problems(document))
    return errors


def _id_problems(value: Any, path: str) -> Errors:
    """A receipt or store id (a string the schema has checked): not blank and at most MAX_ID_LENGTH long."""
    if not isinstance(value, str):
        return []
    if not value.strip():
        return [(path, "must not be empty")]
    if len(value) > MAX_ID_LENGTH:
        return [(path, f"must be at most {MAX_ID_LENGTH} characters")]
    return []


def _value_problems(document: dict[str, Any]) -> Errors:
    """The currency's form and the amounts' range (64-bit columns)."""
    errors: Errors = []
    currency = document.get("currency")
    if isinstance(currency, str) and not CURRENCY_RE.match(currency):
        errors.append(("currency", "must be a three-letter ISO 4217 code in capitals, e.g. NOK"))
    for amount in ("gross_amount", "net_amount"):
        value = document.get(amount)
        if isinstance(value, int) and not isinstance(value, bool) and not INT8_MIN <= value <= INT8_MAX:
            errors.append((amount, "is out of range"))
    return errors


@dataclass
class Profile:
    document: dict[str, Any]
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    phone: str = ""
    gender: str = ""
    date_of_birth: date | None = None
    status: str = ""
    countries: list[str] = field(default_factory=list)
    cities: list[str] = field(default_factory=list)
    postal_codes: list[str] = field(default_factory=list)
    token_values: list[str] = field(default_factory=list)
    email_consent: bool | None = None
    sms_consent: bool | None = None


@dataclass
class ParsedReceipt:
    index: int
    document: dict[str, Any]
    receipt_id: str
    store_id: str
    customer_id: str | None
    purchase_at: datetime
    currency: str
    gross_amount: int | None
    net_amount: int | None
    entry_status: str
    is_purchase: bool
    item_count: int
    codes: list[tuple[str, str, str]]  # (kind, value, display name), distinct
    profile: Profile | None
    # The document as JSON text when the caller has it already (a line of an import file): stored as is instead of
    # encoding `document` again. PostgreSQL parses either into the same JSONB.
    document_json: str | None = field(default=None, compare=False, repr=False)


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _consent(customer: dict[str, Any], channel: str) -> bool | None:
    entry = (customer.get("marketing_consent") or {}).get(channel)
    if isinstance(entry, dict) and isinstance(entry.get("consent"), bool):
        return entry["consent"]
    return None


def parse_profile(customer: Any) -> Profile | None:
    if not isinstance(customer, dict) or not customer:
        return None
    addresses = [a for a in customer.get("addresses") or [] if isinstance(a, dict)]
    birth = customer.get("date_of_birth")
    try:
        date_of_birth = date.fromisoformat(birth) if isinstance(birth, str) else None
    except ValueError:
        date_of_birth = None
    token = customer.get("token")
    if not isinstance(token, dict):
        token = {}

    def distinct_lower(key: str) -> list[str]:
        return sorted({_text(a.get(key)).lower() for a in addresses if _text(a.get(key))})

    return Profile(
        document=customer,
        first_name=_text(customer.get("first_name")),
        last_name=_text(customer.get("last_name")),
        email=_text(customer.get("email")).lower(),
        phone=_text(customer.get("phone_number")),
        gender=_text(customer.get("gender")).lower(),
        date_of_birth=date_of_birth,
        status=_text(customer.get("status")),
        countries=distinct_lower("country"),
        cities=distinct_lower("postal_place"),
        postal_codes=distinct_lower("postal_code"),
        token_values=[token["value"]] if isinstance(token.get("value"), str) and token["value"] else [],
        email_consent=_consent(customer, "email"),
        sms_consent=_consent(customer, "sms"),
    )


MAKER_KEYS = {"maker", "brand"}


def line_codes(items: Any) -> list[tuple[str, str, str]]:
    """The codes a receipt's lines contribute: items, groups, dimension labels and makers of lines bought.

    Voided lines and returned items are not purchases of that item, so they contribute nothing. A code's name is
    the first one seen (looked up only then: this runs for every line of every receipt stored).
    """
    if not isinstance(items, list):
        return []
    codes: dict[tuple[str, str], str] = {}
    for line in items:
        if isinstance(line, dict) and line.get("voided") is not True and line.get("is_return_item") is not True:
            _add_line_codes(codes, line)
    return [(kind, value, name) for (kind, value), name in codes.items()]


def _add_line_codes(codes: dict[tuple[str, str], str], line: dict[str, Any]) -> None:
    """Add one bought line's codes (those not seen yet) to `codes`: (kind, value) → name."""
    get = line.get
    item_id = get("id")
    if isinstance(item_id, str) and item_id and ("item", item_id) not in codes:
        codes["item", item_id] = _text(get("description"))
    for group in get("groups") or ():
        if isinstance(group, dict):
            group_id = group.get("id")
            if isinstance(group_id, str) and group_id and ("group", group_id) not in codes:
                codes["group", group_id] = _text(group.get("name"))
    dimension = get("dimension")
    if isinstance(dimension, dict):
        _add_labels(codes, dimension)
    extra_info = get("extra_info")
    if extra_info:
        _add_makers(codes, extra_info)


def _add_labels(codes: dict[tuple[str, str], str], dimension: dict[Any, Any]) -> None:
    """A line's `dimension` entries as lower-case key=value labels."""
    for key, value in dimension.items():
        if isinstance(value, str | int | float) and not isinstance(value, bool) and str(value).strip():
            label = f"{str(key).strip().lower()}={str(value).strip().lower()}"
            if ("label", label) not in codes:
                codes["label", label] = ""


def _add_makers(codes: dict[tuple[str, str], str], extra_info: Any) -> None:
    """A line's maker or brand (`extra_info` key `maker`/`brand`), lower-case, named as first written."""
    for info in extra_info:
        if isinstance(info, dict) and str(info.get("key", "")).strip().lower() in MAKER_KEYS:
            maker = _text(info.get("value"))
            if maker and ("maker", maker.lower()) not in codes:
                codes["maker", maker.lower()] = maker


def parse_receipt(index: int, document: dict[str, Any]) -> ParsedReceipt:
    """Extract what we index from a receipt that passed validate_receipt."""
    store = document["store"]
    status = document.get("entry_status") or ""
    items = document.get("items")
    codes = line_codes(items)
    codes.append(("store", store["id"], _text(store.get("name"))))
    purchase_at = parse_datetime(document["purchase_at"])
    assert purchase_at is not None  # validated
    return ParsedReceipt(
        index=index,
        document=document,
        receipt_id=document["receipt_id"],
        store_id=store["id"],
        customer_id=document.get("customer_id") or None,
        purchase_at=purchase_at,
        currency=document.get("currency") or "",
        gross_amount=document.get("gross_amount"),
        net_amount=document.get("net_amount"),
        entry_status=status,
        is_purchase=status not in NON_PURCHASE_STATUSES,
        item_count=len(items) if isinstance(items, list) else 0,
        codes=codes,
        profile=parse_profile(document.get("customer")),
    )


def strip_entity_fields(document: dict[str, Any]) -> dict[str, Any]:
    """Entity fields are the server's: whatever a client sends in them is replaced on output."""
    if any(name in document for name in ENTITY_FIELDS):
        return {k: v for k, v in document.items() if k not in ENTITY_FIELDS}
    return document
