"""The engine (`discounts.evaluation`) against the reference (`tests/discounts/reference_evaluator.py`) on
generated rules x receipts: every candidate's status and condition, and every applied ref's amounts per line."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from discounts.evaluation import evaluate_receipt
from tests.discounts.reference_evaluator import reference_evaluate
from tests.discounts.till_data import candidates, receipts


def engine_results(receipt, found):
    outcome = evaluate_receipt(receipt, found)
    refs = {ref["id"]: ref for discount in outcome.receipt["discounts"] for ref in discount["refs"]}
    results = {}
    for entry in outcome.explain():
        ref = refs.get(entry["ref_id"])
        lines = {line["line_id"]: line.get("amount", line.get("bonus")) for line in ref["items"]} if ref else None
        figures = (ref["amount"], ref["bonus"], ref["stamp"], ref["usage"]) if ref else (0, 0, 0, 0)
        results[entry["ref_id"]] = (entry["status"], entry["condition"], *figures, lines)
    return outcome, results


def reference_results(receipt, found):
    return {
        ref_id: (r.status, r.condition, r.amount, r.bonus, r.stamp, r.usage, r.lines)
        for ref_id, r in reference_evaluate(receipt, found).items()
    }


def assert_lines_add_up(answer):
    """The ref's amount is the sum of its lines, and every item's new lines are the refs' items."""
    per_item: dict[int, int] = {}
    for discount in answer["discounts"]:
        for ref in discount["refs"]:
            assert sum(line.get("amount", 0) for line in ref["items"]) == ref["amount"]
            assert sum(line.get("bonus", 0) for line in ref["items"]) == ref["bonus"]
            for line in ref["items"]:
                per_item[line["line_id"]] = per_item.get(line["line_id"], 0) + line.get("amount", 0)
    for item in answer["items"]:
        ours = sum(line["amount"] for line in item.get("discount_lines", []) if line["discount_id"] != "external")
        assert ours == per_item.get(item["line_id"], 0)
        existing = sum(line["amount"] for line in item.get("discount_lines", []) if line["discount_id"] == "external")
        assert ours <= max(0, item["gross_amount"] - existing)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(receipt=receipts(), found=candidates())
def test_the_engine_agrees_with_the_reference(receipt, found):
    outcome, engine = engine_results(receipt, found)
    assert engine == reference_results(receipt, found)
    assert_lines_add_up(outcome.receipt)
