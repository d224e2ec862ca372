"""What the rule and customer pages show of discount usage: a rule's redemptions (per day, totals, who used it
most) and a customer's refs with what each was used for. Read from the usage ledger (discounts.selectors.statistics).
"""

from __future__ import annotations

from typing import Any

from discounts.models import DiscountRef, DiscountRule
from discounts.selectors.statistics import ref_statistics, rule_redemptions
from loyalty.accounts.models import Account
from loyalty.web.formatting import exponent
from receipts.readmodels.queries import customers_for_account

DAYS = 90
TOP = 10


def rule_redemptions_context(*, account: Account, rule: DiscountRule) -> dict[str, Any]:
    """The rule page's redemptions card: a chart of rewards and amount per day, totals, and the customers who used
    it most, each linked to their page when they have one (a customer id seen only in claims has none)."""
    found = rule_redemptions(account=account, rule=rule, days=DAYS, top=TOP)
    scale = 10 ** exponent(account.currency)
    pks = dict(
        customers_for_account(account=account)
        .filter(customer_id__in=[row["customer_id"] for row in found.top])
        .values_list("customer_id", "pk")
    )
    return {
        "redemptions": {
            "totals": found.totals,
            "used": any(usage for _, usage, _ in found.days),
            "chart": {
                "labels": [day.isoformat() for day, _, _ in found.days],
                "usage": [usage for _, usage, _ in found.days],
                "amount": [amount / scale for _, _, amount in found.days],
                "currency": account.currency,
            },
            "top": [{**row, "pk": pks.get(row["customer_id"])} for row in found.top],
            "days": DAYS,
        }
    }


def customer_refs_with_usage(*, account: Account, customer_id: str, refs: list[DiscountRef]) -> list[dict[str, Any]]:
    """The customer's refs, each with its statistics for them (one statement for all of them)."""
    statistics = ref_statistics(account=account, refs=refs, customer_id=customer_id)
    return [{"ref": ref, "statistics": statistics[ref.pk]} for ref in refs]
