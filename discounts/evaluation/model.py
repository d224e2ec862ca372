"""The evaluator's view of a receipt and of its candidate refs: typed, read once from the API's dicts.

Pure: no Django, no database. `Basket.parse` reads a Dintero `Receipt` (already validated against the spec);
`Candidate` is one live ref with its rule's Discount document, as `discounts.selectors.till` loads it, or as a dry
run builds it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from functools import cached_property
from typing import Any

from discounts.usage_state import UNUSED, RefUsage

ANY_CUSTOMER = "*"
NO_CUSTOMER = "/"


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def parse_at(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


@dataclass(frozen=True)
class Line:
    """One receipt item. `net` is the gross less the discount lines the receipt already carries."""

    index: int  # position in receipt.items
    line_id: int
    item_id: str | None
    groups: tuple[str, ...]
    quantity: Fraction
    gross: int
    net: int
    eligible: bool  # eligible_for_discount is true and gross_amount is positive
    discounted: bool  # it already carries discount lines

    @property
    def units(self) -> int:
        """Whole units for per-item rewards: a scale item (a fraction of a unit) is one unit of its amount."""
        return max(1, math.floor(self.quantity)) if self.quantity >= 1 else 1


@dataclass(frozen=True)
class Basket:
    purchase_at: datetime
    customer_id: str | None
    customer: dict[str, Any]
    store: dict[str, Any]
    currency: str | None
    codes: frozenset[str]  # discount codes (case-folded), from `discount_code` and items' ids
    gross_amount: int
    net_amount: int
    lines: tuple[Line, ...]

    @property
    def discounted(self) -> bool:
        return any(line.discounted for line in self.lines)


@dataclass(frozen=True)
class Candidate:
    """One live ref of a live, active rule that the receipt's customer holds (or `*` / `/` holds)."""

    rule_id: str
    ref_id: str
    ref_customer_id: str  # the customer, `*` or `/`
    rule_type: str  # item / receipt, as the rule's column says
    rule_created_at: datetime
    ref_created_at: datetime
    document: dict[str, Any]  # the rule's Discount as stored
    usage: RefUsage = field(default=UNUSED)
    # the Discount as the API shows it, asked only for the rules that apply (default: the document with id, type)
    present: Callable[[], dict[str, Any]] | None = field(default=None, compare=False, repr=False)

    @cached_property
    def body(self) -> dict[str, Any]:
        if self.present is not None:
            return self.present()
        return {**self.document, "id": self.rule_id, "type": self.rule_type}

    @cached_property
    def requirement(self) -> dict[str, Any]:
        return as_dict(self.document.get("requirement"))

    @cached_property
    def limitation(self) -> dict[str, Any]:
        return as_dict(self.document.get("limitation"))

    @cached_property
    def reward(self) -> dict[str, Any]:
        return as_dict(self.document.get("reward"))

    @cached_property
    def value(self) -> Fraction:
        """`reward.value` as an exact number (0 when it is not a number)."""
        value = self.reward.get("value")
        return Fraction(str(value)) if isinstance(value, int | float) and not isinstance(value, bool) else Fraction(0)

    @property
    def shared(self) -> bool:
        return self.ref_customer_id in (ANY_CUSTOMER, NO_CUSTOMER)

    def limit(self, name: str) -> int:
        """A limitation given as an integer, -1 (none) when absent."""
        value = self.limitation.get(name, -1)
        return value if isinstance(value, int) and not isinstance(value, bool) else -1

    @property
    def exclusive(self) -> bool:
        return self.limit("discount_combination") == 0

    @property
    def order_key(self) -> tuple[datetime, str]:
        return (self.rule_created_at, self.rule_id)


def _quantity(value: Any) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return Fraction(1)
    return Fraction(str(value))


def _int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _line(index: int, item: dict[str, Any], line_id: int, ignored_rules: frozenset[str]) -> Line:
    gross = _int(item.get("gross_amount"))
    existing = sum(
        _int(as_dict(entry).get("amount"))
        for entry in as_list(item.get("discount_lines"))
        if as_dict(entry).get("discount_id") not in ignored_rules
    )
    groups = tuple(str(g["id"]) for g in as_list(item.get("groups")) if isinstance(g, dict) and "id" in g)
    return Line(
        index=index,
        line_id=line_id,
        item_id=item["id"] if isinstance(item.get("id"), str) else None,
        groups=groups,
        quantity=_quantity(item.get("quantity", 1)),
        gross=gross,
        net=gross - existing,
        eligible=item.get("eligible_for_discount") is True and gross > 0,
        discounted=existing > 0,
    )


def line_ids(items: list[Any]) -> list[int]:
    """Each item's line_id; an item without one gets the next number after the largest given (in order)."""
    given = [_int(as_dict(item).get("line_id"), -1) for item in items]
    next_id = max([0, *given]) + 1
    found = []
    for value in given:
        if value < 0:
            value, next_id = next_id, next_id + 1
        found.append(value)
    return found


def parse_basket(receipt: dict[str, Any], *, ignored_rules: frozenset[str] = frozenset()) -> Basket:
    """The receipt as the evaluator reads it. Discount lines of `ignored_rules` (the candidates themselves: a
    receipt sent back with an earlier answer's lines) are not counted as existing discounts."""
    items = [as_dict(item) for item in as_list(receipt.get("items"))]
    ids = line_ids(items)
    lines = tuple(_line(n, item, ids[n], ignored_rules) for n, item in enumerate(items))
    codes = {str(code).casefold() for code in as_list(receipt.get("discount_code"))}
    codes |= {line.item_id.casefold() for line in lines if line.item_id}
    customer_id = receipt.get("customer_id")
    gross = receipt.get("gross_amount")
    net = receipt.get("net_amount")
    purchase_at = parse_at(receipt.get("purchase_at"))
    if purchase_at is None:
        raise ValueError("purchase_at must be a date-time with a timezone")
    return Basket(
        purchase_at=purchase_at,
        customer_id=customer_id if isinstance(customer_id, str) and customer_id else None,
        customer=as_dict(receipt.get("customer")),
        store=as_dict(receipt.get("store")),
        currency=receipt.get("currency") if isinstance(receipt.get("currency"), str) else None,
        codes=frozenset(codes),
        gross_amount=_int(gross, sum(line.gross for line in lines)),
        net_amount=_int(net, sum(line.net for line in lines)),
        lines=lines,
    )
