"""Lifetime buyers of codes (CodeBuyer): who ever bought an item, a group, a label, a maker or at a store.

Criteria without a period ("bought from group G") would otherwise de-duplicate every fact of the code on every
evaluation. The first use of a code builds its buyers from the item facts; from then on every ingest adds the new
buyers of kept codes in its own transaction (read_models.buyers_add), so they are exact at every commit. Building
takes the same exclusive lock as building a purchase window, which ingests hold shared: no ingest is half-way while
the facts are read, and every later ingest sees the code as kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from loyalty.accounts.models import Account
from receipts.models import ItemCode
from receipts.services import read_models as rm

TOUCH_AFTER = timedelta(minutes=10)
# Codes nobody evaluated lately are dropped: every ingest keeps every kept code current.
FORGET_AFTER = timedelta(hours=26)  # a segment recalculated daily keeps its codes


def code_buyers_ensure(*, account: Account, codes: Sequence[int]) -> bool:
    """Keep the lifetime buyers of these codes (of this account), building the ones not kept yet; whether all of
    them are kept now.

    Building needs a transaction of its own, committed before anyone reads the buyers (and the exclusive lock held
    only that long). Inside another transaction, codes not kept yet stay so and this answers False: the caller reads
    the item facts instead.
    """
    if not codes:
        return True
    now = timezone.now()
    mine = ItemCode.objects.filter(account=account, id__in=sorted(set(codes)))
    missing = list(mine.filter(buyers_since__isnull=True).values_list("id", flat=True))
    if connection.in_atomic_block:
        return not missing
    mine.filter(buyers_since__isnull=False, buyers_used_at__lt=now - TOUCH_AFTER).update(buyers_used_at=now)
    if not missing:
        return True
    with transaction.atomic():
        cur = rm.raw_cursor()
        cur.execute("SELECT pg_advisory_xact_lock(%s)", [rm.windows_lock_key(account.id)])
        cur.execute(
            """
            UPDATE receipts_itemcode SET buyers_since = now(), buyers_used_at = now()
            WHERE account_id = %s AND id = ANY(%s) AND buyers_since IS NULL
            RETURNING id
            """,
            [account.id, missing],
        )
        building = sorted(row[0] for row in cur.fetchall())
        if building:
            cur.execute(
                """
                INSERT INTO receipts_codebuyer (account_id, code, customer_pk)
                SELECT DISTINCT account_id, code, customer_pk FROM receipts_itemfact
                WHERE account_id = %s AND code = ANY(%s)
                """,
                [account.id, building],
            )
    if building:
        # the planner needs to know how many buyers a code has (as for a new purchase window), and criteria read them
        # by index-only scans, which need the new rows' pages marked all-visible (VACUUM skips the pages already
        # marked, so it costs about what the build wrote)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE) receipts_codebuyer")
    return True


def code_buyers_forget_unused(*, older_than: timedelta = FORGET_AFTER) -> int:
    """Stop keeping the buyers of codes nobody used lately."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            WITH forgotten AS (
                UPDATE receipts_itemcode SET buyers_since = NULL, buyers_used_at = NULL
                WHERE buyers_used_at < %s
                RETURNING account_id, id
            ), gone AS (
                DELETE FROM receipts_codebuyer b USING forgotten
                WHERE b.account_id = forgotten.account_id AND b.code = forgotten.id
            )
            SELECT count(*) FROM forgotten
            """,
            [timezone.now() - older_than],
        )
        return cursor.fetchone()[0]
