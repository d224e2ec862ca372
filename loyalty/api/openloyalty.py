"""Open Loyalty's list conventions: `_page`, `_itemsOnPage`, `_orderBy[field]=asc|desc`, and filter errors."""

from __future__ import annotations

import re
from dataclasses import dataclass

from loyalty.api.errors import OpenLoyaltyError, ol_field_error

ORDER_PARAM = re.compile(r"^_orderBy\[(?P<field>[^\]]*)\]$")


@dataclass(frozen=True)
class Paging:
    page: int
    per_page: int
    ordering: list[str]


def _int(value: str | None, name: str, default: int, lo: int, hi: int | None, errors: list) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        errors.append(ol_field_error(name, "This value should be a whole number.", "invalid"))
        return default
    if number < lo or (hi is not None and number > hi):
        bound = f"between {lo} and {hi}" if hi is not None else f"{lo} or more"
        errors.append(ol_field_error(name, f"This value should be {bound}.", "out_of_range"))
        return default
    return number


def paging(query, *, order_fields: dict[str, str], default_order: list[str]) -> Paging:
    """`order_fields` maps API names to model fields; anything else is a 400 naming the parameter."""
    errors: list = []
    page = _int(query.get("_page"), "_page", 1, 1, 1_000_000, errors)
    per_page = _int(query.get("_itemsOnPage"), "_itemsOnPage", 10, 1, 50, errors)
    ordering: list[str] = []
    for key in query:
        match = ORDER_PARAM.match(key)
        if key.startswith("_orderBy") and not match:
            errors.append(ol_field_error(key, "Use _orderBy[field]=asc or desc.", "invalid"))
            continue
        if not match:
            continue
        field, direction = match.group("field"), query.get(key, "").lower()
        if field not in order_fields:
            errors.append(
                ol_field_error(
                    key,
                    f"Sorting by {field!r} is not possible; use one of: {', '.join(order_fields)}.",
                    "invalid_choice",
                )
            )
        elif direction not in ("asc", "desc"):
            errors.append(ol_field_error(key, "The direction should be asc or desc.", "invalid_choice"))
        else:
            ordering.append(("-" if direction == "desc" else "") + order_fields[field])
    if errors:
        raise OpenLoyaltyError(400, "Invalid query parameters.", errors)
    return Paging(page=page, per_page=per_page, ordering=ordering or default_order)


def filter_errors(form_errors) -> OpenLoyaltyError:
    errors = [
        ol_field_error(field, str(message), "invalid")
        for field, messages in form_errors.items()
        for message in messages
    ]
    return OpenLoyaltyError(400, "Invalid filters.", errors)
