"""uuid7: version 7 ids that keep increasing in the order they are made, within a millisecond too."""

import uuid
from datetime import UTC, datetime

import pytest
from django.db import connection

from loyalty.core.ids import UUID7_BLOCK_SQL, uuid7, uuid7_block, uuid7_texts


def test_ids_made_one_after_another_increase():
    ids = [uuid7() for _ in range(20_000)]  # many share a millisecond

    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_ids_are_version_7_with_the_millisecond_in_front():
    before = int(datetime.now(UTC).timestamp() * 1000)
    made = uuid7()
    after = int(datetime.now(UTC).timestamp() * 1000)

    assert (made.version, made.variant) == (7, "specified in RFC 4122")
    assert before <= made.int >> 80 <= after


def test_an_explicit_timestamp_is_kept():
    assert uuid7(timestamp_ms=1_700_000_000_000).int >> 80 == 1_700_000_000_000


@pytest.mark.django_db
@pytest.mark.parametrize("count", [1, 3, 100_000])
def test_a_block_built_by_postgresql_continues_the_sequence(count):
    # given an id made just before
    before = uuid7()

    # when PostgreSQL builds a reserved block
    block = uuid7_block(count)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {UUID7_BLOCK_SQL.format(n='g')} FROM generate_series(1, %(count)s) AS g ORDER BY g",
            {**block, "count": count},
        )
        made = [row[0] for row in cursor.fetchall()]
    after = uuid7()

    # then every id is a version-7 RFC id, they increase with no repeats, and the process's next id is above them
    assert all((u.version, u.variant) == (7, "specified in RFC 4122") for u in made)
    assert made == sorted(made) and len(set(made)) == count
    assert before < made[0] and made[-1] < after
    assert made[-1].int - made[0].int == count - 1


def test_ids_made_in_bulk_are_the_same_kind_and_keep_increasing():
    before = uuid7()
    texts = uuid7_texts(5_000)
    after = uuid7()

    ids = [uuid.UUID(text) for text in texts]
    assert [str(i) for i in ids] == texts
    assert [before, *ids, after] == sorted({before, *ids, after})
    assert all((i.version, i.variant) == (7, "specified in RFC 4122") for i in ids)
    assert uuid7_texts(0) == []
