"""Does the receipt meet one requirement field? Each function answers the path of what failed, or None.

Field by field, as `discounts/README.md` ("Evaluation at the till") states: within a field any listed value
matches (OR), across fields all must (AND); strings compare exactly, but discount codes ignore case.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from discounts.evaluation.model import Basket, Line, as_dict, as_list

WILDCARD = "*"
ANY_ITEM = "ANY_ITEM"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_TIMEZONE = "Europe/Oslo"


def item_matches(entry: Any, line: Line) -> bool:
    """`{id, group_id}`: each one given must match (`*` and `ANY_ITEM` match any item; a group matches any of the
    item's groups). An entry naming neither matches nothing."""
    entry = as_dict(entry)
    item_id, group_id = entry.get("id"), entry.get("group_id")
    if item_id is None and group_id is None:
        return False
    if item_id is not None and item_id not in (WILDCARD, ANY_ITEM) and item_id != line.item_id:
        return False
    return group_id is None or group_id == WILDCARD or group_id in line.groups


def any_item_matches(entries: Iterable[Any], line: Line) -> bool:
    # the evaluator asks this of every line for every item rule: a loop costs less than any() over a generator
    for entry in entries:  # noqa: SIM110
        if item_matches(entry, line):
            return True
    return False


def _text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    return None


def _allowed(values: Any, actual: Any) -> bool:
    text = _text(actual)
    return text is not None and text in {_text(v) for v in as_list(values)}


def _all_properties(wanted: dict[str, Any], actual: dict[str, Any]) -> str | None:
    """The first property of `wanted` whose values do not include actual's, or None."""
    for key, values in wanted.items():
        if not _allowed(values, actual.get(key)):
            return key
    return None


def _customer_field(name: str, wanted: Any, customer: dict[str, Any]) -> bool:
    if name == "addresses":
        filters = [as_dict(entry) for entry in as_list(wanted)]
        places = [as_dict(a) for a in as_list(customer.get("addresses"))]
        return any(_all_properties(f, place) is None for f in filters for place in places)
    if name in ("company", "enrolled_by", "term"):
        return _all_properties(as_dict(wanted), as_dict(customer.get(name))) is None
    if name == "marketing_consent":
        channels = as_dict(wanted)
        consent = as_dict(customer.get(name))
        return all(
            _allowed(as_dict(c).get("consent"), as_dict(consent.get(k)).get("consent")) for k, c in channels.items()
        )
    if name == "attributes":
        # Receipt.customer has no `attributes`: its `metadata` is where a POS puts them
        held = as_dict(customer.get("attributes")) or as_dict(customer.get("metadata"))
        return _all_properties(as_dict(wanted), held) is None
    return _allowed(wanted, customer.get(name))


def customer_problem(requirement: dict[str, Any], basket: Basket) -> str | None:
    for name, wanted in as_dict(requirement.get("customer")).items():
        if not _customer_field(name, wanted, basket.customer):
            return f"requirement.customer.{name}"
    return None


def _mcc(value: Any) -> int | None:
    text = _text(value)
    return int(text) if text and text.isdigit() else None


def _mcc_matches(wanted: dict[str, Any], store: dict[str, Any]) -> bool:
    mcc = _mcc(store.get("mcc"))
    if "mcc" in wanted and _allowed(wanted["mcc"], store.get("mcc")):
        return True
    for bounds in as_list(wanted.get("mcc_ranges")):
        start, end = _mcc(as_dict(bounds).get("start")), _mcc(as_dict(bounds).get("end"))
        if mcc is not None and start is not None and end is not None and start <= mcc <= end:
            return True
    return False


def store_problem(requirement: dict[str, Any], basket: Basket) -> str | None:
    store = basket.store
    if "store_ids" in requirement and not _allowed(requirement["store_ids"], store.get("id")):
        return "requirement.store_ids"
    wanted = as_dict(requirement.get("store"))
    for name, values in wanted.items():
        if name in ("mcc", "mcc_ranges"):
            continue
        if name == "address":
            missing = _all_properties(as_dict(values), as_dict(store.get("address")))
            if missing:
                return f"requirement.store.address.{missing}"
        elif not _allowed(values, store.get(name)):
            return f"requirement.store.{name}"
    if ("mcc" in wanted or "mcc_ranges" in wanted) and not _mcc_matches(wanted, store):
        return "requirement.store.mcc_ranges" if "mcc_ranges" in wanted else "requirement.store.mcc"
    return None


def currency_matches(currencies: list[Any], currency: str | None) -> bool:
    """Codes listed: one of them; `{"anything-but": [...]}`: none of those."""
    if currency is None:
        return False
    codes = [c for c in currencies if isinstance(c, str)]
    excluded = {code for c in currencies for code in as_list(as_dict(c).get("anything-but"))}
    return (not codes or currency in codes) and currency not in excluded


def _clock(value: Any) -> time | None:
    try:
        hours, minutes = str(value).split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        return None


def _period_covers(period: dict[str, Any], local: datetime) -> bool:
    """`day` from `start` (inclusive) to `end` (exclusive) in local wall-clock time; an `end` at or before `start`
    runs past midnight into the next day."""
    start, end, day = _clock(period.get("start")), _clock(period.get("end")), period.get("day")
    if start is None or end is None or day not in DAYS:
        return False
    today = DAYS[local.weekday()]
    yesterday = DAYS[(local - timedelta(days=1)).weekday()]
    now = local.time().replace(second=0, microsecond=0, tzinfo=None)
    if start < end:
        return day == today and start <= now < end
    return (day == today and now >= start) or (day == yesterday and now < end)


def hours_problem(limitation: dict[str, Any], at: datetime) -> str | None:
    hours = as_dict(limitation.get("discount_hours"))
    periods = as_list(hours.get("hours"))
    if not hours or not periods:
        return None
    try:
        zone = ZoneInfo(str(hours.get("timezone") or DEFAULT_TIMEZONE))
    except (ZoneInfoNotFoundError, ValueError):
        return "limitation.discount_hours.timezone"
    local = at.astimezone(zone)
    if any(_period_covers(as_dict(period), local) for period in periods):
        return None
    return "limitation.discount_hours"
