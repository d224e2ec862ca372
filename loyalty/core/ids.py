"""Time-ordered UUIDs (version 7, RFC 9562): new ids land at the right edge of their btree index."""

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last = 0


def uuid7(timestamp_ms: int | None = None) -> uuid.UUID:
    ms = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version
    value |= (rand >> 66 & 0xFFF) << 64  # 12 random bits
    value |= 0b10 << 62  # variant
    value |= rand & ((1 << 61) - 1)  # the top random bit stays 0: room to count up (below)
    if timestamp_ms is None:
        # Ids made by this process keep increasing within a millisecond (and if the clock steps back): the next one
        # is the last one plus one (RFC 9562, section 6.2, method 2), so "order by id" is the order they were made.
        global _last
        with _lock:
            if value <= _last:
                value = _last + 1
            _last = value
    return uuid.UUID(int=value)
