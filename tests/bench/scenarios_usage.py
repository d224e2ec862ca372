"""The usage scenarios: claims from concurrent point-of-sale clients, and receipts that name discount refs.

Both go through gunicorn and (for receipts) the Celery worker, like the other scenarios; what they create is
removed afterwards (the bench rule cascades to its refs and usage; the claims carry the throwaway prefix).
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from tests.bench.harness import Http
from tests.bench.scenarios import THROWAWAY, Bench, Result, _throwaway_documents, timed

CLAIM_PREFIX = f"{THROWAWAY}-claim-"
REPEAT_LIMIT = 3  # each ref is claimed one time more than this: a quarter of the claims must be refused


def _rule(bench: Bench, label: str, limitation: dict[str, Any] | None = None):
    from discounts import services

    document = {
        "name": f"bench {label}",
        "requirement": {"purchase_from": "2024-01-01T00:00:00Z", "purchase_to": "2099-01-01T00:00:00Z"},
        "reward": {"type": "discount_amount", "value": 10000},
        **({"limitation": limitation} if limitation else {}),
    }
    return services.rule_create(account=bench.account, document=document, actor="bench")


def _drive(
    bench: Bench, path: str, bodies: list[bytes], clients: int, result: Result, expect: tuple[int, ...]
) -> tuple[float, dict[int, int]]:
    """POST every body from `clients` concurrent keep-alive connections, in order; each request's time is a sample.
    → (seconds for all of them, answers per status)."""
    lock = threading.Lock()
    statuses: dict[int, int] = dict.fromkeys(expect, 0)
    errors: list[str] = []
    pending = list(reversed(bodies))

    def client() -> None:
        http = Http(token=bench.token)
        while True:
            with lock:
                if not pending:
                    return
                body = pending.pop()
            try:
                ms, (status, _) = timed(lambda body=body: http.call("POST", path, body, expect=expect))
            except Exception as exc:
                with lock:
                    errors.append(repr(exc))
                return
            with lock:
                statuses[status] += 1
                result.samples.append(ms)

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(errors[0])
    return time.perf_counter() - started, statuses


def usage_cleanup(account_ids: list[int]) -> None:
    """The bench rules (their refs and usage cascade) and the bench claims."""
    from discounts.models import DiscountClaim, DiscountRule

    DiscountClaim.objects.filter(account_id__in=account_ids, ref__startswith=CLAIM_PREFIX).delete()
    DiscountRule.objects.filter(account_id__in=account_ids, name__startswith="bench usage").delete()


def scenario_claims(bench: Bench, result: Result, clients: int = 8, refs: int = 200) -> None:
    """`clients` HTTP clients claim refs of a rule limited to REPEAT_LIMIT purchases per ref, each ref
    REPEAT_LIMIT + 1 times in all; the rate counts every claim
    answered (accepted or refused for its limit). Afterwards no ref may have more purchases than the limit."""
    from django.db.models import Count

    from discounts import services
    from discounts.models import DiscountRef, DiscountUsage

    rule = _rule(bench, "usage claims", {"discount_repeat_usage": REPEAT_LIMIT})
    customers = [f"{THROWAWAY.upper()}C{n:05d}" for n in range(refs)]
    services.rule_customers_give(
        account=bench.account, rule=rule, customer_ids=customers, offering_constraint_id=None, actor="bench"
    )
    held = dict(DiscountRef.objects.filter(rule=rule).values_list("customer_id", "id"))
    stamp = int(time.time())
    bodies = [
        json.dumps(
            {
                "ref": f"{CLAIM_PREFIX}{stamp}-{attempt}-{customer}",
                "purchase_at": "2026-01-01T12:00:00Z",
                "customer_id": customer,
                "discounts": [{"id": str(rule.pk), "refs": [{"id": str(held[customer]), "amount": 1000, "usage": 1}]}],
            }
        ).encode()
        # every ref once, then every ref again, …: a POS's claims are on different customers' refs; the last
        # round is over the limit (the tests race 20 claims for one ref)
        for attempt in range(REPEAT_LIMIT + 1)
        for customer in customers
    ]
    seconds, outcomes = _drive(
        bench, f"/v1/accounts/{bench.aid}/discounts/available_for_receipt/claims", bodies, clients, result, (200, 400)
    )
    per_ref = (
        DiscountUsage.objects.filter(rule=rule, released_at__isnull=True)
        .values("ref_id")
        .annotate(purchases=Count("purchase_key", distinct=True))
    )
    exceeded = sum(1 for row in per_ref if row["purchases"] > REPEAT_LIMIT)
    result.rate = len(bodies) / seconds
    result.extra.update(accepted=outcomes[200], refused=outcomes[400], exceeded=exceeded)
    result.note = (
        f"{len(bodies):,} claims from {clients} concurrent clients on {refs} refs limited to {REPEAT_LIMIT} "
        f"purchases each: {outcomes[200]:,} accepted, {outcomes[400]:,} refused, {exceeded} limits exceeded"
    )
    if exceeded or outcomes[200] != refs * REPEAT_LIMIT:
        raise RuntimeError(f"limits broken: {result.note}")


def scenario_ingest_with_refs(bench: Bench, result: Result, batches: int, clients: int = 2) -> None:
    """Receipts whose discounts name a `*` ref, posted 1,000 per request; the rate is the HTTP ingest's. The note
    adds how long the worker took to record every receipt's usage after the last batch was stored."""
    from discounts import selectors, services
    from discounts.models import DiscountRef, DiscountUsage
    from receipts.models import NON_PURCHASE_STATUSES

    rule = _rule(bench, "usage receipts")
    services.rule_customers_give(
        account=bench.account, rule=rule, customer_ids=["*"], offering_constraint_id=None, actor="bench"
    )
    ref = DiscountRef.objects.get(rule=rule)
    entry = {**selectors.rule_to_api(rule), "refs": [{"id": str(ref.pk), "amount": 1000, "usage": 1}]}
    documents = _throwaway_documents(bench, batches * 1_000, f"d{int(time.time())}")
    for document in documents:
        document["discounts"] = [entry]
    # a * ref is used by purchases with a customer id
    with_customer = sum(
        1
        for document in documents
        if document.get("customer_id") and document.get("entry_status") not in NON_PURCHASE_STATUSES
    )
    payloads = [json.dumps(documents[i : i + 1_000]).encode() for i in range(0, len(documents), 1_000)]
    seconds, _ = _drive(bench, f"/v1/accounts/{bench.aid}/receipts", payloads, clients, result, (200,))
    stored = time.perf_counter()
    deadline = stored + 300
    while DiscountUsage.objects.filter(rule=rule).count() < with_customer:
        if time.perf_counter() > deadline:
            raise RuntimeError("the worker did not record the receipts' usage within 5 minutes")
        time.sleep(0.2)
    recorded = time.perf_counter()
    result.rate = len(documents) / seconds
    result.extra.update(usage_rows=with_customer, usage_lag_s=round(recorded - stored, 2))
    result.note = (
        f"{batches} batches of 1,000 receipts naming a * ref, {clients} concurrent clients; the worker recorded "
        f"all {with_customer:,} uses {recorded - stored:.1f} s after the last batch was stored"
    )
