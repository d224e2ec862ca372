"""What the evaluator knows about a ref's past: pure data, no Django.

`discounts.selectors.usage.ref_usage_load` fills it from the usage ledger (`DiscountUsage`); a dry run can build
it from simulated purchases instead. Figures count purchases, not ledger rows: a claim and the receipt of the same
purchase are one purchase, and released claims count for nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class RefUsage:
    """A ref's use until the evaluated moment (for a `*` ref: by the receipt's customer only).

    - `purchases`: distinct purchases that used the ref (what `discount_repeat_usage` limits);
    - `usage`, `amount`, `bonus`, `stamp`: totals over those purchases (the spec's per-ref `statistics`);
    - `stamps`: (when, how many) for the stamps collected since the last rewarded purchase (a purchase with
      `usage > 0` spends every stamp collected until then, its own included), oldest first; `current_stamp`
      drops those older than `stamp_expire_days`;
    - `debit_used`: minor units drawn from a `discount_debit` ref (its `amount` total).
    """

    purchases: int = 0
    usage: int = 0
    amount: int = 0
    bonus: int = 0
    stamp: int = 0
    stamps: tuple[tuple[datetime, int], ...] = ()
    debit_used: int = 0

    def current_stamp(self, *, now: datetime, expire_days: int = -1) -> int:
        """Stamps collected since the last reward and not expired at `now` (`expire_days` -1: never expire)."""
        if expire_days < 0:
            return sum(count for _, count in self.stamps)
        since = now - timedelta(days=expire_days)
        return sum(count for at, count in self.stamps if at >= since)

    def debit_balance(self, *, value: int) -> int:
        """What is left of a `discount_debit` reward of `value` minor units."""
        return max(0, value - self.debit_used)


UNUSED = RefUsage()
