"""The one write path of receipts: a batch of parsed, validated receipts stored with every read model.

`POST /receipts` (a batch of up to 1,000), `import_receipts` and the generator (chunks of 10,000) all come here, in
the caller's transaction:

1. skip receipts already stored (one probe of the unique index for the batch) and ensure their customers;
2. resolve the item codes;
3. COPY the receipts (their JSONB documents are most of the server's work) and their item facts, in index order;
4. add the purchases to the purchase windows, then lock the customers and update each once (counters and latest
   customer object), count the purchases into the buyers of kept codes, and write the IngestBatch row (the outbox
   the segment engine reads).

COPY, not INSERT … SELECT unnest(…) ON CONFLICT: at 1,000 receipts per batch COPY costs ~30 µs per receipt for the
receipts and ~30 µs for the facts, the INSERT path ~150 µs and ~55 µs. A receipt another writer stored after the
probe makes the COPY fail on the unique key; that batch then takes the INSERT … ON CONFLICT DO NOTHING path. The
statements are in `receipts.sql.store`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import Any, TypeVar

import psycopg
from django.db import OperationalError, transaction

from loyalty.accounts.models import Account
from loyalty.core.ids import uuid7_texts
from loyalty.core.jsonutil import dumps
from loyalty.core.sql import raw_cursor
from receipts.documents import ParsedReceipt
from receipts.models import IngestBatch, ItemFact, Receipt
from receipts.services import read_models as rm
from receipts.sql import column_name
from receipts.sql import store as statements

# The COPY column lists as plain text, for tools that time a bare COPY (the benchmark's ingest ceiling).
RECEIPT_COLUMNS = ", ".join(column_name(Receipt, name) for name in statements.RECEIPT_FIELDS)
FACT_COLUMNS = ", ".join(column_name(ItemFact, name) for name in statements.FACT_FIELDS)


DEADLOCK_ATTEMPTS = 3
T = TypeVar("T")


def retrying_deadlocks(attempt: Callable[[], T]) -> T:
    """Run `attempt` (one whole transaction) again when PostgreSQL chose it as a deadlock's victim: batches that
    share customers can still meet in rare orders, and the loser retries cleanly."""
    for number in range(1, DEADLOCK_ATTEMPTS + 1):
        try:
            return attempt()
        except (OperationalError, psycopg.errors.DeadlockDetected) as exc:
            # through Django's cursor the psycopg error arrives wrapped in OperationalError
            deadlock = isinstance(exc, psycopg.errors.DeadlockDetected) or isinstance(
                exc.__cause__, psycopg.errors.DeadlockDetected
            )
            if not deadlock or number == DEADLOCK_ATTEMPTS:
                raise
            time.sleep(0.05 * number)
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class StoredRow:
    pk: int
    uuid: str
    receipt: ParsedReceipt
    customer_pk: int | None


@dataclass(frozen=True)
class StoredBatch:
    rows: list[StoredRow]  # in the order given
    created_at: datetime
    codes: dict[tuple[str, str], int]  # the item codes this batch resolved (not the known ones it was given)
    batch_id: int | None  # the IngestBatch row; None when nothing was new


def receipts_store(
    *,
    account: Account,
    receipts: Sequence[ParsedReceipt],
    created_by: str,
    source: str,
    received: int,
    probed: bool = False,
    customers: dict[str, int] | None = None,
    uuids: Sequence[str] | None = None,
    known_codes: dict[tuple[str, str], int] | None = None,
) -> StoredBatch:
    """Store the receipts that are new.

    They must be unique by (receipt_id, store_id): the caller keeps the first of repeats and counts the rest in
    `received`. `probed`: the caller has just left out the stored ones (`receipts_not_stored`), ensured their
    `customers` (customer_id → pk) and resolved every item code they have into `known_codes`. `uuids` are their
    Entity ids when the caller needs them beforehand (claim tokens carry them); `known_codes` are item codes
    committed earlier (a bulk load's cache).
    """
    cur = raw_cursor()
    rm.lock_windows_shared(cur, account.id)
    candidates, ids = list(receipts), list(uuids) if uuids is not None else None
    if not probed:
        existing = set(_existing_keys(cur, account.id, [(r.receipt_id, r.store_id) for r in candidates]))
        if existing:
            kept = [i for i, r in enumerate(candidates) if (r.receipt_id, r.store_id) not in existing]
            candidates = [candidates[i] for i in kept]
            ids = [ids[i] for i in kept] if ids is not None else None
    known = known_codes or {}
    if not candidates:
        cur.execute(statements.NOW)
        (now,) = _one(cur)
        return StoredBatch(rows=[], created_at=now, codes={}, batch_id=None)

    if customers is None:
        customers = rm.customers_ensure(cur, account.id, (r.customer_id for r in candidates if r.customer_id))
    resolved = {} if probed else rm.codes_resolve(cur, account.id, rm.codes_missing(candidates, known))
    codes = {**known, **resolved}
    created_at, rows = stored_rows(cur, candidates, customers, ids)
    receipt_text = _receipt_lines(account.id, rows, created_by, created_at)
    try:
        with transaction.atomic(), cur.copy(statements.COPY_RECEIPTS) as copy:
            copy.write(receipt_text)
    except psycopg.errors.UniqueViolation:
        # Another writer stored some of these after the probe: store the rest, skipping what exists.
        rows = _insert_skipping_duplicates(cur, receipt_text, rows)
    if not rows:
        return StoredBatch(rows=[], created_at=created_at, codes=resolved, batch_id=None)

    with cur.copy(statements.COPY_FACTS) as copy:
        copy.write(_fact_lines(account.id, rows, codes))
    rm.windows_add_receipts(cur, account.id, [row.pk for row in rows])
    customer_pks = sorted({row.customer_pk for row in rows if row.customer_pk is not None})
    rm.customers_lock(cur, customer_pks)
    rm.customers_add_batch(cur, ((row.receipt, row.customer_pk) for row in rows))
    rm.buyers_add(cur, account.id, ((row.receipt, row.pk, row.customer_pk) for row in rows), codes)
    rm.announce_batch(account.id)
    batch = IngestBatch.objects.create(
        account=account,
        # the transaction's now(), as its receipts' and new customers' created_at: how consumers of the outbox
        # find what a batch stored (discounts' automation events)
        created_at=created_at,
        source=source,
        created_by=created_by,
        received=received,
        stored=len(rows),
        duplicates=received - len(rows),
        customer_pks=customer_pks,
        receipt_pks=[row.pk for row in rows],
        discounted_pks=[row.pk for row in rows if row.receipt.document.get("discounts")],
        purchase_from=min(row.receipt.purchase_at for row in rows),
        purchase_to=max(row.receipt.purchase_at for row in rows),
    )
    return StoredBatch(rows=rows, created_at=created_at, codes=resolved, batch_id=batch.pk)


def stored_rows(
    cur: psycopg.Cursor, receipts: Sequence[ParsedReceipt], customers: dict[str, int], uuids: Sequence[str] | None
) -> tuple[datetime, list[StoredRow]]:
    """The transaction's now() and the receipts with their primary keys (drawn from the sequence in one query),
    Entity ids (new ones unless given) and customer pks."""
    cur.execute(statements.NOW_AND_RECEIPT_IDS, [len(receipts)])
    now, pks = _one(cur)
    rows = [
        StoredRow(pk, uuid, r, customers.get(r.customer_id) if r.customer_id else None)
        for pk, uuid, r in zip(pks, uuids or uuid7_texts(len(receipts)), receipts, strict=True)
    ]
    return now, rows


def _one(cur: psycopg.Cursor) -> tuple[Any, ...]:
    """The one row a statement that always answers one row answered."""
    row = cur.fetchone()
    assert row is not None
    return tuple(row)


def _receipt_lines(account_id: int, rows: list[StoredRow], created_by: str, now: datetime) -> str:
    text, null = rm.copy_text, "\\N"
    account = f"\t{account_id}\t"
    at = now.isoformat()
    tail = f"\t{at}\t{text(created_by)}\t{at}\n"
    return "".join(
        [
            f"{row.pk}\t{row.uuid}{account}{text(r.receipt_id)}\t{text(r.store_id)}\t{text(r.customer_id)}\t"
            f"{null if row.customer_pk is None else row.customer_pk}\t{r.purchase_at.isoformat()}\t"
            f"{text(r.currency)}\t{text(r.gross_amount)}\t{text(r.net_amount)}\t{text(r.entry_status)}\t"
            f"{'t' if r.is_purchase else 'f'}\t{r.item_count}\t{text(r.document_json or dumps(r.document))}{tail}"
            for row in rows
            for r in (row.receipt,)
        ]
    )


def _fact_lines(account_id: int, rows: list[StoredRow], codes: dict[tuple[str, str], int]) -> str:
    """COPY text for the facts of stored purchases of known customers, in index order."""
    keyed: list[tuple[int, datetime, str]] = []
    append = keyed.append
    for row in rows:
        receipt = row.receipt
        if row.customer_pk is None or not receipt.is_purchase:
            continue
        at = receipt.purchase_at
        tail = f"\t{at.isoformat()}\t{codes[('store', receipt.store_id)]}\t{row.customer_pk}\t{row.pk}\n"
        for code in [codes[kind, value] for kind, value, _ in receipt.codes]:
            append((code, at, tail))
    keyed.sort(key=itemgetter(0, 1))  # index order, for locality; datetimes compare faster than their text
    prefix = f"{account_id}\t"
    return "".join([f"{prefix}{code}{tail}" for code, _, tail in keyed])


def receipts_not_stored(
    *, cur: psycopg.Cursor, account_id: int, receipts: Sequence[ParsedReceipt]
) -> list[ParsedReceipt]:
    """The receipts whose (receipt_id, store_id) is not stored yet, in the order given."""
    existing = set(_existing_keys(cur, account_id, [(r.receipt_id, r.store_id) for r in receipts]))
    return [r for r in receipts if (r.receipt_id, r.store_id) not in existing] if existing else list(receipts)


def _existing_keys(cur: psycopg.Cursor, account_id: int, keys: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Which (receipt_id, store_id) are stored already: one probe of the unique index each."""
    if not keys:
        return []
    cur.execute(statements.EXISTING_KEYS, [[k[0] for k in keys], [k[1] for k in keys], account_id])
    return [tuple(row) for row in cur.fetchall()]


def _insert_skipping_duplicates(cur: psycopg.Cursor, receipt_text: str, rows: list[StoredRow]) -> list[StoredRow]:
    cur.execute(statements.BULK_CREATE)
    with cur.copy(statements.BULK_COPY) as copy:
        copy.write(receipt_text)
    cur.execute(statements.BULK_INSERT_NEW)
    stored = {row[0] for row in cur.fetchall()}
    cur.execute(statements.BULK_DROP)
    return [row for row in rows if row.pk in stored]
