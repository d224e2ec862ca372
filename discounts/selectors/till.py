"""`available_for_receipt`: the receipt's candidate refs with their past, then the pure evaluator.

The candidates are the customer's own live refs and the `*` refs (a receipt with a customer), or the `/` refs (a
receipt without one), of live, active rules whose purchase window (and `dynamic_purchase_to_days`) holds at the
purchase, each with its use from the ledger: one statement (`sql_till.CANDIDATES`) that walks the partial index
(account, customer_id, id) over live refs for those two or one holders. The cost follows this customer's refs and
the shared ones, never the number of rules in the account.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from django.utils import timezone

from discounts.documents import ANY_CUSTOMER, NO_CUSTOMER
from discounts.evaluation import Candidate, Outcome, evaluate_receipt
from discounts.models import DiscountRule
from discounts.selectors import rule_to_api, tokens
from discounts.selectors.usage import ref_usage_of
from discounts.sql_till import CANDIDATES, RULE_FIELDS
from loyalty.accounts.models import Account
from loyalty.api.swagger import parse_datetime
from loyalty.core.sql import raw_cursor


@dataclass(frozen=True)
class Resolution:
    """Whose receipt it is. `customer_id` None with `known` True: a receipt with a token nobody holds."""

    customer_id: str | None
    known: bool = True


def customer_token_resolve(*, account: Account, token: dict[str, Any]) -> Resolution:
    """A receipt identified by `customer.token`: the customer the token store (`POST /discounts/events`
    token_add/token_remove) holds for its (type, value). A token nobody holds gives no discounts at all, as the spec
    says, not the anonymous `/` refs."""
    token_type, value = token.get("type"), token.get("value")
    if not isinstance(token_type, str) or not isinstance(value, str):
        return Resolution(None, known=True)
    return Resolution(tokens.customer_token_resolve(account=account, token_type=token_type, value=value))


def receipt_customer(*, account: Account, receipt: dict[str, Any]) -> Resolution:
    customer_id = receipt.get("customer_id")
    if isinstance(customer_id, str) and customer_id:
        return Resolution(customer_id)
    customer = receipt.get("customer")
    token = customer.get("token") if isinstance(customer, dict) else None
    if isinstance(token, dict) and token:
        return customer_token_resolve(account=account, token=token)
    return Resolution(None, known=False)


RULE_ATTNAMES = [field.attname for field in DiscountRule._meta.concrete_fields if field.name in RULE_FIELDS]
DOCUMENT = RULE_FIELDS.index("document")


def _present(values: list[Any]) -> dict[str, Any]:
    """The rule as the API shows it; built the way the ORM builds rows (positional, no per-field keywords; the
    columns `rule_to_api` does not read are deferred)."""
    return rule_to_api(DiscountRule.from_db("default", RULE_ATTNAMES, values))


def till_candidates(
    *, account: Account, customer_id: str | None, purchase_at: datetime, now: datetime
) -> list[Candidate]:
    """Live refs of live, active rules in their purchase window at `purchase_at`, held by the customer and `*`
    (or `/`), each with its use until `now`."""
    holders = [customer_id, ANY_CUSTOMER] if customer_id else [NO_CUSTOMER]
    cur = raw_cursor(c_timestamps=True)
    # prepared on the (persistent) connection: planning this statement costs more than running it
    cur.execute(
        CANDIDATES,
        {"account": account.pk, "holders": holders, "purchase_at": purchase_at, "at": now, "customer": customer_id},
        prepare=True,
    )
    found = []
    width = len(RULE_FIELDS)
    for ref_id, holder, ref_created_at, *rest in cur.fetchall():
        values = list(rest[:width])
        fields = dict(zip(RULE_FIELDS, values, strict=True))
        if isinstance(fields["document"], str):  # Django's connection leaves jsonb as text for its JSONField
            fields["document"] = values[DOCUMENT] = json.loads(fields["document"])
        found.append(
            Candidate(
                rule_id=str(fields["id"]),
                ref_id=str(ref_id),
                ref_customer_id=holder,
                rule_type=fields["type"],
                rule_created_at=fields["created_at"],
                ref_created_at=ref_created_at,
                document=fields["document"],
                usage=ref_usage_of(rest[width:]),
                present=partial(_present, values),
            )
        )
    return found


def receipt_discounts_available(*, account: Account, receipt: dict[str, Any], now: datetime | None = None) -> Outcome:
    """What the receipt gets (side-effect free). `receipt` is a validated Dintero Receipt."""
    who = receipt_customer(account=account, receipt=receipt)
    now = now or timezone.now()
    purchase_at = parse_datetime(receipt.get("purchase_at")) or now
    candidates = (
        []
        if who.known and who.customer_id is None
        else till_candidates(account=account, customer_id=who.customer_id, purchase_at=purchase_at, now=now)
    )
    return evaluate_receipt(receipt, candidates)
