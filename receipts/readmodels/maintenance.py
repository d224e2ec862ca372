"""Keeping the item facts' btree packed.

Each code's facts arrive in time order, so each code's new index entries go at the end of its key range, in the
middle of the index: a full page there splits in half and the left half is never filled again. Loaded batch by batch
(the API, chunk-by-chunk loads) the index settles about half full (tests/bench/README.md "Item facts' index"). A
rebuild packs it to its fillfactor, and the packed pages stay packed (new entries only ever split each code's last
page), so rebuilding when the index has drifted well below that keeps it small: `receipts.repack_item_facts` checks
hourly and runs `REINDEX INDEX CONCURRENTLY`, which blocks neither reads nor writes.

The fill is estimated without pgstattuple (not in the embedded server): the index's row estimate (pg_class, kept by
VACUUM and ANALYZE) times the size of one entry, from its key columns' types, over the index's pages.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from django.db import connection

from loyalty.core.sql import advisory_key, advisory_unlock, raw_cursor
from receipts.sql import maintenance as statements

# Rebuild below this estimated fill (a rebuild packs to ~0.9, the btree's default fillfactor).
REPACK_BELOW = 0.7
# Smaller indexes are not worth a rebuild.
MIN_PAGES = 1_280  # 10 MB
PAGE_BYTES = 8192
USABLE_PAGE_BYTES = PAGE_BYTES - 24 - 16  # the page header and the btree's special space
LINE_POINTER_BYTES = 4
INDEX_TUPLE_HEADER_BYTES = 8
MAXALIGN = 8
_ALIGN = {"c": 1, "s": 2, "i": 4, "d": 8}
REPACK_LOCK = advisory_key("receipts.repack_item_facts", 0)


@dataclass(frozen=True)
class IndexFill:
    name: str
    pages: int
    rows: float
    entry_bytes: int

    @property
    def fill(self) -> float:
        """The share of the index's pages its entries take, about (internal pages count as empty)."""
        return self.rows * self.entry_bytes / (self.pages * USABLE_PAGE_BYTES) if self.pages else 1.0


def entry_bytes(columns: list[tuple[int, str]]) -> int | None:
    """Bytes one index entry takes on a page (tuple and line pointer) for key columns of these (typlen, typalign),
    or None when one is variable-width."""
    offset = INDEX_TUPLE_HEADER_BYTES
    for length, align in columns:
        if length < 0:
            return None
        step = _ALIGN[align]
        offset = -(-offset // step) * step + length
    return -(-offset // MAXALIGN) * MAXALIGN + LINE_POINTER_BYTES


def item_facts_index_fill() -> IndexFill | None:
    """The item facts' primary key: its name, pages, row estimate and entry size (None before the first ANALYZE)."""
    cur = raw_cursor()
    cur.execute(statements.FACTS_INDEX)
    row = cur.fetchone()
    if row is None:
        return None
    name, pages, rows, columns = row
    size = entry_bytes([(int(length), str(align)) for length, align in columns])
    if size is None or rows is None or rows <= 0:
        return None
    return IndexFill(name=name, pages=int(pages), rows=float(rows), entry_bytes=size)


def item_facts_repack(*, below: float = REPACK_BELOW, min_pages: int = MIN_PAGES) -> IndexFill | None:
    """Rebuild the item facts' index when it is big enough and its estimated fill is under `below`; the fill
    measured before, when it rebuilt. Outside any transaction (REINDEX CONCURRENTLY cannot run in one)."""
    if connection.in_atomic_block:
        raise RuntimeError("item_facts_repack must not run inside a transaction")
    cur = raw_cursor()
    # one rebuild at a time: a second one would take the first one's new copy for a leftover
    cur.execute(statements.TRY_LOCK, [REPACK_LOCK])
    if not _one(cur):
        return None
    try:
        found = item_facts_index_fill()
        if found is None or found.pages < min_pages or found.fill >= below:
            return None
        # a rebuild cut short (a worker killed mid-way) leaves an invalid copy that every write still updates
        cur.execute(statements.INVALID_LEFTOVERS)
        for (leftover,) in cur.fetchall():
            cur.execute(statements.drop_index(leftover))
        cur.execute(statements.reindex(found.name))
        return found
    finally:
        advisory_unlock(cur, REPACK_LOCK)


def _one(cur: psycopg.Cursor) -> object:
    row = cur.fetchone()
    assert row is not None
    return row[0]
