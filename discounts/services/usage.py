"""Usage that is not a claim: from receipts posted to the Receipts API, and usage refs posted to a customer's ref.
Also taking back one customer's ref. Each function is one transaction.

Receipts never import discounts: their ingest writes an `IngestBatch` row (the outbox) in its transaction and
enqueues `discounts.receipts_arrived` by name after commit; here each batch's receipts become ledger rows in one
`INSERT … SELECT … ON CONFLICT DO NOTHING` over their documents (`discounts/sql_usage.py`). A receipt's usage is
keyed by the receipt, so a batch read twice, or a receipt posted again (the receipts API stores it once), adds
nothing.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from discounts import documents
from discounts import sql_usage as statements
from discounts.models import DiscountRef, DiscountUsage, UsageCursor
from discounts.selectors.customer_refs import customer_ref_get
from discounts.services import RULE_CUSTOMERS_TAKE, _audit_refs, _lock_rule
from discounts.usage_errors import RefDeleted, UsageRefInvalid
from loyalty.accounts.models import Account
from loyalty.core.services import audit_record
from loyalty.core.sql import raw_cursor
from receipts.readmodels import queries as receipts

# A batch id is drawn when its transaction inserts the row, just before it commits; a batch older than this is
# committed or never will be, so the cursor may move past it.
SETTLE = timedelta(minutes=10)
REF_ADD = "discounts:ref-usage-add"
REF_TYPE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def receipts_arrived(*, account_id: int) -> int:
    """Record the usage in the account's receipt batches not read yet; returns the ledger rows added."""
    with transaction.atomic():
        cursor = UsageCursor.objects.select_for_update().filter(account_id=account_id).first()
        if cursor is None:
            UsageCursor.objects.bulk_create([UsageCursor(account_id=account_id)], ignore_conflicts=True)
            cursor = UsageCursor.objects.select_for_update().get(account_id=account_id)
        settled_at = timezone.now() - SETTLE
        cur = raw_cursor()
        cur.execute(
            statements.PENDING_BATCHES,
            {"account": account_id, "after": cursor.last_batch, "done": cursor.recent, "settled": settled_at},
        )
        pending = [batch for batch, _ in cur.fetchall()]
        added = 0
        if pending:
            cur.execute(statements.RECEIPTS_USAGE, {"account": account_id, "batches": pending})
            added = cur.rowcount
        done = sorted({*cursor.recent, *pending})
        if done:
            cur.execute(statements.SETTLED_BATCHES, {"batches": done, "settled": settled_at})
            settled = [row[0] for row in cur.fetchall()]
            # below the highest settled batch nothing can still commit: the cursor moves there
            last = max([cursor.last_batch, *settled])
            cursor.last_batch, cursor.recent = last, [batch for batch in done if batch > last]
        cursor.updated_at = timezone.now()
        cursor.save(update_fields=["last_batch", "recent", "updated_at"])
    return added


def receipts_sweep() -> int:
    """Catch up accounts with receipt batches no task picked up (a lost message, a worker down), and move the
    cursors of the others past their settled batches. Returns the ledger rows added."""
    cursors = {cursor.account_id: cursor for cursor in UsageCursor.objects.all()}
    behind = [
        account_id
        for account_id, newest in receipts.newest_batch_per_account().items()
        if account_id not in cursors or newest > cursors[account_id].last_batch
    ]
    return sum(receipts_arrived(account_id=account_id) for account_id in behind)


def _figure(usage_ref: dict[str, Any], key: str, ceiling: int, errors: list[tuple[str, str]]) -> int:
    value = usage_ref.get(key, 0)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= ceiling:
        errors.append((f"usage_ref.{key}", f"must be a whole number from 0 to {ceiling}"))
        return 0
    return value


def _usage_ref(body: Any) -> dict[str, Any]:
    """The usage ref a POST body carries, checked: the spec's schema, then what no merchant could mean."""
    errors = documents.validate_body("aid_discounts_customer_cid_post_ref_id", body) if isinstance(body, dict) else []
    usage_ref = body.get("usage_ref") if isinstance(body, dict) else None
    if errors or not isinstance(usage_ref, dict):
        raise UsageRefInvalid("Update invalid.", errors or [("usage_ref", "is required")])
    ref, ref_type = usage_ref["ref"], usage_ref["ref_type"]
    if not ref.strip() or len(ref) > documents.MAX_ID_LENGTH or ref != ref.strip():
        errors.append(("usage_ref.ref", "must be 1 to 255 characters without leading or trailing spaces"))
    if not REF_TYPE.match(ref_type):
        errors.append(("usage_ref.ref_type", "must be 1 to 64 letters, digits, '_', '-' or '.', e.g. receipt_add"))
    figures = {
        "usage": _figure(usage_ref, "usage", 10_000, errors),
        "stamp": _figure(usage_ref, "stamp", 10_000, errors),
        "amount": _figure(usage_ref, "amount", 10**12, errors),
    }
    if not errors and not any(figures.values()):
        errors.append(("usage_ref", "must add usage, stamps or an amount"))
    if errors:
        raise UsageRefInvalid("Update invalid.", errors)
    return {"ref": ref, "ref_type": ref_type, **figures}


def customer_ref_usage_add(*, account: Account, customer_id: str, ref_id: str, body: Any, actor: str) -> DiscountRef:
    """Add a usage ref (usage, stamps, amount) to a customer's ref: a `ref_add` ledger row keyed by its `ref_type`
    and `ref`, so posting it again adds nothing; its purchase is its `ref` (a receipt's id counts once with the
    receipt). A taken-back ref is RefDeleted. Limits are not checked: this records what happened."""
    usage_ref = _usage_ref(body)
    with transaction.atomic():
        ref = customer_ref_get(account=account, customer_id=customer_id, ref_id=ref_id, live=True)
        now = timezone.now()
        customer = None if customer_id == documents.NO_CUSTOMER else customer_id
        DiscountUsage.objects.bulk_create(
            [
                DiscountUsage(
                    account=account,
                    rule_id=ref.rule_id,
                    ref=ref,
                    customer_id=customer,
                    source=DiscountUsage.Source.REF_ADD,
                    source_key=f"{usage_ref['ref_type']}:{usage_ref['ref']}",
                    purchase_key=usage_ref["ref"],
                    usage=usage_ref["usage"],
                    stamp=usage_ref["stamp"],
                    amount=usage_ref["amount"],
                    at=now,
                    created_at=now,
                )
            ],
            ignore_conflicts=True,
        )
        audit_record(
            account=account,
            actor=actor,
            action=REF_ADD,
            object_type=DiscountRef._meta.label,
            object_id=str(ref.pk),
            summary=f"{usage_ref['ref_type']} usage {usage_ref['usage']}, stamps {usage_ref['stamp']}, "
            f"amount {usage_ref['amount']}",
        )
    return ref


def customer_ref_take(*, account: Account, customer_id: str, ref_id: str, actor: str) -> DiscountRef:
    """Take back one ref given to this customer (RefDeleted when it already was). A ref given to `*` or `/` is
    everyone's: it is taken back through the rule's customers, not one customer's ref."""
    with transaction.atomic():
        ref = customer_ref_get(account=account, customer_id=customer_id, ref_id=ref_id, own=True)
        _lock_rule(account, ref.rule_id)
        ref = DiscountRef.objects.select_for_update().select_related("rule").get(pk=ref.pk)
        if ref.deleted_at is not None:
            raise RefDeleted
        ref.deleted_at = timezone.now()
        ref.deleted_by = actor
        ref.save(update_fields=["deleted_at", "deleted_by"])
        _audit_refs(ref.rule, account=account, actor=actor, action=RULE_CUSTOMERS_TAKE, count=1)
    return ref
