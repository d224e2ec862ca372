"""Bulk loads whose read models are built after the load (`import_receipts`, the generator, the benchmark's data).

Keeping every read model current inside each chunk's transaction (receipts.services.store) costs PostgreSQL about
as much again as storing the receipts: thousands of scattered inserts into the item facts' btree and an UPDATE of
every customer row per chunk. A bulk load instead stores each chunk's receipts and COPYs what they add to the read
models into one row of the staging table (`receipts.models.StagedChunk`: parallel arrays of facts, purchases and
per-customer deltas, a fraction of the cost of a row each); when the load ends,
`staged_read_models_build` moves everything staged for the account into the read models in one transaction, set-based
and in index order: item facts, code buyers, purchase windows, customers' counters and profiles, then the chunks'
IngestBatch rows (which announce the receipts to the segment engine).

What readers see meanwhile is the read models as they were before the load: the facts, customers, windows and code
buyers do not have the load's receipts yet, no IngestBatch row names them (so incremental segment runs do not look
at their customers), and a purchase window built meanwhile leaves the staged purchases out (the build adds them
to it with the others). The result is the same, row for row, as a chunk-by-chunk load's (tests/receipts/
test_bulk_deferred.py): counters are sums, and the customer object kept is the load's latest by (purchase time,
place in the load), as successive chunks would leave it.

Known limit: a receipt of a pending load moved to another customer (`change_customer_id`, a claim) before the load
ends is also added to its first customer's counters, facts, code buyers' counts and windows when the load ends (the
move leaves the buyers alone, so they still agree with the facts); loads end within minutes and moves of receipts
being imported are rare.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

import psycopg
from django.db import transaction

from loyalty.accounts.models import Account
from loyalty.core.sql import raw_cursor
from receipts.documents import ParsedReceipt, parse_profile
from receipts.services import read_models as rm
from receipts.services.read_models import copy_text

# the write path's own receipt rows, so the receipts are stored exactly as a chunk-by-chunk load stores them
from receipts.services.store import StoredRow, stored_rows
from receipts.services.store import _insert_skipping_duplicates as insert_skipping_duplicates
from receipts.services.store import _receipt_lines as receipt_lines
from receipts.sql import deferred as statements
from receipts.sql import store as store_statements

# A receipt's rank in a load: its chunk's number times this, plus its place among the chunk's stored receipts.
RANK_PER_CHUNK = 1 << 24


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
    batch = [
        str(account.id),
        copy_text(source),
        copy_text(created_by),
        str(received),
        str(len(rows)),
        str(received - len(rows)),
        _array(sorted({row.customer_pk for row in rows if row.customer_pk is not None})),
        min(row.receipt.purchase_at for row in rows).isoformat(),
        max(row.receipt.purchase_at for row in rows).isoformat(),
        _array(row.pk for row in rows),
        _array(row.pk for row in rows if row.receipt.document.get("discounts")),
    ]
    fields = batch + _facts(rows, codes) + _purchases(rows) + _deltas(rows, chunk_number * RANK_PER_CHUNK)
    with cur.copy(statements.COPY_CHUNK) as copy:
        copy.write("\t".join(fields) + "\n")
    return len(rows)


def _array(values: Iterable[object]) -> str:
    """An array of numbers, instants or NULLs in COPY's text format (no element needs quoting)."""
    return "{" + ",".join(["NULL" if v is None else str(v) for v in values]) + "}"


def _facts(rows: list[StoredRow], codes: dict[tuple[str, str], int]) -> list[str]:
    """The facts' five arrays: code, purchase time, store code, customer, receipt (purchases of known customers)."""
    columns: list[list[object]] = [[], [], [], [], []]
    code_of, time_of, store_of, customer_of, receipt_of = columns
    for row in rows:
        receipt = row.receipt
        if row.customer_pk is None or not receipt.is_purchase:
            continue
        at, store = receipt.purchase_at.isoformat(), codes[("store", receipt.store_id)]
        for kind, value, _ in receipt.codes:
            code_of.append(codes[kind, value])
            time_of.append(at)
            store_of.append(store)
            customer_of.append(row.customer_pk)
            receipt_of.append(row.pk)
    return [_array(column) for column in columns]


def _purchases(rows: list[StoredRow]) -> list[str]:
    """The purchases' five arrays: receipt, customer, purchase time, net, gross (purchases of known customers)."""
    purchases = [row for row in rows if row.customer_pk is not None and row.receipt.is_purchase]
    return [
        _array(row.pk for row in purchases),
        _array(row.customer_pk for row in purchases),
        _array(row.receipt.purchase_at.isoformat() for row in purchases),
        _array(row.receipt.net_amount for row in purchases),
        _array(row.receipt.gross_amount for row in purchases),
    ]


def _deltas(rows: list[StoredRow], rank_base: int) -> list[str]:
    """Per customer, what the chunk adds (read_models.customer_deltas_text's counters) and the receipt whose customer
    object is their latest here (as read_models.latest_profiles picks it: the later of two at one instant)."""
    deltas: dict[int, list] = {}
    for place, row in enumerate(rows):
        if row.customer_pk is None:
            continue
        receipt = row.receipt
        delta = deltas.get(row.customer_pk)
        if delta is None:
            delta = deltas[row.customer_pk] = [0, 0, 0, 0, None, None, None, None, None]
        delta[0] += 1
        at = receipt.purchase_at
        if receipt.is_purchase:
            delta[1] += 1
            delta[2] += receipt.gross_amount or 0
            delta[3] += receipt.net_amount or 0
            delta[4] = at if delta[4] is None or at < delta[4] else delta[4]
            delta[5] = at if delta[5] is None or at > delta[5] else delta[5]
        if receipt.profile is not None and (delta[6] is None or at >= delta[6]):
            delta[6], delta[7], delta[8] = at, rank_base + place, row.pk
    customers = sorted(deltas)
    columns = [[deltas[pk][k] for pk in customers] for k in range(9)]
    for k in (4, 5, 6):  # instants
        columns[k] = [None if at is None else at.isoformat() for at in columns[k]]
    return [_array(customers)] + [_array(column) for column in columns]


def staged_read_models_build(*, account: Account) -> int:
    """Move every chunk staged for the account into the read models, in one transaction; how many chunks' batches
    it wrote (0: nothing was staged). Idempotent, and safe beside other loads, ingests and window builds."""
    params = {"account": account.pk}
    with transaction.atomic():
        cur = raw_cursor()
        cur.execute(statements.ANY_STAGED, params)
        if not _one(cur):
            return 0
        # the windows lock first (shared, as any ingest), then the staging table: a window build takes the first
        # exclusively before it reads the second
        rm.lock_windows_shared(cur, account.pk)
        cur.execute(statements.LOCK_STAGING)
        cur.execute(statements.BUILD_FACTS, params)
        cur.execute(statements.BUILD_WINDOWS, params)
        cur.execute(statements.LOCK_CUSTOMERS, params)
        _customers_add(cur, params)
        cur.execute(statements.BUILD_BUYERS, params)
        cur.execute(statements.BUILD_BATCHES, params)
        batches = len(cur.fetchall())
        cur.execute(statements.OTHERS_STAGED, params)
        cur.execute(statements.CLEAR_ACCOUNT if _one(cur) else statements.CLEAR_ALL, params)
        if batches:
            rm.announce_batch(account.pk)
    return batches


def _customers_add(cur: psycopg.Cursor, params: dict[str, int]) -> None:
    """The load's counters and latest customer objects into the customers (locked), as a chunk's write adds its own:
    one UPDATE per customer. The customer objects are read from the winning receipts and their fields extracted as
    an ingest extracts them (`parse_profile`), as read_models.customers_rederive_profiles does."""
    cur.execute(statements.DELTAS_CREATE)
    cur.execute(statements.DELTAS_FILL, params)
    cur.execute(statements.LATEST_PROFILES, params)
    lines = [
        f"{pk}\t{rm.profile_copy_fields(at, profile)}\n"
        for pk, at, document in cur.fetchall()
        if (profile := parse_profile(json.loads(document))) is not None
    ]
    if lines:
        cur.execute(statements.PROFILES_CREATE)
        with cur.copy(statements.PROFILES_COPY) as copy:
            copy.write("".join(lines))
        cur.execute(statements.DELTAS_TAKE_PROFILES)
        cur.execute(statements.PROFILES_DROP)
    cur.execute(statements.DELTAS_APPLY)
    cur.execute(statements.DELTAS_DROP)


def _one(cur: psycopg.Cursor) -> object:
    row = cur.fetchone()
    assert row is not None
    return row[0]
