"""`available_for_receipt`: the receipt's candidate refs and their past, then the pure evaluator.

The candidates are the customer's own live refs and the `*` refs (a receipt with a customer), or the `/` refs (a
receipt without one), of live, active rules whose purchase window (and `dynamic_purchase_to_days`) holds at the
purchase. One query walks the partial index (account, customer_id, id) over live refs for those two or one
holders, and one more reads their usage: the cost follows this customer's refs and the shared ones, never the
number of rules in the account.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from django.db.models import BooleanField, Q
from django.utils import timezone

from discounts.documents import ANY_CUSTOMER, NO_CUSTOMER
from discounts.evaluation import Candidate, Outcome, evaluate_receipt
from discounts.models import DiscountRef
from discounts.selectors import rule_to_api
from discounts.selectors.usage import ref_usage_load
from discounts.sql_till import DYNAMIC_WINDOW
from loyalty.accounts.models import Account
from loyalty.api.swagger import parse_datetime
from loyalty.core.sql import raw_expression


@dataclass(frozen=True)
class Resolution:
    """Whose receipt it is. `customer_id` None with `known` True: a receipt with a token nobody holds."""

    customer_id: str | None
    known: bool = True


def customer_token_resolve(*, account: Account, token: dict[str, Any]) -> Resolution:
    """The seam for the token store of the campaigns/automations issue. Until it exists no token resolves, and a
    receipt identified only by a token is evaluated as anonymous (`/` refs). With a store, an unknown token must
    give no discounts at all (the spec), which `Resolution(None, known=True)` expresses."""
    return Resolution(customer_id=None, known=False)


def receipt_customer(*, account: Account, receipt: dict[str, Any]) -> Resolution:
    customer_id = receipt.get("customer_id")
    if isinstance(customer_id, str) and customer_id:
        return Resolution(customer_id)
    customer = receipt.get("customer")
    token = customer.get("token") if isinstance(customer, dict) else None
    if isinstance(token, dict) and token:
        return customer_token_resolve(account=account, token=token)
    return Resolution(None, known=False)


def till_candidates(*, account: Account, customer_id: str | None, at: datetime) -> list[Candidate]:
    """Live refs of live, active rules in their purchase window at `at`, held by the customer and `*` (or `/`)."""
    holders = [customer_id, ANY_CUSTOMER] if customer_id else [NO_CUSTOMER]
    refs = (
        DiscountRef.objects.filter(
            Q(account=account, customer_id__in=holders, deleted_at__isnull=True),
            rule__account=account,
            rule__deleted_at__isnull=True,
            rule__active=True,
            rule__purchase_from__lte=at,
            rule__purchase_to__gte=at,
        )
        .filter(raw_expression(DYNAMIC_WINDOW, [at], output_field=BooleanField()))
        .select_related("rule")
        .order_by("id")
    )
    return [
        Candidate(
            rule_id=str(ref.rule.id),
            ref_id=str(ref.id),
            ref_customer_id=ref.customer_id,
            rule_type=ref.rule.type,
            rule_created_at=ref.rule.created_at,
            ref_created_at=ref.created_at,
            document=ref.rule.document,
            body=rule_to_api(ref.rule),
        )
        for ref in refs
    ]


def receipt_discounts_available(*, account: Account, receipt: dict[str, Any], now: datetime | None = None) -> Outcome:
    """What the receipt gets (side-effect free). `receipt` is a validated Dintero Receipt."""
    who = receipt_customer(account=account, receipt=receipt)
    at = parse_datetime(receipt.get("purchase_at")) or timezone.now()
    candidates = (
        []
        if who.known and who.customer_id is None
        else till_candidates(account=account, customer_id=who.customer_id, at=at)
    )
    usage = ref_usage_load(
        account=account,
        ref_ids=[uuid.UUID(c.ref_id) for c in candidates],
        at=now or timezone.now(),
        customer_id=who.customer_id,
    )
    with_usage = [replace(c, usage=usage[uuid.UUID(c.ref_id)]) for c in candidates]
    return evaluate_receipt(receipt, with_usage)
