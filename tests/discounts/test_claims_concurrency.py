"""Concurrent claims on real PostgreSQL sessions: no usage limit is ever exceeded."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from discounts.models import DiscountClaim, DiscountRef, DiscountUsage
from discounts.services.claims import claim_create
from discounts.usage_errors import UsageLimitReached
from tests.discounts.factories import discount, give, rule

CLIENTS = 20


def _claim_body(made, ref, key: str, customer: str = "c1") -> dict:
    return {
        "ref": key,
        "purchase_at": "2026-03-01T12:00:00Z",
        "customer_id": customer,
        "discounts": [{"id": str(made.id), "refs": [{"id": str(ref.id), "amount": 500, "usage": 1}]}],
    }


def _race(account, bodies: list[dict]) -> list[str]:
    """Every body claimed at once, each from its own thread and database session; → "ok" or "limit" per body."""
    barrier = threading.Barrier(len(bodies))

    def claim(body: dict) -> str:
        try:
            barrier.wait(timeout=30)
            claim_create(account=account, body=body, actor="till")
            return "ok"
        except UsageLimitReached:
            return "limit"
        finally:
            connection.close()  # this thread's session

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(claim, bodies))


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_claims_on_a_once_only_ref_give_exactly_one(account):
    made = rule(account, discount(limitation={"discount_repeat_usage": 1}))
    give(account, made, "c1")
    ref = DiscountRef.objects.get(rule=made)

    outcomes = _race(account, [_claim_body(made, ref, f"tx-{n}") for n in range(CLIENTS)])

    assert (outcomes.count("ok"), outcomes.count("limit")) == (1, CLIENTS - 1)
    assert DiscountClaim.objects.count() == 1
    assert DiscountUsage.objects.filter(ref=ref, released_at__isnull=True).count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_of_one_claim_store_it_once(account):
    made = rule(account, discount(limitation={"discount_repeat_usage": 3}))
    give(account, made, "c1")
    ref = DiscountRef.objects.get(rule=made)

    outcomes = _race(account, [_claim_body(made, ref, "tx-same") for _ in range(8)])

    assert outcomes == ["ok"] * 8
    assert DiscountClaim.objects.count() == 1
    assert DiscountUsage.objects.filter(ref=ref).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_star_ref_under_load_holds_each_customers_limit(account):
    made = rule(account, discount(limitation={"discount_repeat_usage": 2}))
    give(account, made, "*")
    ref = DiscountRef.objects.get(rule=made)
    bodies = [_claim_body(made, ref, f"{customer}-{n}", customer) for customer in ("a", "b") for n in range(5)]

    outcomes = _race(account, bodies)

    assert outcomes.count("ok") == 4
    for customer in ("a", "b"):
        assert DiscountUsage.objects.filter(ref=ref, customer_id=customer).count() == 2
