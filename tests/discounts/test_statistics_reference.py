"""The statistics' SQL against an obviously-correct Python reference, on generated ledgers (hypothesis): a purchase
counts once with its largest figures, released claims not at all, a `*` ref per customer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from discounts.models import DiscountRef, DiscountUsage
from discounts.selectors.statistics import ref_statistics, rule_statistics, rule_usages
from tests.discounts.factories import discount, give, rule

T0 = datetime(2026, 1, 1, tzinfo=UTC)
HOLDERS = ("c1", "c2", "*")
SOURCES = ("claim", "receipt_add", "ref_add")

rows = st.lists(
    st.fixed_dictionaries(
        {
            "holder": st.sampled_from(HOLDERS),
            "customer": st.sampled_from(("c1", "c2", "c3")),
            "source": st.sampled_from(SOURCES),
            "purchase": st.sampled_from(("p1", "p2", "p3", "p4")),
            "usage": st.integers(0, 3),
            "amount": st.integers(0, 5000),
            "bonus": st.integers(0, 50),
            "stamp": st.integers(0, 4),
            "day": st.integers(0, 20),
            "released": st.booleans(),
        }
    ),
    max_size=25,
)


def reference_purchases(ledger: list[dict]) -> dict[tuple, dict]:
    """Live rows grouped into purchases: one per (ref, customer, purchase key), each figure its largest."""
    purchases: dict[tuple, dict] = {}
    for row in ledger:
        if row["released"]:
            continue
        key = (row["holder"], row["customer"], row["purchase"])
        seen = purchases.setdefault(key, {"usage": 0, "amount": 0, "bonus": 0, "stamp": 0})
        for figure in seen:
            seen[figure] = max(seen[figure], row[figure])
    return purchases


def _store(account, made, refs, ledger: list[dict]) -> None:
    DiscountUsage.objects.filter(rule=made).delete()
    seen = set()
    for n, row in enumerate(ledger):
        ref = refs[row["holder"]]
        customer = row["holder"] if row["holder"] != "*" else row["customer"]
        row["customer"] = customer
        key = (ref.pk, row["source"], f"k{n}")
        seen.add(key)
        DiscountUsage.objects.create(
            account=account, rule=made, ref=ref, customer_id=customer, source=row["source"], source_key=f"k{n}",
            purchase_key=row["purchase"], usage=row["usage"], amount=row["amount"], bonus=row["bonus"],
            stamp=row["stamp"], at=T0 + timedelta(days=row["day"]),
            released_at=T0 + timedelta(days=30) if row["released"] else None,
        )  # fmt: skip


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(ledger=rows)
def test_rule_and_ref_statistics_match_the_reference(account, ledger):
    made = rule(account, discount(name="reference"))
    give(account, made, *HOLDERS)
    refs = {ref.customer_id: ref for ref in DiscountRef.objects.filter(rule=made).select_related("rule")}
    _store(account, made, refs, ledger)
    purchases = reference_purchases(ledger)

    got = rule_statistics(account_id=account.pk, rules=[made])[made.pk]

    for figure in ("usage", "amount", "bonus", "stamp"):
        assert got[figure] == sum(p[figure] for p in purchases.values()), figure
    # a customer's view of each ref: their own use of a `*` ref, all use of their own ref
    for customer in ("c1", "c2", "c3"):
        held = [refs[customer]] if customer in refs else []
        mine = ref_statistics(account=account, refs=[*held, refs["*"]], customer_id=customer, now=T0 + timedelta(60))
        for ref in [*held, refs["*"]]:
            expected = sum(p["amount"] for (h, c, _), p in purchases.items() if h == ref.customer_id and c == customer)
            assert mine[ref.pk]["amount"] == expected
    # the usages list: one per (ref, customer) with live rows, their amounts adding up to the rule's
    usages = rule_usages(account=account, rule=made, limit=1000, starting_after=None)
    assert {(u["ref_id"], u["customer_id"]) for u in usages} == {(str(refs[h].pk), c) for (h, c, _) in purchases}
    assert sum(u["statistics"]["amount"] for u in usages) == got["amount"]
