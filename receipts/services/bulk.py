"""Bulk loading through COPY: the `import_receipts` command and the demo/benchmark generator.

Same outcome as `receipt_ingest` (duplicates skipped, customers, facts and windows kept exact), but the two big
tables are fed with COPY in chunks of thousands of receipts, and two chunks load at once on two connections
(PostgreSQL parses each chunk's JSONB in its own backend, which is most of the work).
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from operator import itemgetter

import psycopg
from django.db import connection, transaction

from loyalty.accounts.models import Account
from loyalty.core.ids import uuid7_texts
from loyalty.core.jsonutil import dumps
from receipts.documents import ParsedReceipt
from receipts.models import IngestBatch
from receipts.services import read_models as rm

logger = logging.getLogger(__name__)

RECEIPT_COLUMNS = (
    "id, uuid, account_id, receipt_id, store_id, customer_id, customer_pk, purchase_at, currency, gross_amount, "
    "net_amount, entry_status, is_purchase, item_count, document, created_at, created_by, updated_at"
)
FACT_COLUMNS = "account_id, code, purchase_at, store_code, customer_pk, receipt_pk"


@dataclass
class BulkResult:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.stored / self.seconds if self.seconds else 0.0


def _chunks(iterable: Iterable[ParsedReceipt], size: int) -> Iterator[list[ParsedReceipt]]:
    iterator = iter(iterable)
    while chunk := list(islice(iterator, size)):
        yield chunk


class _UnprobedDuplicates(Exception):
    """The COPY met a stored receipt that the sampled probe missed: the chunk is redone with the full probe."""


@contextmanager
def _few_collections() -> Iterator[None]:
    """Fewer garbage collections while loading.

    Chunks in flight are a million small acyclic objects that reference counting frees; the default thresholds
    make the collector walk them (and whatever the caller holds, such as the generator's customers) thousands of
    times, which cost more CPU than generating the receipts. Objects that exist now are frozen out of collection
    and young collections run every 20,000 allocations instead of every 700; both are restored afterwards.
    """
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def receipts_bulk_load(
    *,
    account: Account,
    receipts: Iterable[ParsedReceipt],
    created_by: str,
    chunk_size: int = 10_000,
    workers: int = 2,
    progress: Callable[[BulkResult], None] | None = None,
) -> BulkResult:
    """Store parsed (already validated) receipts; each chunk is one transaction, `workers` chunks in flight."""
    with _few_collections():
        return _bulk_load(account, receipts, created_by, chunk_size, workers, progress)


def _bulk_load(account, receipts, created_by, chunk_size, workers, progress) -> BulkResult:
    result = BulkResult()
    started = time.monotonic()
    lock = threading.Lock()
    # (kind, value) → id of the item codes that committed chunks resolved: later chunks only look up new ones.
    known_codes: dict[tuple[str, str], int] = {}

    def load(chunk: list[ParsedReceipt]) -> tuple[int, int]:
        try:
            probe_all = False
            attempt = 0
            while True:
                try:
                    with lock:
                        known = dict(known_codes)
                    with transaction.atomic():
                        stored, codes = _load_chunk(account, chunk, created_by, known, probe_all)
                    with lock:
                        known_codes.update(codes)  # committed: safe for other chunks to use
                    return len(chunk), stored
                except _UnprobedDuplicates:
                    probe_all = True
                except psycopg.errors.DeadlockDetected:
                    attempt += 1
                    if attempt == 3:
                        raise
                    time.sleep(0.1)
        finally:
            if threading.current_thread() is not threading.main_thread():
                connection.close()

    def record(future: Future) -> None:
        received, stored = future.result()
        with lock:
            result.received += received
            result.stored += stored
            result.duplicates += received - stored
            result.seconds = time.monotonic() - started
        if progress:
            progress(result)

    if workers <= 1:
        for chunk in _chunks(receipts, chunk_size):
            future: Future = Future()
            future.set_result(load(chunk))
            record(future)
        return result

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bulk") as pool:
        pending: set[Future] = set()
        for chunk in _chunks(receipts, chunk_size):
            if len(pending) >= workers:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    record(future)
            pending.add(pool.submit(load, chunk))
        for future in pending:
            record(future)
    return result


def _receipt_lines(account_id: int, rows: list[tuple[int, ParsedReceipt, int | None]], created_by: str) -> str:
    now = datetime.now(UTC).isoformat()
    text, null = rm.copy_text, "\\N"
    account = f"\t{account_id}\t"
    tail = f"\t{now}\t{text(created_by)}\t{now}\n"
    return "".join(
        [
            f"{pk}\t{uuid}{account}{text(r.receipt_id)}\t{text(r.store_id)}\t{text(r.customer_id)}\t"
            f"{null if customer_pk is None else customer_pk}\t{r.purchase_at.isoformat()}\t{text(r.currency)}\t"
            f"{text(r.gross_amount)}\t{text(r.net_amount)}\t{text(r.entry_status)}\t{'t' if r.is_purchase else 'f'}\t"
            f"{r.item_count}\t{text(dumps(r.document))}{tail}"
            for (pk, r, customer_pk), uuid in zip(rows, uuid7_texts(len(rows)), strict=True)
        ]
    )


def _fact_lines(account_id: int, rows: list[tuple[int, ParsedReceipt, int | None]], codes: dict) -> str:
    """COPY text for the facts of stored purchases of known customers, in index order."""
    keyed: list[tuple[int, str, str]] = []
    append = keyed.append
    for pk, receipt, customer_pk in rows:
        if customer_pk is None or not receipt.is_purchase:
            continue
        at = receipt.purchase_at.isoformat()
        tail = f"\t{at}\t{codes[('store', receipt.store_id)]}\t{customer_pk}\t{pk}\n"
        for kind, value, _ in receipt.codes:
            append((codes[kind, value], at, tail))
    keyed.sort(key=itemgetter(0, 1))
    prefix = f"{account_id}\t"
    return "".join([f"{prefix}{code}{tail}" for code, _, tail in keyed])


def _load_chunk(
    account: Account, chunk: list[ParsedReceipt], created_by: str, known_codes: dict, probe_all: bool
) -> tuple[int, dict[tuple[str, str], int]]:
    """Store one chunk; returns how many were stored and the item codes it resolved."""
    cur = rm.raw_cursor()
    rm.lock_windows_shared(cur, account.id)
    unique: dict[tuple[str, str], ParsedReceipt] = {}
    for receipt in chunk:  # duplicates inside the chunk: the first wins, as in the API
        unique.setdefault((receipt.receipt_id, receipt.store_id), receipt)
    keys = list(unique)
    # New receipts are the common case: probe the first, middle and last key, and all of them only if one of those
    # is stored (a chunk loaded again) or if the COPY meets a stored receipt anyway (then redone with probe_all).
    probed = probe_all or bool(_existing_keys(cur, account.id, [keys[0], keys[len(keys) // 2], keys[-1]]))
    if probed:
        for key in _existing_keys(cur, account.id, keys):
            unique.pop(key, None)
    candidates = list(unique.values())
    if not candidates:
        return 0, {}
    customers = rm.customers_ensure(cur, account.id, (r.customer_id for r in candidates if r.customer_id))
    resolved = rm.codes_resolve(
        cur, account.id, (code for r in candidates for code in r.codes if (code[0], code[1]) not in known_codes)
    )
    codes = {**known_codes, **resolved}
    cur.execute(
        "SELECT nextval(pg_get_serial_sequence('receipts_receipt', 'id')) FROM generate_series(1, %s)",
        [len(candidates)],
    )
    rows = [
        (row[0], r, customers.get(r.customer_id) if r.customer_id else None)
        for row, r in zip(cur.fetchall(), candidates, strict=True)
    ]
    receipt_text = _receipt_lines(account.id, rows, created_by)
    try:
        with transaction.atomic(), cur.copy(f"COPY receipts_receipt ({RECEIPT_COLUMNS}) FROM STDIN") as copy:
            copy.write(receipt_text)
        stored_rows = rows
    except psycopg.errors.UniqueViolation:
        if not probed:
            raise _UnprobedDuplicates from None
        # Another writer stored some of these meanwhile: take the slower path that skips what exists.
        stored_rows = _insert_skipping_duplicates(cur, receipt_text, rows)
    if not stored_rows:
        return 0, resolved
    with cur.copy(f"COPY receipts_itemfact ({FACT_COLUMNS}) FROM STDIN") as copy:
        copy.write(_fact_lines(account.id, stored_rows, codes))
    stored_pks = [pk for pk, _, _ in stored_rows]
    rm.windows_add_receipts(cur, account.id, stored_pks)
    customer_pks = sorted({customer_pk for _, _, customer_pk in stored_rows if customer_pk is not None})
    rm.customers_lock(cur, customer_pks)
    rm.customers_add_batch(cur, ((r, customer_pk) for _, r, customer_pk in stored_rows))
    rm.announce_batch(account.id)
    IngestBatch.objects.create(
        account=account,
        source=IngestBatch.Source.IMPORT,
        created_by=created_by,
        received=len(chunk),
        stored=len(stored_rows),
        duplicates=len(chunk) - len(stored_rows),
        customer_pks=customer_pks,
        purchase_from=min(r.purchase_at for _, r, _ in stored_rows),
        purchase_to=max(r.purchase_at for _, r, _ in stored_rows),
    )
    return len(stored_rows), resolved


def _existing_keys(cur: psycopg.Cursor, account_id: int, keys: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Which (receipt_id, store_id) are stored already: one probe of the unique index each."""
    cur.execute(
        """
        SELECT r.receipt_id, r.store_id FROM unnest(%s::text[], %s::text[]) AS t(rid, sid)
        JOIN receipts_receipt r ON r.account_id = %s AND r.receipt_id = t.rid AND r.store_id = t.sid
        """,
        [[k[0] for k in keys], [k[1] for k in keys], account_id],
    )
    return [tuple(row) for row in cur.fetchall()]


def _insert_skipping_duplicates(cur: psycopg.Cursor, receipt_text: str, rows):
    cur.execute(
        "CREATE TEMP TABLE IF NOT EXISTS bulk_receipts (LIKE receipts_receipt INCLUDING DEFAULTS) ON COMMIT DROP"
    )
    with cur.copy(f"COPY bulk_receipts ({RECEIPT_COLUMNS}) FROM STDIN") as copy:
        copy.write(receipt_text)
    cur.execute(
        f"""
        INSERT INTO receipts_receipt ({RECEIPT_COLUMNS})
        SELECT {RECEIPT_COLUMNS} FROM bulk_receipts ORDER BY id
        ON CONFLICT (account_id, receipt_id, store_id) DO NOTHING
        RETURNING id
        """
    )
    stored = {row[0] for row in cur.fetchall()}
    cur.execute("DROP TABLE bulk_receipts")
    return [row for row in rows if row[0] in stored]
