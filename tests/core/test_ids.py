"""uuid7: version 7 ids that keep increasing in the order they are made, within a millisecond too."""

from datetime import UTC, datetime

from loyalty.core.ids import uuid7


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
