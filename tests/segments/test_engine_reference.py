"""The SQL engine against the Python reference, criterion by criterion and in combinations, on generated data in
several timezones, with boundaries taken from the data itself."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from receipts.models import ItemCode
from segments import engine
from segments.criteria import CRITERIA, validate_definition
from tests.segments.data import COLORS, GROUPS, ITEMS, STORES, dataset
from tests.segments.reference import Reference

CASES = [
    # (timezone, now): a DST switch in Oslo, Feb 28 late evening (already March 1st in Auckland), New York midnight
    ("Europe/Oslo", datetime(2025, 3, 30, 1, 30, tzinfo=UTC)),
    ("Pacific/Auckland", datetime(2025, 2, 28, 23, 30, tzinfo=UTC)),
    ("America/New_York", datetime(2024, 11, 4, 5, 0, tzinfo=UTC)),
    ("UTC", datetime(2024, 2, 29, 12, 0, tzinfo=UTC)),
]


def money(minor: int | Decimal) -> str:
    return str(Decimal(minor) / 100)


def criteria_cases(rng: random.Random, ref: Reference) -> list[dict]:
    people = list(ref.people.values())
    counts = sorted({len(p.purchases) for p in people})
    totals = sorted({sum(x.net for x in p.purchases) for p in people})
    averages = sorted(
        {
            (Decimal(sum(x.net for x in p.purchases)) / len(p.purchases)).quantize(Decimal(1))
            for p in people
            if p.purchases
        }
    )
    today = ref.today
    days = [today - timedelta(days=d) for d in (0, 1, 3, 7, 14, 30, 60, 90, 120)]
    some_day = lambda: rng.choice(days).isoformat()  # noqa: E731
    instant = lambda: (ref.midnight(rng.choice(days)) + timedelta(microseconds=rng.choice([0, -1, 1]))).isoformat()  # noqa: E731
    pick = lambda values: values[rng.randrange(len(values))]  # noqa: E731

    def span(make):
        a, b = make(), make()
        return (a, b) if a <= b else (b, a)

    cases: list[dict] = []
    for _ in range(3):
        lo, hi = sorted([pick(counts), pick(counts)])
        cases += [
            {"type": "transaction_count", "min": lo, "max": hi},
            {"type": "transaction_count", "min": pick(counts)},
            {"type": "transaction_count", "max": pick(counts)},
            {
                "type": "transaction_count_in_period",
                "min": rng.choice([0, 1, 2, 3]),
                "max": rng.choice([3, 5, None]) or 99,
                "fromDate": some_day(),
                "toDate": today.isoformat(),
            },
            {
                "type": "transaction_count_in_period",
                "min": 1,
                **dict(zip(("fromDate", "toDate"), span(instant), strict=True)),
            },
            {
                "type": "average_transaction_amount",
                "fromAmount": money(pick(averages)),
                "toAmount": money(pick(averages) + 50000),
            },
            {"type": "average_transaction_amount", "toAmount": money(pick(averages))},
            {"type": "transaction_amount", "fromAmount": money(pick(totals))},
            {"type": "transaction_amount", "fromAmount": money(pick(totals)), "toAmount": money(pick(totals) + 100000)},
            {"type": "transaction_amount", "fromAmount": "-1000", "toAmount": "0"},
            {
                "type": "transaction_amount_in_period",
                "fromAmount": rng.choice(["0", "100", "500.5"]),
                "toAmount": "2000",
                **dict(zip(("fromDate", "toDate"), span(some_day), strict=True)),
            },
            {
                "type": "transaction_amount_in_last_n_days",
                "days": rng.choice([0, 1, 7, 30, 90]),
                "fromAmount": rng.choice(["0", "1", "300"]),
            },
            {"type": "transaction_amount_in_last_n_days", "days": rng.choice([3, 14]), "toAmount": "500"},
            {
                "type": "transaction_amount_each_day_in_period",
                "fromDate": (today - timedelta(days=2)).isoformat(),
                "toDate": today.isoformat(),
                "fromAmount": rng.choice(["0", "1"]),
                "toAmount": "3000",
            },
            {
                "type": "transaction_amount_each_day_in_last_n_days",
                "days": rng.choice([0, 1]),
                "fromAmount": rng.choice(["-100", "10"]),
                "toAmount": "2500",
            },
            {"type": "purchase_period", **dict(zip(("fromDate", "toDate"), span(some_day), strict=True))},
            {"type": "purchase_period", "fromDate": instant(), "toDate": today.isoformat()},
            {"type": "last_purchase_n_days_before", "days": rng.choice([0, 1, 7, 30])},
            {
                "type": "last_transaction_between_days",
                "fromDays": rng.choice([0, 1, 2]),
                "toDays": rng.choice([2, 7, 30]),
            },
            {"type": "member_registration_date", "fromDate": some_day(), "toDate": today.isoformat()},
            {"type": "bought_through_channel", "channelIds": rng.sample(STORES, 2)},
            {"type": "bought_in_pos", "channelIds": [rng.choice(STORES), "no-such-store"]},
            {
                "type": "transaction_percent_in_channel",
                "channelId": rng.choice(STORES),
                "percent": rng.choice([0, 25, "33.4", 50, 100]),
            },
            {"type": "bought_skus", "skuIds": rng.sample(list(ITEMS), 3)},
            {"type": "bought_labels", "labels": [{"key": "color", "value": rng.choice(COLORS).upper()}]},
            {
                "type": "bought_labels",
                "labels": [{"key": "GROUP", "value": rng.choice(GROUPS).swapcase()}, {"key": "size", "value": "m"}],
            },
            {"type": "bought_makers", "makers": [rng.choice(["ACME", "zeta", "nord"])]},
            {
                "type": "bought_items",
                "items": [{"id": rng.choice(list(ITEMS))}, {"group": rng.choice(GROUPS)}],
                "minPurchases": rng.choice([1, 2]),
            },
            {
                "type": "bought_items",
                "anyPurchase": True,
                "storeIds": rng.sample(STORES, 3),
                "purchaseFrom": some_day(),
                "purchaseTo": today.isoformat(),
            },
            {
                "type": "bought_items",
                "items": [{"id": item, "group": ITEMS[item][0]} for item in rng.sample(list(ITEMS), 2)]
                + [{"id": "i1", "group": "g7"}],
            },
            {
                "type": "anniversary",
                "anniversaryType": rng.choice(["birthday", "registration"]),
                "days": rng.choice([1, 2, 7, 31]),
            },
            {"type": "gender", "genders": rng.sample(["MALE", "female", "other"], 2)},
            {"type": "age", "min": rng.choice([0, 18, 25]), "max": rng.choice([25, 40, 85])},
            {"type": "age", "min": rng.choice([30, 60])},
            {"type": "country", "countries": [rng.choice(["no", "SE"])]},
            {"type": "city", "cities": [rng.choice(["OSLO", "Bergen", "tromsø"])]},
            {"type": "postal", "postalCodes": ["0150", "111 20"]},
            {"type": "customer_has_labels", "labels": [{"key": rng.choice(["TIER", "vip", "status", "club"])}]},
            {
                "type": "customer_with_labels_values",
                "labels": [{"key": "tier", "value": rng.choice(["gold", "SILVER"])}, {"key": "Status", "value": "vip"}],
            },
            {
                "type": "member_custom_field_value",
                "key": rng.choice(["Tier", "dob_year", "vip"]),
                "value": rng.choice(["Gold", "1985", "true"]),
            },
            {
                "type": "member_loyalty_card_number",
                "cardNumbers": [f"card-c{rng.randrange(0, 220):03d}" for _ in range(5)],
            },
            {
                "type": "marketing_consent",
                "channel": rng.choice(["email", "sms"]),
                "consent": rng.choice([True, False]),
            },
            {
                "type": "customer_list",
                "customers": [f"c{rng.randrange(0, 220):03d}", f"c{rng.randrange(0, 220):03d}@EXAMPLE.com", "nobody"],
            },
        ]
    return [_ordered(case) for case in cases]


def _ordered(case: dict) -> dict:
    """Put every (low, high) pair the right way round: the cases test semantics, not validation."""
    for low, high, key in (("min", "max", int), ("fromAmount", "toAmount", Decimal), ("fromDays", "toDays", int)):
        if case.get(low) is not None and case.get(high) is not None and key(case[low]) > key(case[high]):
            case[low], case[high] = case[high], case[low]
    return case


def engine_members(account, parts, now) -> set[str]:
    normalized = validate_definition(parts)
    engine.lists_resolve(account=account, parts=normalized)
    ctx = engine.compile_context(engine.definition_prepare(account=account, parts=normalized, now=now), account=account)
    return set(
        engine.matching_customers(account=account, parts=normalized, ctx=ctx).values_list("customer_id", flat=True)
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("timezone", "now"), CASES, ids=[c[0] for c in CASES])
def test_engine_equals_reference(timezone, now, account, api):
    # given generated receipts posted through the API to an account in this timezone; every criterion was evaluated
    # once after the first batches, so the read models it keeps from then on (purchase windows, code buyers) are
    # kept current by the later batches
    account.timezone = timezone
    account.save()
    seed = abs(hash(timezone)) % 1000
    docs = dataset(seed=seed, timezone=timezone, now=now)
    ref = Reference(docs, timezone=timezone, now=now)
    rng = random.Random(seed)
    cases = criteria_cases(rng, ref)
    assert {ALIASES.get(c["type"], c["type"]) for c in cases} >= set(CRITERIA) - {"customer_csv_list"}
    for start in range(0, len(docs), 500):
        assert api.post("/v1/accounts/T00000001/receipts", docs[start : start + 500], format="json").status_code == 200
        if start == 0:
            for criterion in cases:
                engine_members(account, [{"criteria": [criterion]}], now)

    # when each criterion, and random AND/OR combinations of them, are evaluated both ways
    mismatches = []
    sizes = []
    for criterion in cases:
        parts = [{"criteria": [criterion]}]
        expected, got = ref.segment(parts), engine_members(account, parts, now)
        sizes.append(len(expected))
        if expected != got:
            mismatches.append((criterion, sorted(expected - got)[:5], sorted(got - expected)[:5]))
    for _ in range(40):
        parts = [{"criteria": rng.sample(cases, rng.randint(1, 3))} for _ in range(rng.randint(1, 3))]
        expected, got = ref.segment(parts), engine_members(account, parts, now)
        if expected != got:
            mismatches.append((parts, sorted(expected - got)[:5], sorted(got - expected)[:5]))
        # the builder's preview counts the whole and each part in one statement: the same sets, counted
        preview = engine.preview(account=account, parts=validate_definition(parts), now=now)
        counted = [preview["customersCount"], *(p["customersCount"] for p in preview["parts"])]
        wanted = [len(expected), *(len(ref.segment([part])) for part in parts)]
        if counted != wanted:
            mismatches.append((parts, f"preview counted {counted}", f"reference {wanted}"))

    # then they agree everywhere, and the cases were not trivial
    assert not mismatches, "\n".join(f"{c}\n  missing {m}\n  extra {e}" for c, m, e in mismatches[:10])
    assert sum(1 for n in sizes if 0 < n < len(ref.people)) > len(sizes) // 2


ALIASES = {"bought_in_pos": "bought_through_channel"}


@pytest.mark.django_db(transaction=True)
def test_customer_segment_equals_reference(account, api):
    # given generated receipts posted through the API; the one-code questions over a code's whole history were asked
    # after the first batch, so the code buyers they read from then on are kept current by the later batches
    now = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
    docs = dataset(seed=7, timezone="UTC", now=now)
    whole_history = [
        {"items": [{"group": "g2"}]},
        {"items": [{"id": "i4"}], "purchase_from": "2000-01-01T00:00:00Z", "purchase_to": "2100-01-01T00:00:00Z"},
    ]
    for start in range(0, len(docs), 500):
        assert api.post("/v1/accounts/T00000001/receipts", docs[start : start + 500], format="json").status_code == 200
        if start == 0:
            for body in whole_history:
                api.post("/v1/accounts/T00000001/receipts/customer_segment", body, format="json")
    assert set(
        ItemCode.objects.filter(account=account, buyers_since__isnull=False).values_list("value", flat=True)
    ) == {
        "g2",
        "i4",
    }
    ref = Reference(docs, timezone="UTC", now=now)
    rng = random.Random(7)
    bodies = [
        {},
        {"store_ids": ["s1", "s2"]},
        *whole_history,
        {"items": [{"group": "g2"}], "purchase_from": (now - timedelta(days=30)).isoformat()},
        {"items": [{"id": "i4"}, {"id": "i9"}, {"group": "G3"}], "store_ids": ["s3", "s4", "s5"]},
        {"items": [{"id": "i2", "group": ITEMS["i2"][0]}, {"id": "i3", "group": "g8"}]},
        {"purchase_from": (now - timedelta(days=30)).isoformat(), "purchase_to": (now - timedelta(days=3)).isoformat()},
    ]
    for _ in range(6):
        bodies.append(
            {
                "purchase_from": (now - timedelta(days=rng.randrange(10, 100))).isoformat(),
                "purchase_to": (now - timedelta(days=rng.randrange(0, 9), microseconds=rng.choice([0, 1]))).isoformat(),
                "store_ids": rng.sample(STORES, rng.randint(1, 5)),
                "items": [{"id": i} for i in rng.sample(list(ITEMS), rng.randint(1, 4))]
                + [{"group": rng.choice(GROUPS)}],
            }
        )
    for body in bodies:
        response = api.post("/v1/accounts/T00000001/receipts/customer_segment", body, format="json")
        assert response.status_code == 200
        customers = response.json()["customers"]
        assert {c["customer_id"]: c["purchases"] for c in customers} == ref.customer_segment(body), body
        assert [c["purchases"] for c in customers] == sorted((c["purchases"] for c in customers), reverse=True)
