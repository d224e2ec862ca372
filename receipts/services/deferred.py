"""Bulk loads whose read models are built after the load (`import_receipts`, the generator, the benchmark's data).

Keeping every read model current inside each chunk's transaction (receipts.services.store) costs PostgreSQL about
as much again as storing the receipts: thousands of scattered inserts into the item facts' btree and an UPDATE of
every customer row per chunk. A bulk load instead stores each chunk's receipts and COPYs what they add to the read
models into narrow staging tables without secondary indexes (`receipts.models.Staged*`); when the load ends,
`staged_read_models_build` moves everything staged for the account into the read models in one transaction, set-based
and in index order: item facts, code buyers, purchase windows, customers' counters and profiles, then the chunks'
IngestBatch rows (which announce the receipts to the segment engine).

What readers see meanwhile is the read models as they were before the load: the facts, customers, windows and code
buyers do not have the load's receipts yet, no IngestBatch row names them (so incremental segment runs do not look
at their customers), and a purchase window built meanwhile leaves the staged purchases out (the build adds them
to it with the others). The result is the same, row for row, as a chunk-by-chunk load's (tests/receipts/
test_bulk_deferred.py): counters are sums, and the customer object kept is the load's latest by (purchase time,
place in the load), as successive chunks would leave it.

Known limit: a receipt of a pending load moved to another customer (`PUT .../customer`) before the load ends is
counted for its first customer; loads end within minutes and moves of just-imported receipts are rare.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import psycopg
from django.db import transaction

from loyalty.accounts.models import Account
from loyalty.core.sql import raw_cursor
from receipts.documents import ParsedReceipt
from receipts.models import StagedChunk
from receipts.services import read_models as rm

# the write path's own COPY formatting, so staged rows are exactly what a chunk-by-chunk load writes
from receipts.services.store import StoredRow, stored_rows
from receipts.services.store import _fact_lines as fact_lines
from receipts.services.store import _insert_skipping_duplicates as insert_skipping_duplicates
from receipts.services.store import _receipt_lines as receipt_lines
from receipts.sql import deferred as statements
from receipts.sql import store as store_statements

# A receipt's rank in a load: its chunk's number times this, plus its place among the chunk's stored receipts.
RANK_PER_CHUNK = 1 << 24
NULL = "\\N"


def receipts_stage(
    *,
    account: Account,
    receipts: Sequence[ParsedReceipt],
    created_by: str,
    source: str,
    received: int,
    customers: dict[str, int],
    codes: dict[tuple[str, str], int],
    chunk_number: int,
) -> int:
    """Store new receipts (probed by the caller: none stored yet, unique, their customers ensured and every code in
    `codes`) and stage what they add to the read models, in the caller's transaction; how many were stored."""
    if not receipts:
        return 0
    cur = raw_cursor()
    created_at, rows = stored_rows(cur, receipts, customers, None)
    receipt_text = receipt_lines(account.id, rows, created_by, created_at)
    try:
        with transaction.atomic(), cur.copy(store_statements.COPY_RECEIPTS) as copy:
            copy.write(receipt_text)
    except psycopg.errors.UniqueViolation:
        rows = insert_skipping_duplicates(cur, receipt_text, rows)
    if not rows:
        return 0
    with cur.copy(statements.COPY_FACTS) as copy:
        copy.write(fact_lines(account.id, rows, codes))
    with cur.copy(statements.COPY_PURCHASES) as copy:
        copy.write(_purchase_lines(account.id, rows))
    with cur.copy(statements.COPY_DELTAS) as copy:
        copy.write(_delta_lines(account.id, rows, chunk_number * RANK_PER_CHUNK))
    StagedChunk.objects.create(
        account=account,
        source=source,
        created_by=created_by,
        received=received,
        stored=len(rows),
        duplicates=received - len(rows),
        customer_pks=sorted({row.customer_pk for row in rows if row.customer_pk is not None}),
        purchase_from=min(row.receipt.purchase_at for row in rows),
        purchase_to=max(row.receipt.purchase_at for row in rows),
    )
    return len(rows)


def _purchase_lines(account_id: int, rows: list[StoredRow]) -> str:
    text = rm.copy_text
    return "".join(
        [
            f"{row.pk}\t{account_id}\t{row.customer_pk}\t{r.purchase_at.isoformat()}\t{text(r.net_amount)}"
            f"\t{text(r.gross_amount)}\n"
            for row in rows
            if row.customer_pk is not None and (r := row.receipt).is_purchase
        ]
    )


def _delta_lines(account_id: int, rows: list[StoredRow], rank_base: int) -> str:
    """Per customer of the chunk: read_models.customer_deltas_text's counters and customer object, with the rank of
    the receipt that customer object came from."""
    counters = rm.customer_deltas_text((row.receipt, row.customer_pk) for row in rows)
    if not counters:
        return ""
    ranks: dict[int, tuple[datetime, int]] = {}
    for place, row in enumerate(rows):
        if row.customer_pk is None or row.receipt.profile is None:
            continue
        current = ranks.get(row.customer_pk)
        if current is None or row.receipt.purchase_at >= current[0]:  # as rm.latest_profiles picks
            ranks[row.customer_pk] = (row.receipt.purchase_at, rank_base + place)
    lines = []
    for line in counters.splitlines():
        # pk and the six counters, then the customer object's fields: the rank goes between them
        fields = line.split("\t", 7)
        rank = ranks.get(int(fields[0]))
        fields.insert(7, NULL if rank is None else str(rank[1]))
        lines.append(f"{account_id}\t" + "\t".join(fields) + "\n")
    return "".join(lines)


def staged_read_models_build(*, account: Account) -> int:
    """Move everything staged for the account into the read models, in one transaction; how many chunks' batches
    it wrote (0: nothing was staged). Idempotent, and safe beside other loads, ingests and window builds."""
    params = {"account": account.pk}
    with transaction.atomic():
        cur = raw_cursor()
        cur.execute(statements.ANY_STAGED, params)
        if not _one(cur):
            return 0
        # the windows lock first (shared, as any ingest), then the staging tables: a window build takes the first
        # exclusively before it reads the second
        rm.lock_windows_shared(cur, account.pk)
        cur.execute(statements.LOCK_STAGING)
        cur.execute(statements.BUILD_FACTS, params)
        cur.execute(statements.BUILD_WINDOWS, params)
        cur.execute(statements.LOCK_CUSTOMERS, params)
        cur.execute(statements.DELTAS_CREATE)
        cur.execute(statements.DELTAS_FILL, params)
        cur.execute(statements.DELTAS_APPLY)
        cur.execute(statements.DELTAS_DROP)
        cur.execute(statements.BUILD_BUYERS, params)
        cur.execute(statements.BUILD_BATCHES, params)
        batches = len(cur.fetchall())
        cur.execute(statements.OTHERS_STAGED, params)
        if _one(cur):
            for clear in statements.CLEAR_ACCOUNT:
                cur.execute(clear, params)
        else:
            cur.execute(statements.CLEAR_ALL)
        if batches:
            rm.announce_batch(account.pk)
    return batches


def _one(cur: psycopg.Cursor) -> object:
    row = cur.fetchone()
    assert row is not None
    return row[0]
