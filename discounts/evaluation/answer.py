"""The evaluation written back onto the Dintero `Receipt`, and the `explain[]` of our `?explain=true`."""

from __future__ import annotations

from typing import Any

from discounts.evaluation.model import Basket, Candidate, Line, as_dict, as_list
from discounts.evaluation.resolve import Evaluation, Status, Verdict
from discounts.evaluation.rewards import Award, line_value

PERCENT_TYPES = frozenset({"discount_percent", "discount_item_percent"})
REASONS = {
    "requirement.purchase_from": "the purchase is before the rule starts",
    "requirement.purchase_to": "the purchase is after the rule ends",
    "limitation.dynamic_purchase_to_days": "the customer's time to use it after receiving it has run out",
    "limitation.discount_repeat_usage": "the ref is used up (discount_repeat_usage)",
    "limitation.discount_hours": "the purchase is outside the rule's hours",
    "limitation.discount_hours.timezone": "the rule's hours name an unknown timezone",
    "limitation.discount_activation": "another discount for this purchase deactivates it",
    "limitation.discount_combination": "a combination that saves the customer more applies instead",
    "limitation.discount_eligible": "no item is eligible (the rule wants items or a receipt without discounts)",
    "limitation.blacklist": "every matching item is on the rule's blacklist",
    "items.eligible_for_discount": "no matching item has eligible_for_discount and a positive gross_amount",
    "reward.value": "the reward gives nothing on this receipt",
    "reward.debit_balance": "the debit balance is used up",
    "ref": "another ref of the same rule applies",
}


def reason(path: str | None) -> str | None:
    if path is None:
        return None
    if path in REASONS:
        return REASONS[path]
    return f"the receipt does not meet {path}"


def _discount_type(candidate: Candidate) -> str:
    return "periodic" if candidate.shared else "customer"


def _line_entry(award: Award, line: Line, amount: int) -> dict[str, Any]:
    candidate = award.candidate
    entry: dict[str, Any] = {
        ("bonus" if award.bonus else "amount"): amount,
        "discount_type": _discount_type(candidate),
        "discount_id": candidate.rule_id,
        "description": str(candidate.document.get("name") or ""),
        "line_id": line.line_id,
    }
    if candidate.reward.get("type") in PERCENT_TYPES:
        entry["percentage"] = float(line_value(candidate, line))
    return entry


def _statistics(award: Award) -> dict[str, int]:
    past = award.candidate.usage
    amount = 0 if award.bonus else award.total
    bonus = award.total if award.bonus else 0
    statistics = {
        "amount": past.amount + amount,
        "bonus": past.bonus + bonus,
        "stamp": past.stamp + award.stamp,
        "usage": past.usage + award.usage,
    }
    if award.candidate.reward.get("type") == "discount_debit":
        value = award.candidate.reward.get("value")
        statistics["debit_balance"] = max(0, int(value) - past.debit_used - amount) if isinstance(value, int) else 0
    return statistics


def _discount(award: Award, basket: Basket) -> dict[str, Any]:
    candidate = award.candidate
    items = [
        {"line_id": basket.lines[index].line_id, ("bonus" if award.bonus else "amount"): amount}
        for index, amount in sorted(award.lines.items())
    ]
    ref = {
        "id": candidate.ref_id,
        "amount": 0 if award.bonus else award.total,
        "bonus": award.total if award.bonus else 0,
        "stamp": award.stamp,
        "usage": award.usage,
        "items": items,
        "statistics": _statistics(award),
    }
    return {**candidate.body, "refs": [ref]}


def _without(entries: Any, ignored: frozenset[str]) -> list[Any]:
    return [entry for entry in as_list(entries) if as_dict(entry).get("discount_id") not in ignored]


def receipt_answer(
    receipt: dict[str, Any], basket: Basket, evaluation: Evaluation, *, ignored: frozenset[str]
) -> dict[str, Any]:
    """The receipt with the new discount and bonus lines, `is_changed`, and `discounts[]`: the discounts this
    evaluation gives, replacing whatever the receipt listed (lines of `ignored` rules, an earlier answer's, are
    replaced too; other discount lines stay)."""
    items = [dict(as_dict(item)) for item in as_list(receipt.get("items"))]
    for item in items:
        for key in ("discount_lines", "bonus_lines"):
            if key in item:
                item[key] = _without(item[key], ignored)
    for award in evaluation.awards:
        key = "bonus_lines" if award.bonus else "discount_lines"
        for index, amount in sorted(award.lines.items()):
            line = basket.lines[index]
            item = items[index]
            item[key] = [*as_list(item.get(key)), _line_entry(award, line, amount)]
            item["line_id"] = line.line_id
            if not award.bonus:
                item["is_changed"] = True
    answer = {**receipt, "discounts": [_discount(award, basket) for award in evaluation.awards]}
    if "items" in receipt:
        answer["items"] = items
    answer["is_changed"] = bool(evaluation.awards)
    return answer


def _explained(verdict: Verdict, amounts: dict[str, Award]) -> dict[str, Any]:
    candidate = verdict.candidate
    entry: dict[str, Any] = {
        "discount_id": candidate.rule_id,
        "ref_id": candidate.ref_id,
        "name": str(candidate.document.get("name") or ""),
        "customer_id": candidate.ref_customer_id,
        "status": str(verdict.status),
        "condition": verdict.path,
        "reason": reason(verdict.path),
    }
    if verdict.status == Status.OVERSHADOWED:
        entry["overshadowed_by"] = verdict.by
    award = amounts.get(candidate.ref_id)
    if award is not None:
        entry.update(amount=0 if award.bonus else award.total, bonus=award.total if award.bonus else 0)
        entry["stamp"], entry["usage"] = award.stamp, award.usage
    return entry


def explain(evaluation: Evaluation) -> list[dict[str, Any]]:
    """Every candidate ref: applied, not_applicable (and the condition that failed), or overshadowed (by whom)."""
    awards = {award.candidate.ref_id: award for award in evaluation.awards}
    return [_explained(verdict, awards) for verdict in evaluation.verdicts]
