"""Plain words for the condition paths the discount engine reports in `explain[]` (its `condition`). The API keeps
the path (integrators read it); a merchant reads these words, so they live in the page layer."""

from __future__ import annotations

import re

WORDS = {
    "requirement.purchase_from": "The purchase is before the rule starts",
    "requirement.purchase_to": "The purchase is after the rule ends",
    "requirement.currencies": "The rule is for another currency",
    "requirement.discount_code": "The purchase does not have the rule's discount code",
    "requirement.gross_amount": "The purchase is below the rule's lowest amount",
    "requirement.net_amount": "The purchase (after discounts) is below the rule's lowest amount",
    "requirement.item.items": "The basket has none of the rule's items",
    "requirement.item.quantity": "The basket has too few of the rule's items",
    "requirement.store_ids": "The rule is not for this store",
    "requirement.store.mcc": "The rule is not for this kind of store (MCC)",
    "requirement.store.mcc_ranges": "The rule is not for this kind of store (MCC)",
    "limitation.dynamic_purchase_to_days": "The customer's time to use it after receiving it has run out",
    "limitation.discount_repeat_usage": "The customer has used it as many times as the rule allows",
    "limitation.discount_hours": "Outside the rule's opening hours",
    "limitation.discount_hours.timezone": "The rule's hours name an unknown time zone",
    "limitation.discount_activation": "Another discount on this purchase switches it off",
    "limitation.discount_combination": "A combination that saves the customer more applies instead",
    "limitation.discount_eligible": "No item may be discounted (or the purchase already has a discount)",
    "limitation.blacklist": "Every matching item is excluded by the rule",
    "items.eligible_for_discount": "No matching item may be discounted or has an amount",
    "reward.value": "The reward gives nothing on this purchase",
    "reward.debit_balance": "The balance of this discount is used up",
    "ref": "The same rule applies through another of the customer's grants",
}
PREFIXES = (
    (re.compile(r"^requirement\.item\.mixes\[\d+\]$"), "The basket lacks an item of one of the rule's mixes"),
    (re.compile(r"^requirement\.customer\."), "The customer does not match the rule's customer conditions"),
    (re.compile(r"^requirement\.store\."), "The store does not match the rule's store conditions"),
)


def condition_words(path: str | None) -> str:
    """Words for a failed condition; a path the engine may report in future keeps a generic sentence."""
    if not path:
        return ""
    if path in WORDS:
        return WORDS[path]
    for pattern, words in PREFIXES:
        if pattern.match(path):
            return words
    return "The purchase does not meet one of the rule's conditions"
