"""The usage ledger as the evaluator reads it (`ref_usage_load`) and the pure `RefUsage` arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from discounts.models import DiscountRef, DiscountUsage
from discounts.selectors.usage import ref_usage_load
from discounts.usage_state import UNUSED, RefUsage
from tests.discounts.factories import give, rule

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
Source = DiscountUsage.Source


def _ref(account, customer_id: str) -> DiscountRef:
    made = rule(account)
    give(account, made, customer_id)
    return DiscountRef.objects.get(rule=made, customer_id=customer_id)


def _use(ref: DiscountRef, source: str, key: str, *, purchase: str | None = None, days: int = 0, **figures) -> None:
    DiscountUsage.objects.create(
        account_id=ref.account_id,
        rule_id=ref.rule_id,
        ref=ref,
        customer_id=figures.pop("customer_id", ref.customer_id),
        source=source,
        source_key=key,
        purchase_key=purchase or key,
        at=T0 + timedelta(days=days),
        **figures,
    )


@pytest.mark.django_db
class TestRefUsageLoad:
    def test_unused_refs_are_there_and_empty(self, account, django_assert_num_queries):
        ref = _ref(account, "c1")
        with django_assert_num_queries(0):
            assert ref_usage_load(account=account, ref_ids=[], at=T0) == {}
        assert ref_usage_load(account=account, ref_ids=[ref.id], at=T0) == {ref.id: UNUSED}

    def test_a_claim_and_the_receipt_of_one_purchase_count_once(self, account):
        ref = _ref(account, "c1")
        _use(ref, Source.CLAIM, "claim-1", purchase="tx-1", usage=1, amount=500)
        _use(ref, Source.RECEIPT, "receipt-1", purchase="tx-1", usage=1, amount=500)
        _use(ref, Source.RECEIPT, "receipt-2", purchase="tx-2", days=1, usage=2, amount=300, bonus=40)
        got = ref_usage_load(account=account, ref_ids=[ref.id], at=T0 + timedelta(days=2))[ref.id]
        assert (got.purchases, got.usage, got.amount, got.bonus, got.debit_used) == (2, 3, 800, 40, 800)

    def test_released_claims_and_later_use_do_not_count(self, account):
        ref = _ref(account, "c1")
        _use(ref, Source.CLAIM, "claim-1", usage=1, amount=100)
        DiscountUsage.objects.filter(source_key="claim-1").update(released_at=T0 + timedelta(hours=1))
        _use(ref, Source.REF_ADD, "later", days=5, usage=1, amount=100)
        before_release = ref_usage_load(account=account, ref_ids=[ref.id], at=T0 + timedelta(minutes=1))[ref.id]
        assert before_release.purchases == 1
        assert ref_usage_load(account=account, ref_ids=[ref.id], at=T0 + timedelta(days=1))[ref.id] == UNUSED
        assert ref_usage_load(account=account, ref_ids=[ref.id], at=T0 + timedelta(days=5))[ref.id].purchases == 1

    def test_a_shared_ref_counts_only_this_customers_use(self, account):
        shared = _ref(account, "*")
        _use(shared, Source.RECEIPT, "r1", customer_id="c1", usage=1, amount=100)
        _use(shared, Source.RECEIPT, "r2", customer_id="c2", usage=1, amount=200)
        got = ref_usage_load(account=account, ref_ids=[shared.id], at=T0, customer_id="c2")[shared.id]
        assert (got.purchases, got.amount) == (1, 200)
        assert ref_usage_load(account=account, ref_ids=[shared.id], at=T0, customer_id="c3")[shared.id] == UNUSED

    def test_stamps_since_the_last_reward(self, account):
        ref = _ref(account, "c1")
        _use(ref, Source.RECEIPT, "r1", stamp=1)
        _use(ref, Source.RECEIPT, "r2", days=1, stamp=1, usage=1)  # rewarded: spends r1's and its own
        _use(ref, Source.RECEIPT, "r3", days=2, stamp=2)
        _use(ref, Source.RECEIPT, "r4", days=3, stamp=1)
        got = ref_usage_load(account=account, ref_ids=[ref.id], at=T0 + timedelta(days=9))[ref.id]
        assert got.stamp == 5
        assert got.stamps == ((T0 + timedelta(days=2), 2), (T0 + timedelta(days=3), 1))
        assert got.current_stamp(now=T0 + timedelta(days=9)) == 3
        assert got.current_stamp(now=T0 + timedelta(days=9), expire_days=6) == 1

    def test_another_accounts_ledger_is_invisible(self, account, other_account):
        theirs = _ref(other_account, "c1")
        _use(theirs, Source.RECEIPT, "r1", usage=1)
        assert ref_usage_load(account=account, ref_ids=[theirs.id], at=T0) == {theirs.id: UNUSED}


def test_debit_balance_never_goes_below_zero():
    assert RefUsage(debit_used=300).debit_balance(value=1000) == 700
    assert RefUsage(debit_used=1300).debit_balance(value=1000) == 0
