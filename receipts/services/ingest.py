"""`POST /receipts`: validate a whole batch, then store it in one transaction with bulk SQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction

from loyalty.accounts.models import Account
from loyalty.core.ids import uuid7_texts
from loyalty.core.validation import contains_nul
from receipts.documents import (
    ParsedReceipt,
    parse_receipt,
    strip_entity_fields,
    validate_receipt,
)
from receipts.errors import ReceiptValidationError
from receipts.models import IngestBatch
from receipts.services.store import StoredBatch, receipts_store, retrying_deadlocks
from receipts.services.tokens import receipt_token_issue

MAX_BATCH = 1000

__all__ = [
    "MAX_BATCH",
    "IngestResult",
    "ReceiptValidationError",
    "StoredReceipt",
    "receipt_ingest",
    "receipts_validate",
]


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

    # Duplicates inside the batch: the first occurrence of (store.id, receipt_id) wins. Stored in key order, so two
    # batches sharing receipts take their unique-index locks in the same order.
    unique: dict[tuple[str, str], ParsedReceipt] = {}
    for receipt in parsed:
        unique.setdefault((receipt.receipt_id, receipt.store_id), receipt)
    candidates = sorted(unique.values(), key=lambda r: (r.receipt_id, r.store_id))
    uuids = uuid7_texts(len(candidates))
    if token_expire_days:
        expires_at = datetime.now(UTC) + timedelta(days=token_expire_days)
        for receipt, receipt_uuid in zip(candidates, uuids, strict=True):
            _attach_token(receipt, account, receipt_uuid, expires_at, base_url)

    def attempt() -> StoredBatch:
        with transaction.atomic():
            # no audit event: the batch's IngestBatch row records who stored how many receipts, and when
            return receipts_store(
                account=account,
                receipts=candidates,
                created_by=created_by,
                source=IngestBatch.Source.API,
                received=len(parsed),
                uuids=uuids,
            )

    stored = retrying_deadlocks(attempt)
    # Entities in the order the client sent them.
    rows = sorted(stored.rows, key=lambda row: row.receipt.index)
    return IngestResult(
        receipts=[StoredReceipt(row.uuid, stored.created_at, created_by, stored.created_at) for row in rows],
        duplicates=len(parsed) - len(rows),
        customer_pks=sorted({row.customer_pk for row in rows if row.customer_pk is not None}),
        batch_id=stored.batch_id,
    )


def _attach_token(
    receipt: ParsedReceipt, account: Account, receipt_uuid: str, expires_at: datetime, base_url: str
) -> None:
    token = receipt_token_issue(
        aid=account.aid,
        receipt_uuid=receipt_uuid,
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
