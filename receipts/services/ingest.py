"""`POST /receipts`: validate a whole batch, then store it in one transaction with bulk SQL."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from django.db import OperationalError, transaction
from psycopg.types.json import Jsonb

from loyalty.accounts.models import Account
from loyalty.core.ids import uuid7
from receipts.documents import (
    ParsedReceipt,
    contains_nul,
    parse_receipt,
    strip_entity_fields,
    validate_receipt,
)
from receipts.models import IngestBatch
from receipts.services import read_models as rm
from receipts.services.tokens import receipt_token_issue

logger = logging.getLogger(__name__)

MAX_BATCH = 1000
DEADLOCK_RETRIES = 3


class ReceiptValidationError(Exception):
    """The batch is invalid; `errors` lists every problem as {index, path, message}. Nothing was stored."""

    def __init__(self, message: str, errors: list[dict[str, Any]]):
        super().__init__(message)
        self.message = message
        self.errors = errors


@dataclass(frozen=True)
class StoredReceipt:
    id: str
    created_at: datetime
    created_by: str
    updated_at: datetime


@dataclass(frozen=True)
class IngestResult:
    receipts: list[StoredReceipt]
    duplicates: int
    customer_pks: list[int]
    batch_id: int | None


def receipts_validate(documents: Any) -> list[ParsedReceipt]:
    if not isinstance(documents, list):
        raise ReceiptValidationError("The body must be a JSON array of receipts.", [])
    if not documents:
        raise ReceiptValidationError("The body must contain at least one receipt.", [])
    if len(documents) > MAX_BATCH:
        raise ReceiptValidationError(f"At most {MAX_BATCH} receipts per request; this one has {len(documents)}.", [])
    errors: list[dict[str, Any]] = []
    for index, document in enumerate(documents):
        problems = validate_receipt(document)
        if not problems and contains_nul(document):
            problems = [("", "text must not contain NUL (\\u0000) characters")]
        errors.extend({"index": index, "path": path, "message": message} for path, message in problems)
    if errors:
        raise ReceiptValidationError(
            f"{len({e['index'] for e in errors})} of {len(documents)} receipts are invalid.", errors
        )
    return [parse_receipt(index, strip_entity_fields(document)) for index, document in enumerate(documents)]


def receipt_ingest(
    *,
    account: Account,
    documents: Any,
    created_by: str,
    token_expire_days: int | None = None,
    base_url: str = "",
) -> IngestResult:
    """Validate every receipt, then store the new ones, their customers and read models in one transaction."""
    parsed = receipts_validate(documents)

    # Duplicates inside the batch: the first occurrence of (store.id, receipt_id) wins.
    unique: dict[tuple[str, str], ParsedReceipt] = {}
    for receipt in parsed:
        unique.setdefault((receipt.receipt_id, receipt.store_id), receipt)
    candidates = sorted(unique.values(), key=lambda r: (r.receipt_id, r.store_id))
    uuids = {id(receipt): uuid7() for receipt in candidates}
    if token_expire_days:
        expires_at = datetime.now(UTC) + timedelta(days=token_expire_days)
        for receipt in candidates:
            _attach_token(receipt, account, uuids[id(receipt)], expires_at, base_url)

    for attempt in range(1, DEADLOCK_RETRIES + 1):
        try:
            with transaction.atomic():
                result = _store(account, candidates, uuids, created_by, received=len(parsed))
            return result
        except OperationalError as exc:
            # Two batches sharing customers can still deadlock on rare orders; the loser retries cleanly.
            if not isinstance(exc.__cause__, psycopg.errors.DeadlockDetected) or attempt == DEADLOCK_RETRIES:
                raise
            time.sleep(0.05 * attempt)
        except psycopg.errors.DeadlockDetected:
            if attempt == DEADLOCK_RETRIES:
                raise
            time.sleep(0.05 * attempt)
    raise AssertionError("unreachable")


def _attach_token(receipt: ParsedReceipt, account: Account, receipt_uuid, expires_at: datetime, base_url: str) -> None:
    token = receipt_token_issue(
        base_url=base_url,
        aid=account.aid,
        receipt_uuid=str(receipt_uuid),
        receipt_id=receipt.receipt_id,
        store_id=receipt.store_id,
        customer_id=receipt.customer_id,
        expires_at=expires_at,
    )
    url = f"{base_url}/v1/accounts/{account.aid}/receipts/receipt-token?token={token}"
    extra = list(receipt.document.get("extra_info") or [])
    extra += [
        {"key": "dintero.receipt.token.value", "value": token, "value_type": "string"},
        {
            "key": "dintero.receipt.token.expires_at",
            "value": expires_at.isoformat().replace("+00:00", "Z"),
            "value_type": "datetime",
        },
        {"key": "dintero.receipt.token.url", "value": url, "value_type": "string"},
    ]
    receipt.document = {**receipt.document, "extra_info": extra}


def _store(
    account: Account,
    candidates: list[ParsedReceipt],
    uuids: dict[int, Any],
    created_by: str,
    *,
    received: int,
) -> IngestResult:
    cur = rm.raw_cursor()
    rm.lock_windows_shared(cur, account.id)
    customers = rm.customers_ensure(cur, account.id, (r.customer_id for r in candidates if r.customer_id))

    cur.execute(
        """
        INSERT INTO receipts_receipt (
            uuid, account_id, receipt_id, store_id, customer_id, customer_pk, purchase_at, currency,
            gross_amount, net_amount, entry_status, is_purchase, item_count, document,
            created_at, created_by, updated_at)
        SELECT u, %s, rid, sid, cid, cpk, at, cur, gross, net, status, purchase, items, doc, now(), %s, now()
        FROM unnest(%s::uuid[], %s::text[], %s::text[], %s::text[], %s::int[], %s::timestamptz[], %s::text[],
                    %s::int8[], %s::int8[], %s::text[], %s::bool[], %s::int[], %s::jsonb[])
             AS t(u, rid, sid, cid, cpk, at, cur, gross, net, status, purchase, items, doc)
        ON CONFLICT (account_id, receipt_id, store_id) DO NOTHING
        RETURNING id, uuid, receipt_id, store_id, created_at, updated_at
        """,
        [
            account.id,
            created_by,
            [uuids[id(r)] for r in candidates],
            [r.receipt_id for r in candidates],
            [r.store_id for r in candidates],
            [r.customer_id for r in candidates],
            [customers.get(r.customer_id) if r.customer_id else None for r in candidates],
            [r.purchase_at for r in candidates],
            [r.currency for r in candidates],
            [r.gross_amount for r in candidates],
            [r.net_amount for r in candidates],
            [r.entry_status for r in candidates],
            [r.is_purchase for r in candidates],
            [r.item_count for r in candidates],
            [Jsonb(r.document) for r in candidates],
        ],
    )
    inserted = {(row[2], row[3]): row for row in cur.fetchall()}
    stored = [r for r in candidates if (r.receipt_id, r.store_id) in inserted]
    receipt_pks = [inserted[(r.receipt_id, r.store_id)][0] for r in stored]

    if stored:
        customer_of = {r.index: customers.get(r.customer_id) if r.customer_id else None for r in stored}
        codes = rm.codes_resolve(cur, account.id, (code for r in stored for code in r.codes))
        rm.facts_insert(
            cur,
            account.id,
            rm.facts_for(((r, inserted[(r.receipt_id, r.store_id)][0], customer_of[r.index]) for r in stored), codes),
        )
        rm.windows_add_receipts(cur, account.id, receipt_pks)
        rm.customers_lock(cur, (pk for pk in customer_of.values() if pk is not None))
        rm.customers_add_batch(cur, ((r, customer_of[r.index]) for r in stored))

    customer_pks = sorted({customers[r.customer_id] for r in stored if r.customer_id})
    rm.announce_batch(account.id)
    batch = IngestBatch.objects.create(
        account=account,
        source=IngestBatch.Source.API,
        created_by=created_by,
        received=received,
        stored=len(stored),
        duplicates=received - len(stored),
        customer_pks=customer_pks,
        purchase_from=min((r.purchase_at for r in stored), default=None),
        purchase_to=max((r.purchase_at for r in stored), default=None),
    )
    # Entities in the order the client sent them.
    entities = [
        StoredReceipt(id=str(row[1]), created_at=row[4], created_by=created_by, updated_at=row[5])
        for row in (inserted[(r.receipt_id, r.store_id)] for r in sorted(stored, key=lambda r: r.index))
    ]
    return IngestResult(
        receipts=entities, duplicates=received - len(stored), customer_pks=customer_pks, batch_id=batch.pk
    )
