"""The evaluator by hand-computed examples: each reward type, requirement and limitation alone and together,
competing rules, hours across a DST change. Each example is also checked against the reference evaluator."""

from __future__ import annotations

from datetime import timedelta

import pytest

from discounts.evaluation import evaluate_receipt
from discounts.usage_state import RefUsage
from tests.discounts.reference_evaluator import reference_evaluate
from tests.discounts.till_data import T0, candidate, item, receipt

CHAIR = {"group_id": "chairs"}


def run(body, *found):
    """{ref_id: (status, condition, amount, bonus, stamp, usage, {line_id: units})}, checked against the reference."""
    outcome = evaluate_receipt(body, list(found))
    refs = {ref["id"]: ref for d in outcome.receipt["discounts"] for ref in d["refs"]}
    got = {}
    for entry in outcome.explain():
        ref = refs.get(entry["ref_id"])
        lines = {x["line_id"]: x.get("amount", x.get("bonus")) for x in ref["items"]} if ref else None
        figures = (ref["amount"], ref["bonus"], ref["stamp"], ref["usage"]) if ref else (0, 0, 0, 0)
        got[entry["ref_id"]] = (entry["status"], entry["condition"], *figures, lines)
    expected = {
        k: (r.status, r.condition, r.amount, r.bonus, r.stamp, r.usage, r.lines)
        for k, r in reference_evaluate(body, list(found)).items()
    }
    assert got == expected
    return got, outcome.receipt


def amounts(got, ref="ref1"):
    return got[ref][6]


BASKET = receipt(
    item(1, 10000, id="chair", groups=("chairs",), quantity=2),
    item(2, 3333, id="lamp"),
    item(3, 500, id="candle", eligible_for_discount=False),
)


class TestRewards:
    def test_percent_on_a_receipt_rounds_the_total_once(self):
        got, answer = run(BASKET, candidate(1, reward={"type": "discount_percent", "value": 12.5}))
        # 12.5 % of 10000 and 3333 = 1250 + 416.625 → 1666.625 → 1667; the half unit goes to the larger remainder
        assert got["ref1"][2] == 1667 and amounts(got) == {1: 1250, 2: 417}
        assert answer["items"][2].get("discount_lines") is None  # not eligible
        assert answer["items"][0]["discount_lines"][0]["percentage"] == 12.5

    def test_amount_on_a_receipt_is_spread_in_proportion(self):
        got, _ = run(BASKET, candidate(1, reward={"type": "discount_amount", "value": 1000}))
        assert amounts(got) == {1: 750, 2: 250}

    def test_amount_on_an_item_rule_is_per_matching_line(self):
        found = candidate(1, reward={"type": "discount_amount", "value": 700}, requirement={"item": {"items": [CHAIR]}})
        got, _ = run(BASKET, found)
        assert amounts(got) == {1: 700} and got["ref1"][5] == 1

    def test_new_price_is_per_unit(self):
        found = candidate(
            1, reward={"type": "discount_item_new_price", "value": 4000}, requirement={"item": {"items": [CHAIR]}}
        )
        got, _ = run(BASKET, found)
        assert amounts(got) == {1: 2000}  # 2 chairs at 5000 → 4000 each

    def test_free_items_are_the_cheapest_units(self):
        found = candidate(1, reward={"type": "discount_item_quantity", "value": 2})
        got, _ = run(BASKET, found)
        assert amounts(got) == {1: 5000, 2: 3333}  # the lamp, then one chair

    def test_item_percent_takes_the_cheapest_unit(self):
        found = candidate(1, reward={"type": "discount_item_percent", "value": 50})
        got, _ = run(BASKET, found)
        assert amounts(got) == {2: 1667}

    def test_debit_draws_the_balance_left(self):
        found = candidate(1, reward={"type": "discount_debit", "value": 5000}, usage=RefUsage(debit_used=4000))
        got, answer = run(BASKET, found)
        assert got["ref1"][2] == 1000
        assert answer["discounts"][0]["refs"][0]["statistics"]["debit_balance"] == 0
        used_up = candidate(1, reward={"type": "discount_debit", "value": 5000}, usage=RefUsage(debit_used=5000))
        assert run(BASKET, used_up)[0]["ref1"][1] == "reward.debit_balance"

    def test_mix_new_price(self):
        menu = {
            "item": {
                "mixes": [
                    {"items": [{"id": "chair"}], "quantity": 1, "reward_eligible": True},
                    {"items": [{"id": "lamp"}], "quantity": 1, "reward_eligible": True},
                ]
            }
        }
        found = candidate(1, reward={"type": "discount_mix_new_price", "value": 5000}, requirement=menu)
        got, _ = run(BASKET, found)
        # one chair (5000) + the lamp (3333) for 5000: 3333 off, in proportion
        assert got["ref1"][2] == 3333 and amounts(got) == {1: 2000, 2: 1333}

    def test_values_override_per_item_and_net_base(self):
        body = receipt(
            item(1, 10000, id="chair", discount_lines=[{"amount": 2000, "discount_id": "pos"}]), item(2, 1000, id="x")
        )
        found = candidate(
            1,
            reward={"type": "discount_percent", "value": 10, "base": "net",
                    "values": [{"items": [{"id": "x"}], "value": 50}]},
            requirement={"item": {"items": [{"id": "chair"}, {"id": "x"}]}},
        )  # fmt: skip
        got, _ = run(body, found)
        assert amounts(got) == {1: 800, 2: 500}  # 10 % of 8000 net; 50 % of 1000

    def test_bonus_goes_to_bonus_lines_and_leaves_the_price(self):
        bonus = candidate(1, reward={"type": "discount_percent", "value": 10, "effect": "bonus"})
        off = candidate(2, reward={"type": "discount_percent", "value": 10, "base": "net"})
        got, answer = run(BASKET, bonus, off)
        assert got["ref1"][2:4] == (0, 1333) and got["ref2"][2] == 1333
        assert answer["items"][0]["bonus_lines"][0]["bonus"] == 1000


class TestConditions:
    @pytest.mark.parametrize(
        ("requirement", "condition"),
        [
            ({"purchase_from": "2025-06-01T00:00:00Z"}, "requirement.purchase_from"),
            ({"purchase_to": "2025-05-07T11:59:59Z"}, "requirement.purchase_to"),
            ({"currencies": ["SEK"]}, "requirement.currencies"),
            ({"currencies": [{"anything-but": ["NOK"]}]}, "requirement.currencies"),
            ({"discount_code": "TACO"}, "requirement.discount_code"),
            ({"gross_amount": 13834}, "requirement.gross_amount"),
            ({"store": {"id": ["S2"]}}, "requirement.store.id"),
            ({"store": {"mcc_ranges": [{"start": "5411", "end": "5499"}]}}, "requirement.store.mcc_ranges"),
            ({"customer": {"status": ["vip"]}}, "requirement.customer.status"),
            ({"item": {"items": [{"id": "sofa"}]}}, "requirement.item.items"),
            ({"item": {"quantity": 5}}, "requirement.item.quantity"),
            ({"item": {"mixes": [{"items": [{"id": "lamp"}], "quantity": 2, "reward_eligible": True}]}},
             "requirement.item.mixes[0]"),
        ],
    )  # fmt: skip
    def test_each_requirement_alone(self, requirement, condition):
        got, _ = run(BASKET, candidate(1, requirement=requirement))
        assert got["ref1"][:2] == ("not_applicable", condition)

    @pytest.mark.parametrize(
        "requirement",
        [
            {"purchase_to": "2025-05-07T12:00:00Z"},  # bounds are inclusive
            {"gross_amount": 13833},
            {"discount_code": "CHAIR"},  # an item id, any case
            {"store": {"mcc_ranges": [{"start": "5800", "end": "5814"}]}},
            {"item": {"items": [{"id": "chair", "group_id": "chairs"}], "quantity": 2}},
        ],
    )
    def test_boundaries_that_pass(self, requirement):
        assert run(BASKET, candidate(1, requirement=requirement))[0]["ref1"][0] == "applied"

    def test_customer_fields(self):
        body = receipt(item(1, 1000), customer={"status": "vip", "marketing_consent": {"sms": {"consent": True}},
                                                "metadata": {"tier": "gold"}})  # fmt: skip
        wanted = {
            "status": ["vip"],
            "marketing_consent": {"sms": {"consent": ["true"]}},
            "attributes": {"tier": ["gold"]},
        }
        assert run(body, candidate(1, requirement={"customer": wanted}))[0]["ref1"][0] == "applied"

    def test_limitations(self):
        used = RefUsage(purchases=2)
        found = [
            candidate(1, limitation={"discount_repeat_usage": 2}, usage=used),
            candidate(2, limitation={"dynamic_purchase_to_days": 10}),
            candidate(3, limitation={"blacklist": [{"id": "chair"}, {"id": "lamp"}]}),
            candidate(4, limitation={"discount_eligible": "receipt_no_discount"}),
        ]
        body = {**BASKET, "items": [*BASKET["items"], item(4, 100, discount_lines=[{"amount": 10}])]}
        got, _ = run(body, *found)
        assert [got[f"ref{n}"][1] for n in range(1, 5)] == [
            "limitation.discount_repeat_usage",
            "limitation.dynamic_purchase_to_days",
            None,  # item 4 is not on the blacklist
            "limitation.discount_eligible",
        ]
        assert amounts(got, "ref3") == {4: 90}

    def test_reward_usage_limits_the_lines_of_an_item_rule(self):
        body = receipt(item(1, 1000), item(2, 3000), item(3, 2000))
        found = candidate(1, reward={"type": "discount_percent", "value": 10}, requirement={"item": {"items": [{"id": "a"}]}},
                          limitation={"discount_reward_usage": 2})  # fmt: skip
        got, _ = run(body, found)
        assert amounts(got) == {2: 300, 3: 200} and got["ref1"][5] == 2

    def test_stamps_collect_then_reward(self):
        rule = {"stamp": 3}
        reward = {"type": "discount_item_percent", "value": 100}
        one = RefUsage(stamp=1, stamps=((T0 + timedelta(days=120), 1),))
        two = RefUsage(stamp=2, stamps=((T0 + timedelta(days=120), 1), (T0 + timedelta(days=125), 1)))
        collecting = run(BASKET, candidate(1, requirement=rule, reward=reward, usage=one))[0]["ref1"]
        assert collecting == ("applied", None, 0, 0, 1, 0, {})
        rewarded = run(BASKET, candidate(1, requirement=rule, reward=reward, usage=two))[0]["ref1"]
        assert rewarded[2:6] == (3333, 0, 1, 1)
        expired = candidate(1, requirement=rule, reward=reward, usage=two, limitation={"stamp_expire_days": 5})
        assert run(BASKET, expired)[0]["ref1"][2:6] == (0, 0, 1, 0)


class TestHours:
    # Oslo leaves winter time on 2025-03-30: 02:00 local (01:00 UTC) becomes 03:00
    NIGHT = {"timezone": "Europe/Oslo", "hours": [{"day": "sun", "start": "01:00", "end": "03:00"}]}

    @pytest.mark.parametrize(
        ("at", "applies"),
        [
            ("2025-03-30T00:00:00+00:00", True),  # 01:00 CET
            ("2025-03-30T00:59:00+00:00", True),  # 01:59 CET
            ("2025-03-30T01:00:00+00:00", False),  # 03:00 CEST: the hour from 02:00 never happened
            ("2025-10-26T01:30:00+00:00", True),  # 02:30 CET, the repeated hour after summer time
            ("2025-10-26T00:30:00+00:00", True),  # 02:30 CEST, its first time
            ("2025-10-26T02:00:00+00:00", False),  # 03:00 CET
        ],
    )
    def test_local_wall_clock_across_dst(self, at, applies):
        got, _ = run(receipt(item(1, 1000), at=at), candidate(1, limitation={"discount_hours": self.NIGHT}))
        assert (got["ref1"][0] == "applied") is applies

    def test_a_period_may_run_past_midnight(self):
        late = {"timezone": "UTC", "hours": [{"day": "fri", "start": "22:00", "end": "02:00"}]}
        saturday_night = receipt(item(1, 1000), at="2025-05-10T01:59:00+00:00")
        sunday_night = receipt(item(1, 1000), at="2025-05-11T01:00:00+00:00")
        assert run(saturday_night, candidate(1, limitation={"discount_hours": late}))[0]["ref1"][0] == "applied"
        assert run(sunday_night, candidate(1, limitation={"discount_hours": late}))[0]["ref1"][1] == (
            "limitation.discount_hours"
        )


class TestSeveralRules:
    def test_item_rules_apply_before_receipt_rules_and_lines_never_go_negative(self):
        body = receipt(item(1, 1000, id="chair"))
        receipt_rule = candidate(1, reward={"type": "discount_amount", "value": 800})
        item_rule = candidate(
            2,
            reward={"type": "discount_item_new_price", "value": 500},
            requirement={"item": {"items": [{"id": "chair"}]}},
        )
        got, answer = run(body, receipt_rule, item_rule)
        assert amounts(got, "ref2") == {1: 500} and amounts(got, "ref1") == {1: 500}
        assert [line["discount_id"] for line in answer["items"][0]["discount_lines"]] == ["r2", "r1"]

    def test_the_best_saving_wins_over_exclusive_rules(self):
        exclusive = candidate(
            1, reward={"type": "discount_percent", "value": 20}, limitation={"discount_combination": 0}
        )
        small = candidate(2, reward={"type": "discount_amount", "value": 1000})
        also = candidate(3, reward={"type": "discount_amount", "value": 1000})
        got, _ = run(BASKET, exclusive, small, also)
        assert got["ref1"][:2] == ("applied", None) and got["ref1"][2] == 2667
        assert got["ref2"][:2] == ("overshadowed", "limitation.discount_combination")
        bigger = candidate(3, reward={"type": "discount_amount", "value": 2000})
        got, _ = run(BASKET, exclusive, small, bigger)
        assert got["ref1"][0] == "overshadowed" and got["ref2"][0] == got["ref3"][0] == "applied"

    def test_a_tie_goes_to_the_oldest_rule(self):
        newer = candidate(2, reward={"type": "discount_amount", "value": 500}, limitation={"discount_combination": 0})
        older = candidate(1, reward={"type": "discount_amount", "value": 500}, limitation={"discount_combination": 0})
        got, _ = run(BASKET, newer, older)
        assert got["ref1"][0] == "applied" and got["ref2"][0] == "overshadowed"

    def test_activation_and_one_ref_per_rule(self):
        blocker = candidate(1)
        blocked = candidate(
            2, limitation={"discount_activation": [{"type": "deactivate_if_discount_active", "value": "r1"}]}
        )
        shared = candidate(1, holder="*", ref=9)
        got, _ = run(BASKET, blocker, blocked, shared)
        assert got["ref2"][:2] == ("not_applicable", "limitation.discount_activation")
        assert got["ref9"][:2] == ("overshadowed", "ref") and got["ref1"][0] == "applied"

    def test_item_no_discount_skips_lines_an_earlier_rule_discounted(self):
        chairs = candidate(1, requirement={"item": {"items": [CHAIR]}})
        rest = candidate(2, reward={"type": "discount_percent", "value": 10},
                         limitation={"discount_eligible": "item_eligible_for_discount_no_discount"})  # fmt: skip
        got, _ = run(BASKET, chairs, rest)
        assert amounts(got, "ref2") == {2: 333}


def test_many_units_cost_what_one_does():
    """Per-unit rewards count units per line, never one by one (a scale of 10^6 units is one line)."""
    body = receipt(item(1, 3_000_000, quantity=1_000_000), item(2, 500, id="b"))
    some = candidate(1, reward={"type": "discount_item_quantity", "value": 999_999})
    (ref,) = evaluate_receipt(body, [some]).receipt["discounts"][0]["refs"]
    assert ref["items"] == [{"line_id": 1, "amount": 2_999_997}]  # the cheapest units: 3 each
    every = candidate(1, reward={"type": "discount_item_quantity", "value": 1_000_001})
    (ref,) = evaluate_receipt(body, [every]).receipt["discounts"][0]["refs"]
    assert ref["items"] == [{"line_id": 1, "amount": 3_000_000}, {"line_id": 2, "amount": 500}]
