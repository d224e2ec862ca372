"""A dry run of one rule over past receipts: the till's evaluator, receipt after receipt in time order, with every
customer's ref use (usage counters, stamps, debit balance) simulated from the replay itself. Pure: no Django, no
database, never the live usage ledger.

The rule is replayed as if each replayed customer had been given it when the period starts, and as if it ran
through the whole period: its own purchase window is replaced by the period (a rule made today can be asked what it
would have cost last quarter); everything else (items, amounts, hours, limits, stamps) is evaluated as the till
evaluates it. It is evaluated on its own: competition with the account's other rules is not replayed.
"""

from __future__ import annotations

import copy
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, tzinfo
from fractions import Fraction
from typing import Any

from discounts.evaluation import Candidate, Status, evaluate, parse_basket
from discounts.evaluation.answer import reason
from discounts.evaluation.conditions import Check, static_plan
from discounts.evaluation.model import Basket, Line, as_dict, as_list, parse_at
from discounts.evaluation.resolve import evaluate_alone
from discounts.usage_state import UNUSED, RefUsage

TOP_ITEMS = 10
SIMULATED_REF = "simulated"
QUANTITIES = {n: Fraction(n) for n in range(1, 100)}  # the common quantities, as `parse_basket` reads them
_new = object.__new__


def _frozen(cls: type, **fields: Any) -> Any:
    """A frozen dataclass without its __init__, which sets each field through object.__setattr__: a third of the
    cost of reading a receipt's lines. Only for plain dataclasses (no slots, no __post_init__)."""
    made: Any = _new(cls)
    made.__dict__.update(fields)
    return made


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _lean_line(index: int, item: dict[str, Any]) -> Line | None:
    """The line as `parse_basket` reads it, for an item of the common shape (an int line_id and gross_amount, a
    whole or decimal quantity, no discount lines); None for any other."""
    get = item.get
    line_id, gross, quantity = get("line_id"), get("gross_amount"), get("quantity", 1)
    if line_id.__class__ is not int or line_id < 0 or gross.__class__ is not int or "discount_lines" in item:
        return None
    if quantity.__class__ is float:
        quantity = Fraction(str(quantity))
    elif (quantity := QUANTITIES.get(quantity) if quantity.__class__ is int else None) is None:
        return None
    groups = get("groups")
    if groups.__class__ is list and len(groups) == 1 and (one := groups[0]).__class__ is dict:
        groups = (str(one["id"]),) if "id" in one else ()
    else:
        groups = tuple(str(g["id"]) for g in as_list(groups) if isinstance(g, dict) and "id" in g)
    item_id = get("id")
    return _frozen(
        Line,
        index=index,
        line_id=line_id,
        item_id=item_id if isinstance(item_id, str) else None,
        groups=groups,
        quantity=quantity,
        gross=gross,
        net=gross,
        eligible=get("eligible_for_discount") is True and gross > 0,
        discounted=False,
    )


def basket_read(receipt: dict[str, Any]) -> Basket:
    """`parse_basket(receipt)`, faster for receipts whose items all have the common shape (as the dataset's and
    most tills' have); any other receipt is read by `parse_basket` itself."""
    items = receipt.get("items")
    lines = []
    for index, item in enumerate(as_list(items)):
        line = _lean_line(index, item) if item.__class__ is dict else None
        if line is None:
            return parse_basket(receipt)
        lines.append(line)
    purchase_at = parse_at(receipt.get("purchase_at"))
    if purchase_at is None:
        return parse_basket(receipt)  # which says what is wrong
    given = receipt.get("discount_code")
    codes = {str(code).casefold() for code in given} if isinstance(given, list) else set()
    codes.update([line.item_id.casefold() for line in lines if line.item_id])
    customer_id, currency = receipt.get("customer_id"), receipt.get("currency")
    gross, net = receipt.get("gross_amount"), receipt.get("net_amount")
    return _frozen(
        Basket,
        purchase_at=purchase_at,
        customer_id=customer_id if isinstance(customer_id, str) and customer_id else None,
        customer=as_dict(receipt.get("customer")),
        store=as_dict(receipt.get("store")),
        currency=currency if isinstance(currency, str) else None,
        codes=frozenset(codes),
        gross_amount=gross if _whole(gross) else sum(line.gross for line in lines),
        net_amount=net if _whole(net) else sum(line.net for line in lines),
        lines=tuple(lines),
    )


def simulated_document(document: dict[str, Any], *, start: datetime, end: datetime) -> dict[str, Any]:
    requirement = {**(document.get("requirement") or {})}
    requirement.update(purchase_from=_iso(start), purchase_to=_iso(end))
    return {**document, "requirement": requirement}


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def used(usage: RefUsage, *, at: datetime, discount: int, bonus: int, rewards: int, stamps: int) -> RefUsage:
    """The ref's use after one more purchase used it (as the usage ledger would count it: a rewarded purchase
    spends the stamps collected until then, its own included)."""
    return _frozen(  # once per applied receipt
        RefUsage,
        purchases=usage.purchases + 1,
        usage=usage.usage + rewards,
        amount=usage.amount + discount,
        bonus=usage.bonus + bonus,
        stamp=usage.stamp + stamps,
        stamps=() if rewards > 0 else (*usage.stamps, (at, stamps)) if stamps > 0 else usage.stamps,
        debit_used=usage.debit_used + discount,
    )


def _counted_in_order(
    counter: Counter[str], first: dict[str, tuple], parts: list[tuple[Counter[str], dict[str, tuple]]]
) -> None:
    """Each key's counts added up into `counter`, keys in the order of their first place in any part."""
    for part_first in (found for _, found in parts):
        for key, place in part_first.items():
            if key not in first or place < first[key]:
                first[key] = place
    for key in sorted(first, key=first.__getitem__):
        counter[key] += sum(counts[key] for counts, _ in parts)


def _day() -> list[int]:
    return [0, 0]


@dataclass
class Replay:
    """A replay's counters. `replay` is the straightforward step, the till's own reading and evaluation;
    `replay_lean` gives the same counts faster and keeps what `merge` needs to add partial replays up as one."""

    rule_id: str
    rule_type: str
    rule_created_at: datetime
    document: dict[str, Any]  # already `simulated_document`
    given_at: datetime
    tz: tzinfo
    usage: dict[str, RefUsage] = field(default_factory=dict)
    receipts: int = 0
    applied: int = 0
    cost: int = 0
    bonus: int = 0
    customers: set[str] = field(default_factory=set)  # those it applied to
    seen: set[str] = field(default_factory=set)  # every customer replayed
    per_day: dict[str, list[int]] = field(default_factory=lambda: defaultdict(_day))  # day → [receipts, cost]
    items: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    # the place in the time order where each item and reason was first counted (`replay_lean`), for `merge`
    items_first: dict[str, tuple] = field(default_factory=dict)
    reasons_first: dict[str, tuple] = field(default_factory=dict)
    _prototype: Candidate | None = field(default=None, repr=False)
    _current: Candidate | None = field(default=None, repr=False)
    _static: Check | None = field(default=None, repr=False)

    def candidate(self, customer_id: str) -> Candidate:
        """The customer's simulated ref: a copy of one prototype, so the rule's parsed fields (its cached
        properties) are parsed once per replay, not once per receipt."""
        if self._prototype is None:
            self._prototype = Candidate(
                rule_id=self.rule_id,
                ref_id=SIMULATED_REF,
                ref_customer_id=SIMULATED_REF,
                rule_type=self.rule_type,
                rule_created_at=self.rule_created_at,
                ref_created_at=self.given_at,
                document=self.document,
            )
            for parsed in ("body", "requirement", "limitation", "reward", "value"):
                getattr(self._prototype, parsed)
        candidate = copy.copy(self._prototype)
        object.__setattr__(candidate, "ref_id", f"{SIMULATED_REF}:{customer_id}")
        object.__setattr__(candidate, "ref_customer_id", customer_id)
        object.__setattr__(candidate, "usage", self.usage.get(customer_id, UNUSED))
        return candidate

    def replay(self, receipt: dict[str, Any], customer_id: str) -> None:
        """One receipt of `customer_id`, in time order after every earlier one."""
        self.receipts += 1
        self.seen.add(customer_id)
        candidate = self.candidate(customer_id)
        basket = parse_basket(receipt)
        evaluation = evaluate(basket, [candidate])
        verdict = evaluation.verdicts[0]
        if verdict.status != Status.APPLIED or not evaluation.awards:
            self.reasons[verdict.path or "not_applicable"] += 1
            return
        award = evaluation.awards[0]
        discount, bonus = (0, award.total) if award.bonus else (award.total, 0)
        self.usage[customer_id] = used(
            candidate.usage,
            at=basket.purchase_at,
            discount=discount,
            bonus=bonus,
            rewards=award.usage,
            stamps=award.stamp,
        )
        self.applied += 1
        self.cost += discount
        self.bonus += bonus
        self.customers.add(customer_id)
        day = self.per_day[basket.purchase_at.astimezone(self.tz).date().isoformat()]
        day[0] += 1
        day[1] += discount
        for index, amount in award.lines.items():
            line = basket.lines[index]
            self.items[line.item_id or f"line {line.line_id}"] += amount

    def replay_lean(self, receipt: dict[str, Any], customer_id: str, place: tuple) -> None:
        """`replay`, faster: the receipt read by `basket_read`, the rule evaluated by `evaluate_alone` with its
        `static_plan`, one candidate object given each customer's ref and usage in turn. `place` orders this receipt
        among all those replayed."""
        self.receipts += 1
        self.seen.add(customer_id)
        candidate = self._current
        if candidate is None or self._static is None:
            candidate = self._current = self.candidate(customer_id)
            self._static = static_plan(candidate)
        # one candidate, the customer's ref for the time of this receipt (what `candidate` would copy)
        object.__setattr__(candidate, "ref_id", f"{SIMULATED_REF}:{customer_id}")
        object.__setattr__(candidate, "ref_customer_id", customer_id)
        object.__setattr__(candidate, "usage", self.usage.get(customer_id, UNUSED))
        basket = basket_read(receipt)
        outcome = evaluate_alone(basket, candidate, self._static)
        if isinstance(outcome, str):
            self.reasons[outcome] += 1
            if outcome not in self.reasons_first:
                self.reasons_first[outcome] = place
            return
        discount, bonus = (0, outcome.total) if outcome.bonus else (outcome.total, 0)
        usage = used(
            candidate.usage, at=basket.purchase_at, discount=discount, bonus=bonus, rewards=outcome.usage,
            stamps=outcome.stamp,
        )  # fmt: skip
        self.usage[customer_id] = usage
        self.applied += 1
        self.cost += discount
        self.bonus += bonus
        self.customers.add(customer_id)
        day = self.per_day[basket.purchase_at.astimezone(self.tz).date().isoformat()]
        day[0] += 1
        day[1] += discount
        items, first, lines = self.items, self.items_first, basket.lines
        for n, (index, amount) in enumerate(outcome.lines.items()):
            line = lines[index]
            key = line.item_id or f"line {line.line_id}"
            items[key] += amount
            if key not in first:
                first[key] = (place, n)

    def partial(self) -> Replay:
        """What `merge` needs of this replay, without the per-customer state."""
        return replace(self, usage={}, _current=None, _prototype=None, _static=None, per_day=dict(self.per_day))

    def merge(self, parts: Iterable[Replay]) -> None:
        """Add up replays of disjoint sets of customers (each in time order) as if one replay had run them all:
        counters add up, and items and reasons are counted in the order a single replay would first have met them
        (which decides the order of ties in `result`)."""
        parts = list(parts)
        for part in parts:
            self.receipts += part.receipts
            self.applied += part.applied
            self.cost += part.cost
            self.bonus += part.bonus
            self.customers |= part.customers
            self.seen |= part.seen
            for date, (receipts, cost) in part.per_day.items():
                self.per_day[date][0] += receipts
                self.per_day[date][1] += cost
        _counted_in_order(self.items, self.items_first, [(part.items, part.items_first) for part in parts])
        _counted_in_order(self.reasons, self.reasons_first, [(part.reasons, part.reasons_first) for part in parts])

    def result(self) -> dict[str, Any]:
        return {
            "receipts_evaluated": self.receipts,
            "receipts_applied": self.applied,
            "customers_applied": len(self.customers),
            "customers_evaluated": len(self.seen),
            "cost": self.cost,
            "bonus": self.bonus,
            "per_day": [
                {"date": day, "receipts": receipts, "cost": cost}
                for day, (receipts, cost) in sorted(self.per_day.items())
            ],
            "top_items": [{"item_id": item, "cost": cost} for item, cost in self.items.most_common(TOP_ITEMS)],
            "not_applied": [
                {"reason": path, "description": reason(path), "receipts": count}
                for path, count in self.reasons.most_common()
            ],
        }
