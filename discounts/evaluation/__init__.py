"""The till's evaluator: which discounts a receipt gets, pure (no Django, no database).

    basket = parse_basket(receipt, ignored_rules=rule_ids)
    evaluation = evaluate(basket, candidates)       # candidates carry their RefUsage
    answer = receipt_answer(receipt, basket, evaluation, ignored=rule_ids)

`evaluate_receipt` does the three. The rules it follows, and every decision where Dintero's spec is silent, are
in `discounts/README.md` ("Evaluation at the till"); `tests/discounts/reference_evaluator.py` restates them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from discounts.evaluation.answer import explain, receipt_answer
from discounts.evaluation.model import Basket, Candidate, Line, parse_basket
from discounts.evaluation.resolve import Evaluation, Status, Verdict, evaluate
from discounts.evaluation.rewards import Award

__all__ = [
    "Award",
    "Basket",
    "Candidate",
    "Evaluation",
    "Line",
    "Outcome",
    "Status",
    "Verdict",
    "evaluate",
    "evaluate_receipt",
    "explain",
    "parse_basket",
    "receipt_answer",
]


@dataclass(frozen=True)
class Outcome:
    receipt: dict[str, Any]  # the answer: a Dintero Receipt
    evaluation: Evaluation

    def explain(self) -> list[dict[str, Any]]:
        return explain(self.evaluation)


def evaluate_receipt(receipt: dict[str, Any], candidates: list[Candidate]) -> Outcome:
    ignored = frozenset(candidate.rule_id for candidate in candidates)
    basket = parse_basket(receipt, ignored_rules=ignored)
    evaluation = evaluate(basket, candidates)
    return Outcome(receipt_answer(receipt, basket, evaluation, ignored=ignored), evaluation)
