"""Time-ordered UUIDs (version 7, RFC 9562): new ids land at the right edge of their btree index."""

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last = 0


def _value(ms: int, rand: int) -> int:
    """The 128 bits of a version 7 id from its millisecond and 80 random bits."""
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version
    value |= (rand >> 66 & 0xFFF) << 64  # 12 random bits
    value |= 0b10 << 62  # variant
    value |= rand & ((1 << 61) - 1)  # the top random bit stays 0: room to count up (below)
    return value


def uuid7(timestamp_ms: int | None = None) -> uuid.UUID:
    ms = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    value = _value(ms, int.from_bytes(os.urandom(10), "big"))
    if timestamp_ms is None:
        # Ids made by this process keep increasing within a millisecond (and if the clock steps back): the next one
        # is the last one plus one (RFC 9562, section 6.2, method 2), so "order by id" is the order they were made.
        global _last
        with _lock:
            if value <= _last:
                value = _last + 1
            _last = value
    return uuid.UUID(int=value)


# The SQL for the n-th (1-based) id of a block reserved with uuid7_block: the high 64 bits as hex, then the low 64
# bits as (start + n - 1) with the RFC variant bits (10) set, which as a signed bigint is OR-ing in the sign bit.
UUID7_BLOCK_SQL = "(%(id_high)s::text || to_hex((%(id_low)s::bigint + {n} - 1) | (-9223372036854775808)::bigint))::uuid"


def _reserve(count: int) -> int:
    """The first of `count` consecutive ids (a uuid7 and the next ones, counting up as above), as an int. The
    counter field below the variant bits has room to count up (uuid7 leaves its top bit 0), so the version, the
    variant and the high half never change inside a block."""
    global _last
    first = uuid7().int
    with _lock:
        start = max(first, _last + 1)
        _last = start + max(count, 1) - 1
    return start


def uuid7_block(count: int) -> dict[str, str | int]:
    """Reserve `count` ids for PostgreSQL to build with UUID7_BLOCK_SQL: a block costs one id's work however many
    customers a push gives to, where a UUID object per id would cost a second per 100k."""
    start = _reserve(count)
    return {"id_high": f"{start >> 64:016x}", "id_low": start & ((1 << 62) - 1)}


def uuid7_texts(count: int) -> list[str]:
    """`count` ids as `str(uuid7())` would give them, for COPY text in bulk loads: one reserved block, no UUID
    objects."""
    if count <= 0:
        return []
    start = _reserve(count)
    texts = []
    for value in range(start, start + count):
        h = f"{value:032x}"
        texts.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return texts
