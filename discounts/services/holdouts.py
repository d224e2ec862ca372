"""Writes of a link's holdout: assigning the members a push reaches (discounts/models/holdouts.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils import timezone

from discounts import holdouts
from discounts import sql as statements
from discounts.models import PushLink
from loyalty.core.sql import raw_cursor


@dataclass(frozen=True)
class Assigned:
    treatment: list[str]  # the customer ids the push may give the rule to
    held_out: int  # how many of the customers are held out (now or since earlier)


def link_assign(*, link: PushLink, customer_ids: Sequence[str]) -> Assigned:
    """Assign customers to the link's treatment or holdout (the first assignment stays), in one statement, inside
    the caller's transaction (the push's, which holds the link's row). A link without a holdout assigns nothing:
    everyone is treatment, and nothing is written."""
    if not link.holdout_percent or not customer_ids:
        return Assigned(treatment=list(customer_ids), held_out=0)
    cur = raw_cursor()
    cur.execute(
        statements.ASSIGN,
        {
            "account": link.account_id,
            "link": link.pk,
            "seed": link.holdout_seed,
            "threshold": holdouts.threshold(link.holdout_percent),
            "customers": list(customer_ids),
            "now": timezone.now(),
        },
    )
    row = cur.fetchone()
    assert row is not None  # an aggregate always answers one row
    return Assigned(treatment=list(row[0]), held_out=int(row[1]))
