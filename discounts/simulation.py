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
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from discounts.evaluation import Candidate, Status, evaluate, parse_basket
from discounts.evaluation.answer import reason
from discounts.usage_state import UNUSED, RefUsage

TOP_ITEMS = 10
SIMULATED_REF = "simulated"


def simulated_document(document: dict[str, Any], *, start: datetime, end: datetime) -> dict[str, Any]:
    requirement = {**(document.get("requirement") or {})}
    requirement.update(purchase_from=_iso(start), purchase_to=_iso(end))
    return {**document, "requirement": requirement}


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def used(usage: RefUsage, *, at: datetime, discount: int, bonus: int, rewards: int, stamps: int) -> RefUsage:
    """The ref's use after one more purchase used it (as the usage ledger would count it: a rewarded purchase
    spends the stamps collected until then, its own included)."""
    return RefUsage(
        purchases=usage.purchases + 1,
        usage=usage.usage + rewards,
        amount=usage.amount + discount,
        bonus=usage.bonus + bonus,
        stamp=usage.stamp + stamps,
        stamps=() if rewards > 0 else (*usage.stamps, (at, stamps)) if stamps > 0 else usage.stamps,
        debit_used=usage.debit_used + discount,
    )


@dataclass
class Replay:
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
    per_day: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))  # day → [receipts, cost]
    items: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    _prototype: Candidate | None = field(default=None, repr=False)

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
