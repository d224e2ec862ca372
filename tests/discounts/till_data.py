"""Candidates and receipts for the evaluator's tests: hand-made ones and hypothesis strategies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from discounts.evaluation import Candidate
from discounts.usage_state import UNUSED, RefUsage

T0 = datetime(2025, 1, 1, tzinfo=UTC)
WINDOW = {"purchase_from": "2024-01-01T00:00:00Z", "purchase_to": "2099-01-01T00:00:00Z"}


def candidate(
    n: int,
    *,
    reward: dict[str, Any] | None = None,
    requirement: dict[str, Any] | None = None,
    limitation: dict[str, Any] | None = None,
    holder: str = "c1",
    usage: RefUsage = UNUSED,
    ref: int | None = None,
    name: str | None = None,
) -> Candidate:
    """Rule `r{n}` (created on day n, so lower n = older) through ref `ref{ref or n}`."""
    requirement = {**WINDOW, **(requirement or {})}
    items = requirement.get("item", {}).get("items", [])
    mixes = requirement.get("item", {}).get("mixes", [])
    named = [i for i in items if i.get("id", "*") != "*" or i.get("group_id", "*") != "*"]
    document: dict[str, Any] = {
        "name": name or f"rule {n}",
        "requirement": requirement,
        "reward": reward or {"type": "discount_amount", "value": 100},
    }
    if limitation is not None:
        document["limitation"] = limitation
    return Candidate(
        rule_id=f"r{n}",
        ref_id=f"ref{ref if ref is not None else n}",
        ref_customer_id=holder,
        rule_type="item" if named or mixes else "receipt",
        rule_created_at=T0 + timedelta(days=n),
        ref_created_at=T0 + timedelta(days=ref if ref is not None else n),
        document=document,
        usage=usage,
    )


def item(line_id: int, gross: int, *, id: str = "a", groups: tuple[str, ...] = (), quantity: float = 1, **extra):
    return {
        "id": id,
        "line_id": line_id,
        "groups": [{"id": g} for g in groups],
        "quantity": quantity,
        "gross_amount": gross,
        "eligible_for_discount": True,
        **extra,
    }


def receipt(*items: dict[str, Any], at: str = "2025-05-07T12:00:00+00:00", **extra) -> dict[str, Any]:
    return {
        "store": {"id": "S1", "mcc": "5814"},
        "receipt_id": "r-1",
        "purchase_at": at,
        "customer_id": "c1",
        "currency": "NOK",
        "items": list(items),
        **extra,
    }


# --- generated --------------------------------------------------------------------------------------------------

IDS = ["a", "b", "c"]
GROUPS = ["g1", "g2"]
# a Wednesday noon, an Oslo DST switch (2025-03-30 01:00 UTC), an evening in Oslo on a Sunday
INSTANTS = [
    "2025-05-07T12:00:00+00:00",
    "2025-03-30T00:59:00+00:00",
    "2025-03-30T01:00:00+00:00",
    "2025-05-11T21:30:00+00:00",
]

rule_items = st.lists(
    st.one_of(
        st.builds(lambda i: {"id": i}, st.sampled_from([*IDS, "*"])),
        st.builds(lambda g: {"group_id": g}, st.sampled_from(GROUPS)),
        st.builds(lambda i, g: {"id": i, "group_id": g}, st.sampled_from(IDS), st.sampled_from(GROUPS)),
    ),
    min_size=1,
    max_size=2,
)


@st.composite
def receipt_items(draw):
    count = draw(st.integers(1, 4))
    items = []
    for n in range(count):
        gross = draw(st.sampled_from([0, 1, 99, 333, 1000, 2500, 4999]))
        entry = item(
            n + 1,
            gross,
            id=draw(st.sampled_from(IDS)),
            groups=tuple(draw(st.lists(st.sampled_from(GROUPS), max_size=2, unique=True))),
            quantity=draw(st.sampled_from([1, 1, 2, 3, 0.5])),
        )
        entry["eligible_for_discount"] = draw(st.sampled_from([True, True, True, False]))
        if gross and draw(st.integers(0, 4)) == 0:
            entry["discount_lines"] = [{"amount": gross // 3, "discount_id": "external", "line_id": n + 1}]
        items.append(entry)
    return items


@st.composite
def reward(draw):
    kind = draw(
        st.sampled_from(
            ["discount_amount", "discount_percent", "discount_item_new_price", "discount_item_quantity",
             "discount_item_percent", "discount_debit", "discount_mix_new_price"]
        )
    )  # fmt: skip
    value = {
        "discount_percent": st.sampled_from([5, 10, 12.5, 33, 100]),
        "discount_item_percent": st.sampled_from([10, 50, 100]),
        "discount_item_quantity": st.integers(1, 3),
    }.get(kind, st.sampled_from([1, 50, 333, 1000, 3000]))
    body: dict[str, Any] = {"type": kind, "value": draw(value)}
    if draw(st.booleans()):
        body["base"] = draw(st.sampled_from(["net", "gross"]))
    if draw(st.integers(0, 4)) == 0:
        body["effect"] = "bonus"
    return body


@st.composite
def requirement(draw):
    body: dict[str, Any] = {}
    item_part: dict[str, Any] = {}
    if draw(st.booleans()):
        item_part["items"] = draw(rule_items)
    if draw(st.integers(0, 4)) == 0:
        item_part["mixes"] = [
            {"items": draw(rule_items.filter(lambda xs: all(x.get("id") != "*" for x in xs))),
             "quantity": draw(st.integers(0, 2)), "reward_eligible": draw(st.booleans())}
            for _ in range(draw(st.integers(1, 2)))
        ]  # fmt: skip
    if draw(st.integers(0, 3)) == 0:
        item_part["quantity"] = draw(st.integers(1, 4))
    if item_part:
        body["item"] = item_part
    optional = {
        "gross_amount": st.sampled_from([0, 1000, 5000]),
        "net_amount": st.sampled_from([0, 1000, 5000]),
        "currencies": st.sampled_from([["NOK"], ["SEK"], [{"anything-but": ["NOK"]}]]),
        "discount_code": st.sampled_from(["taco", "BURRITO"]),
        "stamp": st.integers(1, 3),
        "store": st.sampled_from([{"id": ["S1"]}, {"mcc_ranges": [{"start": "5800", "end": "5899"}]}, {"id": ["S2"]}]),
        "customer": st.sampled_from([{"status": ["vip"]}, {"gender": ["female"]}]),
    }
    for key, strategy in optional.items():
        if draw(st.integers(0, 5)) == 0:
            body[key] = draw(strategy)
    return body


@st.composite
def limitation(draw, rule_ids):
    optional = {
        "discount_reward_usage": st.sampled_from([-1, 1, 2]),
        "discount_repeat_usage": st.sampled_from([-1, 1, 3]),
        "discount_combination": st.sampled_from([-1, 0]),
        "discount_eligible": st.sampled_from(
            ["item_eligible_for_discount", "item_eligible_for_discount_no_discount", "receipt_no_discount"]
        ),
        "discount_activation": st.builds(
            lambda r: [{"type": "deactivate_if_discount_active", "value": r}], st.sampled_from(rule_ids)
        ),
        "discount_hours": st.sampled_from(
            [
                {"hours": [{"day": "wed", "start": "10:00", "end": "16:00"}]},
                {"timezone": "Europe/Oslo", "hours": [{"day": "sun", "start": "02:00", "end": "04:00"}]},
                {"timezone": "Europe/Oslo", "hours": [{"day": "sun", "start": "22:00", "end": "01:00"}]},
                {"hours": []},
            ]
        ),
        "blacklist": st.just([{"id": "c"}]),
        "stamp_expire_days": st.sampled_from([1, 30]),
        "dynamic_purchase_to_days": st.sampled_from([1, 1000, 1000]),
    }
    body = {}
    for key, strategy in optional.items():
        if draw(st.integers(0, 3)) == 0:
            body[key] = draw(strategy)
    return body


usages = st.one_of(
    st.just(UNUSED),
    st.builds(
        lambda purchases, debit, stamps: RefUsage(
            purchases=purchases,
            usage=purchases,
            amount=debit,
            stamp=sum(s for _, s in stamps),
            stamps=tuple(stamps),
            debit_used=debit,
        ),
        st.integers(0, 3),
        st.sampled_from([0, 200, 3000]),
        st.lists(st.tuples(st.sampled_from([T0 + timedelta(days=d) for d in (100, 120, 125)]), st.just(1)), max_size=2),
    ),
)


@st.composite
def candidates(draw):
    count = draw(st.integers(1, 4))
    rule_ids = [f"r{n}" for n in range(1, count + 1)]
    made = []
    for n in range(1, count + 1):
        rewarded, required = draw(reward()), draw(requirement())
        if rewarded["type"] == "discount_mix_new_price" and "mixes" not in required.get("item", {}):
            mix = {"items": draw(rule_items.filter(lambda xs: all(x.get("id") != "*" for x in xs))), "quantity": 1}
            required["item"] = {**required.get("item", {}), "mixes": [{**mix, "reward_eligible": True}]}
        found = candidate(
            n,
            reward=rewarded,
            requirement=required,
            limitation=draw(limitation(rule_ids)),
            holder=draw(st.sampled_from(["c1", "c1", "*"])),
            usage=draw(usages),
        )
        made.append(found)
        if draw(st.integers(0, 5)) == 0:  # the same rule held twice
            made.append(candidate(n, reward=found.reward, requirement=found.requirement, limitation=found.limitation,
                                  holder="*", ref=n + 10))  # fmt: skip
    return made


@st.composite
def receipts(draw):
    body = receipt(*draw(receipt_items()), at=draw(st.sampled_from(INSTANTS)))
    body["currency"] = draw(st.sampled_from(["NOK", "NOK", "SEK"]))
    if draw(st.booleans()):
        body["discount_code"] = [draw(st.sampled_from(["TACO", "other"]))]
    if draw(st.booleans()):
        body["customer"] = {"status": draw(st.sampled_from(["vip", "gold"]))}
    if draw(st.booleans()):
        body["store"] = {"id": draw(st.sampled_from(["S1", "S2"])), "mcc": draw(st.sampled_from(["5814", "5411"]))}
    return body
