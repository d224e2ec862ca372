"""The usage ledger as the evaluator reads it: each candidate ref's past, in one statement."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from discounts.sql_till import REF_USAGE
from discounts.usage_state import UNUSED, RefUsage
from loyalty.accounts.models import Account
from loyalty.core.sql import raw_cursor


def ref_usage_load(
    *, account: Account, ref_ids: Collection[uuid.UUID], at: datetime, customer_id: str | None = None
) -> dict[uuid.UUID, RefUsage]:
    """Every ref of `ref_ids` (unused ones too) with its use until `at`; a `*` ref's by `customer_id` only."""
    found = dict.fromkeys(ref_ids, UNUSED)
    if not found:
        return found
    cur = raw_cursor()
    cur.execute(REF_USAGE, {"account": account.pk, "refs": list(found), "at": at, "customer": customer_id})
    for ref_id, *used in cur.fetchall():
        found[ref_id] = ref_usage_of(used)
    return found


def ref_usage_of(used: Sequence[Any]) -> RefUsage:
    """A RefUsage from `sql_till.USED_COLUMNS`."""
    purchases, usage, amount, bonus, stamp, stamp_at, stamp_counts = used
    if not purchases:
        return UNUSED
    return RefUsage(
        purchases=purchases,
        usage=int(usage),
        amount=int(amount),
        bonus=int(bonus),
        stamp=int(stamp),
        stamps=tuple(zip(stamp_at, stamp_counts, strict=True)),
        debit_used=int(amount),
    )
