"""Purchase windows: built from the receipts, or derived from a similar window, they hold the same numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from receipts.models import PurchaseWindow, WindowStat
from receipts.readmodels.windows import purchase_window_ensure, purchase_windows_forget_unused
from receipts.services.bulk import receipts_bulk_load
from receipts.services.generator import GeneratorSpec, ReceiptGenerator

END = datetime(2025, 6, 1, tzinfo=UTC)


def expected(account, start, end) -> dict[int, tuple[int, int, int]]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT customer_pk, count(*), coalesce(sum(net_amount), 0), coalesce(sum(gross_amount), 0)
            FROM receipts_receipt WHERE account_id = %s AND is_purchase AND customer_pk IS NOT NULL
              AND (%s::timestamptz IS NULL OR purchase_at >= %s) AND (%s::timestamptz IS NULL OR purchase_at < %s)
            GROUP BY customer_pk
            """,
            [account.pk, start, start, end, end],
        )
        return {pk: (n, net, gross) for pk, n, net, gross in cursor.fetchall()}


def stats(window_id) -> dict[int, tuple[int, int, int]]:
    return {
        s.customer_id: (s.purchases, s.net_total, s.gross_total) for s in WindowStat.objects.filter(window_id=window_id)
    }


@pytest.fixture
def history(account):
    spec = GeneratorSpec(receipts=3000, customers=300, stores=4, days=120, items=60, groups=6, seed=9, end=END)
    receipts_bulk_load(account=account, receipts=ReceiptGenerator(spec), created_by="t", workers=1)
    return account


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("first", "second"),
    [
        (
            (END - timedelta(days=90), END),
            (END - timedelta(days=89), END + timedelta(days=1)),
        ),  # tomorrow's "last 90 days"
        ((END - timedelta(days=90), END), (END - timedelta(days=95), END - timedelta(days=3))),
        ((END - timedelta(days=60), None), (END - timedelta(days=59), None)),  # open-ended
        (
            (END - timedelta(days=100), END - timedelta(days=10)),
            (END - timedelta(days=99, hours=5), END - timedelta(days=12)),
        ),
    ],
)
def test_a_derived_window_equals_a_built_one(history, first, second):
    base = purchase_window_ensure(account=history, starts_at=first[0], ends_at=first[1])
    assert stats(base) == expected(history, *first)

    derived = purchase_window_ensure(account=history, starts_at=second[0], ends_at=second[1])

    assert derived != base
    assert stats(derived) == expected(history, *second)
    assert stats(derived)


@pytest.mark.django_db
def test_windows_nobody_uses_are_forgotten(history):
    window = purchase_window_ensure(account=history, starts_at=END - timedelta(days=30), ends_at=END)
    assert purchase_windows_forget_unused() == 0
    PurchaseWindow.objects.filter(pk=window).update(last_used_at=END - timedelta(days=1))
    assert purchase_windows_forget_unused() == 1
    assert not WindowStat.objects.filter(window_id=window).exists()


@pytest.mark.django_db
def test_a_window_derived_day_after_day_equals_one_built_each_day(history):
    # given the last 30 days' window, and a day later the next, each derived from the previous day's
    start, end = END - timedelta(days=40), END - timedelta(days=10)
    window = purchase_window_ensure(account=history, starts_at=start, ends_at=end)
    for day in range(1, 8):
        window = purchase_window_ensure(  # derived from the closest: the previous day's
            account=history, starts_at=start + timedelta(days=day), ends_at=end + timedelta(days=day)
        )

        # then each equals the window aggregated from the receipts, customers who came and went included
        assert stats(window) == expected(history, start + timedelta(days=day), end + timedelta(days=day))
    first, last = expected(history, start, end), stats(window)
    assert set(first) - set(last) and set(last) - set(first)  # customers left the window and others entered it


@pytest.mark.django_db
def test_the_primary_key_carries_every_column_so_criteria_read_a_window_index_only():
    # the columns of the key's index, INCLUDE columns too (migration 0013); a column added to the table but not
    # to the key would make a window criterion read heap rows again
    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT a.attname FROM pg_index i
            JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
            WHERE i.indrelid = %s::regclass AND i.indisprimary
            """,
            [WindowStat._meta.db_table],
        )
        covered = {name for (name,) in cur.fetchall()}
    assert covered == {field.column for field in WindowStat._meta.concrete_fields if field.column}
