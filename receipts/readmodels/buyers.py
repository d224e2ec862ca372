"""Lifetime buyers of codes (CodeBuyer): who ever bought an item, a group, a label, a maker or at a store, and how
often.

Criteria without a period ("bought from group G") and `customer_segment` over a code's whole history would otherwise
count every fact of the code on every evaluation. The first use of a code builds its buyers from the item facts; from
then on every ingest counts its purchases of kept codes in, in its own transaction (read_models.buyers_add), so they
are exact at every commit. Building (and forgetting) takes the same exclusive lock as building a purchase window,
which ingests hold shared: no ingest is half-way while the facts are read, and every later ingest sees the code as
kept (or not).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from loyalty.accounts.models import Account
from loyalty.core.sql import advisory_xact_lock, column, raw_cursor, sql, table
from receipts.models import CodeBuyer, Customer, ItemCode, ItemFact
from receipts.readmodels.windows import windows_lock_key
from receipts.sql import statement

TOUCH_AFTER = timedelta(minutes=10)
# Codes nobody evaluated lately are dropped: every ingest keeps every kept code current.
FORGET_AFTER = timedelta(hours=26)  # a segment recalculated daily keeps its codes


def code_buyers_ensure(*, account: Account, codes: Sequence[int]) -> bool:
    """Keep the lifetime buyers of these codes (of this account), building the ones not kept yet; whether all of
    them are kept now.

    Building needs a transaction of its own, committed before anyone reads the buyers (and the exclusive lock held
    only that long), and VACUUM, which no transaction may surround. Inside another transaction, codes not kept yet
    stay so and this answers False: the caller reads the item facts instead.
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
        cur = raw_cursor()
        advisory_xact_lock(cur, windows_lock_key(account.pk))
        cur.execute(_CLAIM, [account.pk, missing])
        building = sorted(row[0] for row in cur.fetchall())
        if building:
            cur.execute(_BUILD, {"account": account.pk, "codes": building})
    if building:
        # the planner needs to know how many buyers a code has (as for a new purchase window), and criteria read them
        # by index-only scans, which need the new rows' pages marked all-visible (VACUUM skips the pages already
        # marked, so it costs about what the build wrote)
        raw_cursor().execute(sql.SQL("VACUUM (ANALYZE) {}").format(table(CodeBuyer)))
    return True


_CLAIM = sql.SQL(
    "UPDATE {code} SET {since} = now(), {used} = now()"
    " WHERE {account} = %s AND {id} = ANY(%s) AND {since} IS NULL RETURNING {id}"
).format(
    code=table(ItemCode),
    since=column(ItemCode, "buyers_since"),
    used=column(ItemCode, "buyers_used_at"),
    account=column(ItemCode, "account"),
    id=column(ItemCode, "id"),
)
# A receipt has one fact per code: a buyer's facts of a code are their purchases with it. Params (named): account,
# codes.
_BUILD = statement(
    """
    INSERT INTO {b} ({b.account}, {b.code}, {b.customer}, {b.customer_external_id}, {b.purchases})
    SELECT %(account)s, bought.code, bought.customer_pk, c.{c.customer_id}, bought.n
    FROM (
        SELECT f.{f.code} AS code, f.{f.customer} AS customer_pk, count(*) AS n FROM {f} f
        WHERE f.{f.account} = %(account)s AND f.{f.code} = ANY(%(codes)s) GROUP BY 1, 2
    ) bought JOIN {c} c ON c.{c.id} = bought.customer_pk
    """,
    {"b": CodeBuyer, "c": Customer, "f": ItemFact},
)
# One account's codes nobody used since the cutoff. Params (named): account, cutoff.
_FORGET = statement(
    """
    WITH forgotten AS (
        UPDATE {code} SET {code.buyers_since} = NULL, {code.buyers_used_at} = NULL
        WHERE {code.account} = %(account)s AND {code.buyers_used_at} < %(cutoff)s
        RETURNING {code.id} AS id
    ), gone AS (
        DELETE FROM {b} b USING forgotten WHERE b.{b.account} = %(account)s AND b.{b.code} = forgotten.id
    )
    SELECT count(*) FROM forgotten
    """,
    {"code": ItemCode, "b": CodeBuyer},
)


def code_buyers_forget_unused(*, older_than: timedelta = FORGET_AFTER) -> int:
    """Stop keeping the buyers of codes nobody used lately; how many codes.

    Each account's codes are forgotten under the windows' exclusive lock, as they are built: every ingest that saw a
    code kept has committed its buyer rows before they are deleted, and every later one sees the code not kept. A
    row written after the delete would outlive the code's keeping and make its next build fail on the key."""
    cutoff = timezone.now() - older_than
    accounts = ItemCode.objects.filter(buyers_used_at__lt=cutoff).values_list("account_id", flat=True).distinct()
    forgotten = 0
    for account_id in sorted(accounts):
        with transaction.atomic():
            cur = raw_cursor()
            advisory_xact_lock(cur, windows_lock_key(account_id))
            cur.execute(_FORGET, {"account": account_id, "cutoff": cutoff})
            row = cur.fetchone()
            forgotten += int(row[0]) if row else 0
    return forgotten
