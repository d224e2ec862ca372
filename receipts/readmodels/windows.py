"""Purchase windows: per-customer purchase counts and sums for a date range, built once and kept current.

A segment criterion such as "5+ purchases in the last 365 days" would otherwise aggregate every receipt of the
account on every evaluation. The first use of a window builds its stats; from then on every ingest adds its
receipts to the windows they fall in (receipts.services.read_models.windows_add_receipts), inside the ingest
transaction, so the stats are exact at every commit.

Building is cheap when a similar window exists: "the last 365 days" tomorrow is yesterday's window minus one day
plus one day, so a new window is derived from the closest existing one by adding and subtracting the receipts of
the few days where they differ, instead of aggregating the whole year again.
"""

from __future__ import annotations

import zlib
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from loyalty.accounts.models import Account
from loyalty.core.sql import advisory_xact_lock, column, columns, raw_cursor, sql, table
from receipts.models import PurchaseWindow, Receipt, WindowStat
from receipts.sql.deferred import NOT_STAGED

TOUCH_AFTER = timedelta(minutes=10)
# Windows nobody evaluated lately go: every ingest keeps every window current, so strays would cost every batch.
# A segment recalculated daily rebuilds (derives) its windows then; the builder's trial periods do not linger.
FORGET_AFTER = timedelta(hours=2)
# Derive from an existing window when the ranges where they differ are at most this share of the new window.
DERIVE_WHEN_DIFFERENCE_BELOW = 0.25

Bounds = tuple[datetime | None, datetime | None]
Range = tuple[datetime, datetime]


def windows_lock_key(account_id: int) -> int:
    """The lock that orders building a window or a code's buyers (exclusive) against ingests (shared).

    Ingests take the same key, shared (receipts.services.read_models.lock_windows_shared)."""
    return zlib.crc32(b"receipts.windows") << 20 ^ account_id


def purchase_window_ensure(*, account: Account, starts_at: datetime | None, ends_at: datetime | None) -> int:
    """The id of the window [starts_at, ends_at) (None = unbounded), building its stats if it is new.

    Callers build outside any transaction, so the window is committed before anyone reads it and the exclusive lock
    is held only while it is built. Inside a caller's transaction (a test's, a management shell's) it is built there
    and the lock is held until that transaction ends.
    """
    window = PurchaseWindow.objects.filter(account=account, starts_at=starts_at, ends_at=ends_at).first()
    if window is not None:
        if timezone.now() - window.last_used_at > TOUCH_AFTER:
            PurchaseWindow.objects.filter(pk=window.pk).update(last_used_at=timezone.now())
        return window.pk
    with transaction.atomic():
        cur = raw_cursor()
        # Exclusive against ingests (they hold it shared): none is half-way while we aggregate, and every later
        # ingest sees this window and keeps it current.
        advisory_xact_lock(cur, windows_lock_key(account.pk))
        window = PurchaseWindow.objects.filter(account=account, starts_at=starts_at, ends_at=ends_at).first()
        if window is not None:
            return window.pk
        base = _closest(account, starts_at, ends_at)
        window = PurchaseWindow.objects.create(account=account, starts_at=starts_at, ends_at=ends_at)
        if base is None:
            _build(cur, account, window)
        else:
            _derive(cur, account, window, base)
    # Fresh statistics for the new window's rows: without them the planner takes a window for a handful of rows and
    # joins its customers by nested loop. ANALYZE samples a fixed number of rows: tens of milliseconds per window. A
    # derived window's customers and counts are distributed as its base's, already in the statistics: only how many
    # rows the new window id has is news, and analysing that column alone costs a third.
    only = sql.SQL("") if base is None else sql.SQL(" ({})").format(column(WindowStat, "window"))
    raw_cursor().execute(sql.SQL("ANALYZE {}{}").format(table(WindowStat), only))
    return window.pk


def _ranges_between(a: Bounds, b: Bounds) -> tuple[list[Range], list[Range]] | None:
    """The ranges in b but not in a ("add") and in a but not in b ("remove"), as [start, end) pairs; None when the
    difference is unbounded (an open end on one side only)."""
    (a_start, a_end), (b_start, b_end) = a, b
    if (a_start is None) != (b_start is None) or (a_end is None) != (b_end is None):
        return None
    add: list[Range] = []
    remove: list[Range] = []
    if a_start is not None and b_start is not None and a_start != b_start:
        (add if b_start < a_start else remove).append((min(a_start, b_start), max(a_start, b_start)))
    if a_end is not None and b_end is not None and a_end != b_end:
        (add if b_end > a_end else remove).append((min(a_end, b_end), max(a_end, b_end)))
    return add, remove


def _span(ranges: list[Range]) -> float:
    return sum((end - start).total_seconds() for start, end in ranges)


Base = tuple[PurchaseWindow, list[Range], list[Range]]


def _closest(account: Account, starts_at: datetime | None, ends_at: datetime | None) -> Base | None:
    if starts_at is None or ends_at is None:
        reference = timedelta(days=365).total_seconds()  # open windows: compare against a year's worth of receipts
    else:
        reference = max((ends_at - starts_at).total_seconds(), 1)
    best: tuple[float, Base] | None = None
    for candidate in PurchaseWindow.objects.filter(account=account):
        difference = _ranges_between((candidate.starts_at, candidate.ends_at), (starts_at, ends_at))
        if difference is None:
            continue
        cost = _span(difference[0]) + _span(difference[1])
        if cost / reference < DERIVE_WHEN_DIFFERENCE_BELOW and (best is None or cost < best[0]):
            best = (cost, (candidate, *difference))
    return None if best is None else best[1]


_STAT_COLUMNS = columns(WindowStat, ["window", "customer", "purchases", "net_total", "gross_total"])
_PURCHASES = sql.SQL(
    "SELECT {customer}, {sign} * count(*), {sign} * coalesce(sum({net}), 0), {sign} * coalesce(sum({gross}), 0)"
    " FROM {receipt}"
    " WHERE {account} = %s AND {is_purchase} AND {customer} IS NOT NULL"
    " AND (%s::timestamptz IS NULL OR {at} >= %s::timestamptz)"
    " AND (%s::timestamptz IS NULL OR {at} < %s::timestamptz)"
    " AND {not_staged}"
    " GROUP BY {customer}"
)


def _purchases(sign: int, start: datetime | None, end: datetime | None) -> tuple[sql.Composed, list[Any]]:
    """Per customer: ±(purchases, net, gross) of the account's purchases in [start, end) (None = unbounded), but
    those a bulk load has stored and not built the read models of yet: the end of that load adds them to every
    window (receipts.services.deferred), this one included."""
    statement = _PURCHASES.format(
        customer=column(Receipt, "customer_pk"),
        sign=sql.Literal(sign),
        net=column(Receipt, "net_amount"),
        gross=column(Receipt, "gross_amount"),
        receipt=table(Receipt),
        account=column(Receipt, "account"),
        is_purchase=column(Receipt, "is_purchase"),
        at=column(Receipt, "purchase_at"),
        not_staged=NOT_STAGED,
    )
    return statement, [start, start, end, end]


def _build(cur: Any, account: Account, window: PurchaseWindow) -> None:
    purchases, params = _purchases(1, window.starts_at, window.ends_at)
    statement = sql.SQL("INSERT INTO {stat} ({columns}) SELECT %s, changes.* FROM ({purchases}) AS changes").format(
        stat=table(WindowStat), columns=_STAT_COLUMNS, purchases=purchases
    )
    cur.execute(statement, [window.pk, account.pk, *params])


def _derive(cur: Any, account: Account, window: PurchaseWindow, base: Base) -> None:
    """The base window's rows, each plus its customer's change in the ranges where the windows differ (a day or two
    of receipts: a few thousand customers), and the customers new in the window. Only the small change is
    aggregated and hashed; the base streams in key order into the new window's key range, at the right edge of the
    index. (Aggregating the base and the change together, as numeric sums, was half of deriving a year's window.)"""
    source, add, remove = base
    deltas: list[sql.Composable] = []
    params: list[Any] = []
    for sign, ranges in ((1, add), (-1, remove)):
        for start, end in ranges:
            delta, delta_params = _purchases(sign, start, end)
            deltas.append(delta)
            params += [account.pk, *delta_params]
    if not deltas:  # the same bounds: never asked for, since an existing window is returned as it is
        deltas.append(sql.SQL("SELECT NULL::int, 0, 0, 0 WHERE false"))
    statement = sql.SQL(
        """
        WITH delta AS MATERIALIZED (
            SELECT customer_pk, sum(p)::int AS p, sum(n)::bigint AS n, sum(g)::bigint AS g
            FROM ({union}) AS changes(customer_pk, p, n, g)
            GROUP BY customer_pk)
        INSERT INTO {stat} ({columns})
        SELECT %s, kept.{customer}, kept.{purchases} + coalesce(delta.p, 0),
               kept.{net} + coalesce(delta.n, 0), kept.{gross} + coalesce(delta.g, 0)
        FROM {stat} kept LEFT JOIN delta ON delta.customer_pk = kept.{customer}
        WHERE kept.{window} = %s AND kept.{purchases} + coalesce(delta.p, 0) > 0
        UNION ALL
        SELECT %s, delta.customer_pk, delta.p, delta.n, delta.g
        FROM delta
        WHERE delta.p > 0
          AND NOT EXISTS (SELECT 1 FROM {stat} kept
                          WHERE kept.{window} = %s AND kept.{customer} = delta.customer_pk)
        """
    ).format(
        union=sql.SQL(" UNION ALL ").join(deltas),
        stat=table(WindowStat),
        columns=_STAT_COLUMNS,
        customer=column(WindowStat, "customer"),
        purchases=column(WindowStat, "purchases"),
        net=column(WindowStat, "net_total"),
        gross=column(WindowStat, "gross_total"),
        window=column(WindowStat, "window"),
    )
    cur.execute(statement, [*params, window.pk, source.pk, window.pk, source.pk])


def purchase_windows_forget_unused(*, older_than: timedelta = FORGET_AFTER) -> int:
    """Drop windows nobody used lately (rolling windows leave one behind every day)."""
    cutoff = timezone.now() - older_than
    stale = list(PurchaseWindow.objects.filter(last_used_at__lt=cutoff).values_list("pk", flat=True))
    if not stale:
        return 0
    with transaction.atomic():
        cur = raw_cursor()
        for model, field in ((WindowStat, "window"), (PurchaseWindow, "id")):
            cur.execute(
                sql.SQL("DELETE FROM {} WHERE {} = ANY(%s)").format(table(model), column(model, field)), [stale]
            )
    return len(stale)
