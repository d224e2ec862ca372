"""Discount documents as an integrator would post them, and rules created the way the API creates them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from discounts import services
from discounts.models import DiscountRule

EXAMPLE = Path(__file__).parent / "data" / "dintero_example_discount.json"
ACTOR = "test-client"


def discount(**overrides: Any) -> dict[str, Any]:
    """A valid receipt rule running from 2024 until 2099; keyword arguments replace top-level properties."""
    document: dict[str, Any] = {
        "name": "Spar 100,-",
        "requirement": {"purchase_from": "2024-01-01T00:00:00Z", "purchase_to": "2099-01-01T00:00:00Z"},
        "reward": {"type": "discount_amount", "value": 10000},
    }
    document.update(overrides)
    return document


def item_discount(*items: dict[str, str], **overrides: Any) -> dict[str, Any]:
    document = discount(**overrides)
    document["requirement"] = {**document["requirement"], "item": {"items": list(items or [{"id": "sku-1"}])}}
    return document


def rule(account, document: dict[str, Any] | None = None, **overrides: Any) -> DiscountRule:
    return services.rule_create(account=account, document=document or discount(**overrides), actor=ACTOR)


def give(account, given: DiscountRule, *customers: str, constraint: str | None = None) -> int:
    return services.rule_customers_give(
        account=account, rule=given, customer_ids=list(customers), offering_constraint_id=constraint, actor=ACTOR
    )


def dintero_example() -> dict[str, Any]:
    """The complete Discount of Dintero's "Add customers" reference page (its response example), verbatim."""
    return json.loads(EXAMPLE.read_text())
