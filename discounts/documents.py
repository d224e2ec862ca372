"""Discount rule documents: validation against the Dintero spec, the columns we extract, the update rules.

Pure functions over dicts; no database access here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from loyalty.api.swagger import Errors, Validator, allow_numeric_mcc, compile_schema, parse_datetime
from loyalty.core.validation import contains_nul, customer_id_problems

SPEC_PATH = Path(__file__).resolve().parent / "spec" / "dintero-discounts.yaml"

# The server's fields: whatever a client sends in them is ignored and replaced on output.
SERVER_FIELDS = frozenset(
    {
        *("id", "created_at", "created_by", "updated_at", "updated_by", "deleted_at", "deleted_by"),  # Entity
        *("type", "statistics", "ref_id", "source_segments"),
    }
)
PUBLIC_EXCLUDED_METADATA_PREFIX = "dintero:exclude:public:"
ANY_CUSTOMER = "*"
NO_CUSTOMER = "/"
WILDCARD_ITEM = "*"
MAX_ID_LENGTH = 255
# One call gives or takes at most this many customers (a few megabytes of JSON, a few seconds of SQL).
MAX_CUSTOMERS_PER_CALL = 100_000


@cache
def spec() -> dict[str, Any]:
    # libyaml's safe loader when present: the same document in a tenth of the time (the first request of each web
    # worker used to wait ~0.5 s for this)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loaded = yaml.load(SPEC_PATH.read_text(), Loader=loader)  # noqa: S506 - a safe loader
    definitions = loaded["definitions"]
    # Erratum: `maxItems: 10` sits on the link object, where it checks nothing; the limit is on the list of links.
    links = definitions["Links"]
    links["maxItems"] = links["items"].pop("maxItems")
    # Erratum: a ref's customer_id "will be null if the ref originated from giving the discount to all customers",
    # yet it is typed as a plain string.
    refs = loaded["paths"]["/accounts/{aid}/discounts/rules/{did}/customers"]["get"]["responses"]["200"]["schema"]
    refs["items"]["allOf"][1]["properties"]["customer_id"]["x-nullable"] = True
    # The requirement definitions are the Receipts API's, and so is their erratum.
    allow_numeric_mcc(definitions)
    return loaded


@cache
def definition_validator(name: str) -> Validator:
    return compile_schema({"$ref": f"#/definitions/{name}"}, spec()["definitions"])


@cache
def body_validator(operation_id: str) -> Validator:
    """The validator of an operation's body parameter, straight from the spec."""
    for item in spec()["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict) and operation.get("operationId") == operation_id:
                (schema,) = [p["schema"] for p in operation["parameters"] if p.get("in") == "body"]
                return compile_schema(schema, spec()["definitions"])
    raise LookupError(operation_id)


# What tills and integrations call many times a second: a web worker compiles these validators when it boots
# (`settings.WSGI_WARM_UP`), not on its first request of each (the Receipt's takes ~0.4 s, the spec ~0.1 s).
HOT_OPERATIONS = (
    "aid_discounts_available_for_receipt_post",
    "aid_discounts_available_for_receipt_post_claim",
    "aid_discounts_events_post",
)


def hot_validators_warm() -> None:
    for operation_id in HOT_OPERATIONS:
        body_validator(operation_id)


def validate_body(operation_id: str, body: Any) -> Errors:
    errors: Errors = []
    body_validator(operation_id)(body, errors)
    return errors


def strip_server_fields(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k not in SERVER_FIELDS}


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def validate_discount(document: Any) -> Errors:
    """Every problem with a Discount document (server fields already stripped), as (path, message)."""
    if not isinstance(document, dict):
        return [("", "must be a discount rule object")]
    errors: Errors = []
    definition_validator("Discount")(document, errors)
    requirement = _dict(document.get("requirement"))
    starts = parse_datetime(requirement.get("purchase_from"))
    ends = parse_datetime(requirement.get("purchase_to"))
    if starts and ends and ends <= starts:
        errors.append(("requirement.purchase_to", "must be after requirement.purchase_from"))
    # The schema marks this `x-anyOf`, which the validator does not read: a code, or {"anything-but": [codes]}.
    for index, currency in enumerate(_list(requirement.get("currencies"))):
        excluded = currency.get("anything-but") if isinstance(currency, dict) else None
        if not isinstance(currency, str) and not (
            isinstance(excluded, list) and all(isinstance(code, str) for code in excluded)
        ):
            errors.append((f"requirement.currencies[{index}]", 'must be a currency code or {"anything-but": [codes]}'))
    reward = _dict(document.get("reward"))
    if "values" in reward and not _list(_dict(requirement.get("item")).get("items")):
        errors.append(("reward.values", "is only available for rules with requirement.item.items"))
    errors.extend(_impossible_values(document, reported={path for path, _ in errors}))
    for index, link in enumerate(_list(document.get("links"))):
        href = _dict(link).get("href")
        if isinstance(href, str) and not _is_uri(href):
            errors.append((f"links[{index}].href", "must be an absolute URI, e.g. https://example.com/image.png"))
    if not errors and contains_nul(document):
        errors.append(("", "text must not contain NUL (\\u0000) characters"))
    return errors


PERCENT_REWARDS = frozenset({"discount_percent", "discount_item_percent"})
# Limitations where -1 means "no limit" (the spec's default) and 0 or below would mean a rule that never applies.
UNLIMITED_OR_POSITIVE = ("discount_reward_usage", "discount_repeat_usage")


def _number(value: Any) -> float | int | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _reward_value_problem(kind: Any, value: Any) -> str | None:
    """What makes a reward value (the rule's or one of its `values` overrides) impossible for its reward type.

    The schema's own `minimum: 1` covers reward.value; the overrides have no bounds in the spec, and a percentage
    above 100 would pay the customer to shop.
    """
    number = _number(value)
    if number is None or not isinstance(kind, str):  # a type of the wrong kind is the schema's error
        return None
    if kind in PERCENT_REWARDS:
        if number > 100:
            return "must be at most 100 (a percentage)"
        if number <= 0:
            return "must be more than 0 (a percentage)"
    elif number < 0:
        return "must be at least 0"
    elif kind == "discount_item_quantity" and not float(number).is_integer():
        return "must be a whole number of items"
    return None


def _impossible_values(document: dict[str, Any], *, reported: set[str]) -> Errors:
    """Values the schema lets through but no merchant could mean: percentages above 100, negative amounts."""
    problems: Errors = []
    reward = _dict(document.get("reward"))
    kind = reward.get("type")
    candidates: list[tuple[str, Any]] = [("reward.value", reward.get("value"))]
    candidates += [
        (f"reward.values[{i}].value", _dict(v).get("value")) for i, v in enumerate(_list(reward.get("values")))
    ]
    for path, value in candidates:
        problem = _reward_value_problem(kind, value)
        if problem and path not in reported:
            problems.append((path, problem))
    requirement = _dict(document.get("requirement"))
    for key in ("gross_amount", "net_amount", "stamp"):
        number = _number(requirement.get(key))
        if number is not None and number < 0:
            problems.append((f"requirement.{key}", "must be at least 0"))
    limitation = _dict(document.get("limitation"))
    for key in UNLIMITED_OR_POSITIVE:
        number = _number(limitation.get(key))
        if number is not None and number != -1 and number < 1:
            problems.append((f"limitation.{key}", "must be at least 1 (or -1 for no limit)"))
    expire = _number(limitation.get("stamp_expire_days"))
    if expire is not None and expire < 1:
        problems.append(("limitation.stamp_expire_days", "must be at least 1"))
    return problems


def _is_uri(value: str) -> bool:
    return bool(urlsplit(value).scheme) and not any(c.isspace() for c in value)


def rule_type(document: dict[str, Any]) -> str:
    """`item` when requirement.item names items or groups (in items or mixes) other than the wildcard `*`."""
    item = _dict(_dict(document.get("requirement")).get("item"))
    entries = list(_list(item.get("items")))
    for mix in _list(item.get("mixes")):
        entries.extend(_list(_dict(mix).get("items")))
    for entry in entries:
        for key in ("id", "group_id"):
            value = _dict(entry).get(key)
            if isinstance(value, str) and value not in ("", WILDCARD_ITEM):
                return "item"
    return "receipt"


@dataclass(frozen=True)
class ParsedRule:
    document: dict[str, Any]
    name: str
    active: bool
    private: bool
    type: str
    purchase_from: datetime
    purchase_to: datetime
    visible_from: datetime | None
    campaign_id: str | None


def parse_rule(document: dict[str, Any]) -> ParsedRule:
    """The columns of a document that passed validate_discount."""
    requirement = document["requirement"]
    purchase_from = parse_datetime(requirement["purchase_from"])
    purchase_to = parse_datetime(requirement["purchase_to"])
    assert purchase_from is not None and purchase_to is not None  # validated
    campaign_id = document.get("campaign_id")
    return ParsedRule(
        document=document,
        name=document.get("name") or "",
        active=document.get("active", True),
        private=document.get("private", False),
        type=rule_type(document),
        purchase_from=purchase_from,
        purchase_to=purchase_to,
        visible_from=parse_datetime(document.get("visible_from")),
        campaign_id=campaign_id if isinstance(campaign_id, str) else None,
    )


# --- updates ----------------------------------------------------------------------------------------------------

# Their PUT schemas are partial (requirement without its dates, reward with only `base`), so these two merge one
# level deep: the keys sent replace the stored ones, the others stay. Every other top-level property is replaced.
MERGED_ON_UPDATE = ("requirement", "reward")


def apply_changes(current: dict[str, Any], changes: dict[str, Any], *, replace: bool) -> dict[str, Any]:
    """The document after a PUT body (`replace=False`) or a whole new document (`replace=True`, the admin)."""
    changes = strip_server_fields(changes)
    if replace:
        updated = dict(changes)
    else:
        updated = {**current, **changes}
        for key in MERGED_ON_UPDATE:
            if isinstance(current.get(key), dict) and isinstance(changes.get(key), dict):
                updated[key] = {**current[key], **changes[key]}
    if updated.get("campaign_id", "") is None:  # null takes the rule out of its campaign
        del updated["campaign_id"]
    return updated


def _reward_without_base(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in _dict(document.get("reward")).items() if k != "base"}


def update_problems(
    *,
    current: dict[str, Any],
    current_type: str,
    changes: dict[str, Any],
    updated: dict[str, Any],
    given: bool,
    start_and_reward_fixed: bool = False,
) -> Errors:
    """What the PUT rules forbid in an update that is otherwise a valid document.

    `requirement.purchase_from` and `reward` (but `reward.base`) are frozen once the rule has been given, or always
    with `start_and_reward_fixed` (Dintero's PUT: "Update of requirement purchase_from and reward is not supported").
    Resending their current values is not a change.
    """
    problems: Errors = []
    if "type" in changes and changes["type"] != current_type:
        problems.append(("type", f"is read-only: it is {current_type}, set by requirement.item"))
    before, after = _dict(current.get("requirement")), _dict(updated.get("requirement"))
    old_to, new_to = parse_datetime(before.get("purchase_to")), parse_datetime(after.get("purchase_to"))
    if old_to and new_to and new_to < old_to:
        problems.append(("requirement.purchase_to", f"can only move later than {before['purchase_to']}"))
    if start_and_reward_fixed:
        why = "is not supported in an update"
    elif given:
        why = "cannot change once the rule has been given to customers"
    else:
        return problems
    old_from, new_from = parse_datetime(before.get("purchase_from")), parse_datetime(after.get("purchase_from"))
    if old_from and new_from and new_from != old_from:
        problems.append(("requirement.purchase_from", f"{why} (it is {before['purchase_from']})"))
    if _reward_without_base(current) != _reward_without_base(updated):
        problems.append(("reward", f"{why} (reward.base can change)"))
    return problems


# --- customers --------------------------------------------------------------------------------------------------


def customer_ids_problems(values: Sequence[Any], path: str = "customers") -> Errors:
    """Customer ids must be non-empty strings of at most 255 characters without leading or trailing spaces."""
    if len(values) > MAX_CUSTOMERS_PER_CALL:
        return [(path, f"must have at most {MAX_CUSTOMERS_PER_CALL} items")]
    problems: Errors = []
    for index, value in enumerate(values):
        if isinstance(value, str) and value and len(value) <= MAX_ID_LENGTH and value == value.strip():
            continue
        item_path = f"{path}[{index}]"
        if not isinstance(value, str):
            problems.append((item_path, "must be a string"))
        elif len(value) > MAX_ID_LENGTH:
            problems.append((item_path, f"must be at most {MAX_ID_LENGTH} characters"))
        else:
            problems.extend(customer_id_problems(value, item_path))
    return problems


def offering_constraint_problems(value: Any) -> Errors:
    path = "offering_constraint_id"
    if value is None:
        return []
    if not isinstance(value, str):
        return [(path, "must be a string")]
    if not value:
        return [(path, "must not be empty (leave it out for no constraint)")]
    if len(value) > MAX_ID_LENGTH:
        return [(path, f"must be at most {MAX_ID_LENGTH} characters")]
    return []


def public_metadata(metadata: Any) -> Any:
    """Metadata as the public endpoints show it: without the keys reserved for private use."""
    if not isinstance(metadata, dict):
        return metadata
    return {k: v for k, v in metadata.items() if not k.startswith(PUBLIC_EXCLUDED_METADATA_PREFIX)}
