"""`raw_cursor(c_timestamps=True)` parses timestamptz with psycopg's C loader: the same datetimes, in the same zone
object, as Django's loader gives, for the whole range PostgreSQL and Python share."""

from __future__ import annotations

import pytest

from loyalty.core.sql import raw_cursor

VALUES = """
    SELECT v FROM unnest(ARRAY[
        now(), '2024-01-01T00:00:00Z', '2026-06-03 12:00:00.123456+02', '0001-01-01 00:00:00+00',
        '9999-12-31 23:59:59.999999+00', '1969-12-31 23:59:59.5-03:30', NULL
    ]::timestamptz[]) AS v
"""


@pytest.mark.django_db
def test_c_timestamps_are_djangos_datetimes():
    django_loaded = raw_cursor().execute(VALUES).fetchall()
    c_loaded = raw_cursor(c_timestamps=True).execute(VALUES).fetchall()
    assert c_loaded == django_loaded
    for (c_value,), (django_value,) in zip(c_loaded, django_loaded, strict=True):
        if django_value is not None:
            assert c_value.tzinfo is django_value.tzinfo
            assert c_value.isoformat() == django_value.isoformat()


@pytest.mark.django_db
def test_any_rfc_3339_offset_reaches_postgresql_as_the_same_instant():
    # PostgreSQL refuses offsets past ±15:59 in a literal; Django sends parameters as literals
    from datetime import UTC, datetime, timedelta, timezone

    from django.db import connection

    from receipts.models import Receipt

    far_east = datetime(2024, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=18, minutes=42)))
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::timestamptz", [far_east])
        assert cursor.fetchone()[0] == datetime(2024, 4, 30, 17, 18, tzinfo=UTC)
    assert Receipt.objects.filter(purchase_at__gte=far_east).count() == 0
    assert raw_cursor().execute("SELECT %s::timestamptz", [far_east]).fetchone()[0] == far_east


def test_the_utc_dumper_leaves_naive_values_and_unconvertible_instants_as_written():
    from datetime import datetime, timedelta, timezone

    from loyalty.core.sql import UtcDatetimeDumper

    dumper = UtcDatetimeDumper(datetime)
    assert bytes(dumper.dump(datetime(2024, 5, 1, 12, 0))) == b"2024-05-01 12:00:00"
    late = datetime(9999, 12, 31, 23, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert bytes(dumper.dump(late)) == b"9999-12-31 23:00:00-05:00"
    far_east = datetime(2024, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=18, minutes=42)))
    assert bytes(dumper.dump(far_east)) == b"2024-04-30 17:18:00+00:00"
