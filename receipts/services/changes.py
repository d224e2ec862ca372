"""Changes to stored receipts: give an anonymous receipt a customer (PUT or token claim), move a receipt to
another customer. Each keeps the customer counters, item facts, code buyers and purchase windows exact."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from loyalty.accounts.models import Account
from loyalty.core.services import audit_record
from loyalty.core.sql import raw_cursor
from receipts.documents import customer_id_problems, definition_validator, parse_receipt
from receipts.errors import ReceiptRuleError
from receipts.models import IngestBatch, Receipt
from receipts.selectors.api import receipt_token_check
from receipts.services import read_models as rm

__all__ = ["ReceiptRuleError", "receipt_change_customer", "receipt_claim", "receipt_update_anonymous"]


def _assign(account: Account, receipt: Receipt, new_customer_id: str, actor: str) -> Receipt:
    """Point `receipt` (locked by the caller) at `new_customer_id` and repair every read model: both customers'
    counters and profiles are derived again from the receipts each has now."""
    cur = raw_cursor()
    rm.lock_windows_shared(cur, account.id)
    old_pk = receipt.customer_pk_id
    new_pk = rm.customers_ensure(cur, account.id, [new_customer_id])[new_customer_id]
    parsed = parse_receipt(0, receipt.document)
    receipt.customer_id = new_customer_id
    receipt.customer_pk_id = new_pk
    receipt.updated_at = timezone.now()
    # any change of customer spends the receipt's outstanding tokens
    receipt.token_claimed_at = receipt.token_claimed_at or receipt.updated_at
    receipt.save(update_fields=["customer_id", "customer_pk", "document", "updated_at", "token_claimed_at"])
    codes: dict[tuple[str, str], int] = {}
    if receipt.is_purchase:
        codes = rm.codes_resolve(cur, account.id, parsed.codes)
        if old_pk is None:
            rm.facts_insert(cur, account.id, rm.facts_for([(parsed, receipt.pk, new_pk)], codes))
        elif not rm.facts_move(cur, account.id, parsed, receipt.pk, list(codes.values()), new_pk):
            # its bulk load has not built its facts yet: they go to the old customer then, and so do its buyers'
            # counts (deferred.py's known limit), so the buyers stay what the facts say
            codes = {}
    customer_pks = [pk for pk in (old_pk, new_pk) if pk is not None]
    rm.customers_lock(cur, customer_pks)
    rm.customers_recompute(cur, customer_pks)
    rm.customers_rederive_profiles(cur, customer_pks)
    if codes:
        rm.buyers_add(cur, account.id, [(parsed, receipt.pk, new_pk)], codes)
        if old_pk is not None:
            rm.buyers_remove_purchase(cur, account.id, old_pk, list(codes.values()))
    rm.windows_forget_covering(cur, account.id, [receipt.purchase_at])
    rm.announce_batch(account.id)
    IngestBatch.objects.create(
        account=account,
        source=IngestBatch.Source.CHANGE,
        created_by=actor,
        received=1,
        stored=1,
        duplicates=0,
        customer_pks=sorted(pk for pk in (old_pk, new_pk) if pk is not None),
        receipt_pks=[receipt.pk],
        discounted_pks=[receipt.pk] if receipt.document.get("discounts") else [],
        purchase_from=receipt.purchase_at,
        purchase_to=receipt.purchase_at,
    )
    return receipt


def _audit(account: Account, actor: str, action: str, receipt: Receipt, summary: str) -> None:
    """The API write's audit event, in its transaction; names the receipt by its Entity id, never its customer."""
    audit_record(
        account=account, actor=actor, action=action, object_type="receipt", object_id=str(receipt.uuid), summary=summary
    )


def _change_entry(receipt: Receipt, old: str | None, new: str, actor: str) -> dict[str, str]:
    """The extra_info entry that records a move between customers: `dintero.receipts.change_customer_id.{epoch ms}
    .{hash}` with JSON `{created_at, created_by, old, new}`."""
    now = datetime.now(UTC)
    stamp = int(time.time() * 1000)
    digest = hashlib.sha256(f"{receipt.uuid}:{old}:{new}:{stamp}".encode()).hexdigest()[:12]
    return {
        "key": f"dintero.receipts.change_customer_id.{stamp}.{digest}",
        "value": json.dumps(
            {"created_at": now.isoformat().replace("+00:00", "Z"), "created_by": actor, "old": old, "new": new}
        ),
        "value_type": "string",
    }


def _moved_document(receipt: Receipt, new_customer_id: str, entry: dict[str, str]) -> dict[str, Any]:
    return {
        **receipt.document,
        "customer_id": new_customer_id,
        "extra_info": [*(receipt.document.get("extra_info") or []), entry],
    }


def _locked(receipt: Receipt) -> Receipt:
    return Receipt.objects.select_for_update().get(pk=receipt.pk)


def receipt_update_anonymous(
    *, account: Account, receipt: Receipt, customer_id: Any, discounts: Any, actor: str
) -> Receipt:
    """PUT /receipts/all/{receipt_id}: only anonymous receipts; discounts only when the receipt has none."""
    problems = []
    if not isinstance(customer_id, str):
        problems.append("customer_id is required and must be a string")
    else:
        problems += [f"customer_id {message}" for _, message in customer_id_problems(customer_id, "customer_id")]
        if len(customer_id) > 255:
            problems.append("customer_id must be at most 255 characters")
    if discounts is not None:
        if not isinstance(discounts, list):
            problems.append("discounts must be an array")
        else:
            validate = definition_validator("DiscountRefs")
            for index, discount in enumerate(discounts):
                errors: list[tuple[str, str]] = []
                validate(discount, errors, f"discounts[{index}]")
                problems += [f"{path} {message}" for path, message in errors]
    if problems:
        raise ReceiptRuleError("; ".join(problems))
    with transaction.atomic():
        receipt = _locked(receipt)
        if receipt.customer_id:
            raise ReceiptRuleError(
                f"Receipt {receipt.receipt_id} already belongs to a customer: customer_id can only be set on "
                "anonymous receipts (use change_customer_id to move it)."
            )
        if discounts is not None:
            if receipt.document.get("discounts"):
                raise ReceiptRuleError(
                    f"Receipt {receipt.receipt_id} already has discounts: they can only be added when it has none."
                )
            receipt.document = {**receipt.document, "discounts": discounts}
        receipt.document = {**receipt.document, "customer_id": customer_id}
        _audit(account, actor, "dintero.receipts.update", receipt, "customer_id set on an anonymous receipt")
        return _assign(account, receipt, customer_id, actor)


def receipt_claim(*, account: Account, claims: dict[str, Any], customer_id: Any, actor: str) -> Receipt:
    """POST /receipts/receipt-token: the token's receipt becomes the customer's; the token is then spent. A claim that
    takes the receipt from another customer records the move as change_customer_id does."""
    if not isinstance(customer_id, str) or customer_id_problems(customer_id, "customer_id") or not customer_id:
        raise ReceiptRuleError("customer_id is required, non-empty and without leading or trailing spaces")
    with transaction.atomic():
        receipt = (
            Receipt.objects.select_for_update()
            .filter(account=account, receipt_id=claims["receipt_id"], store_id=claims["store_id"], uuid=claims["sub"])
            .first()
        )
        if receipt is None:
            raise ReceiptRuleError("The token's receipt no longer exists.")
        receipt_token_check(receipt=receipt, claims=claims)
        receipt.token_claimed_at = timezone.now()
        if receipt.customer_id == customer_id:
            _audit(account, actor, "dintero.receipts.receipt_token.claim", receipt, "receipt claimed with its token")
            receipt.save(update_fields=["token_claimed_at"])
            return receipt
        summary = "receipt claimed with its token"
        if receipt.customer_id is None:
            receipt.document = {**receipt.document, "customer_id": customer_id}
        else:
            entry = _change_entry(receipt, receipt.customer_id, customer_id, actor)
            receipt.document = _moved_document(receipt, customer_id, entry)
            summary += f"; extra_info {entry['key']}"
        _audit(account, actor, "dintero.receipts.receipt_token.claim", receipt, summary)
        return _assign(account, receipt, customer_id, actor)


def receipt_change_customer(*, account: Account, receipt: Receipt, new_customer_id: Any, actor: str) -> Receipt:
    """Move a receipt to another customer, recording who did it in an extra_info audit entry."""
    if not isinstance(new_customer_id, str) or not new_customer_id:
        raise ReceiptRuleError("customer_id is required and must be a non-empty string")
    problems = customer_id_problems(new_customer_id, "customer_id")
    if problems or len(new_customer_id) > 255:
        raise ReceiptRuleError("customer_id must be at most 255 characters without leading or trailing spaces")
    with transaction.atomic():
        receipt = _locked(receipt)
        old = receipt.customer_id
        if old == new_customer_id:
            raise ReceiptRuleError(f"Receipt {receipt.receipt_id} already belongs to customer {new_customer_id}.")
        entry = _change_entry(receipt, old, new_customer_id, actor)
        receipt.document = _moved_document(receipt, new_customer_id, entry)
        _audit(account, actor, "dintero.receipts.change_customer_id", receipt, f"extra_info {entry['key']}")
        return _assign(account, receipt, new_customer_id, actor)
