"""Claims (a point of sale redeeming refs before it posts the receipt) and how far the receipts outbox was read.

- `DiscountClaim` is the spec's Claim: who claimed which refs for which purchase. Its usage is in the ledger
  (`DiscountUsage`, source `claim`, keyed by the claim id); releasing it (DELETE) stamps `deleted_at` here and
  `released_at` there. `ref` is the client's idempotency key: unique per account while set.
- `UsageCursor` is, per account, how far the receipt batches (`receipts.IngestBatch`, the receipts' outbox) have
  been turned into usage: everything up to `last_batch`, plus the later batches listed in `recent`. A batch id is
  drawn when its transaction inserts the row, so a lower id can commit after a higher one: the cursor only moves
  past batches old enough that nothing can still be committing below them.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now

from loyalty.accounts.models import Account
from loyalty.core.ids import uuid7


class DiscountClaim(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)  # time-ordered: lists page by id
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+", db_index=False)
    ref = models.CharField(max_length=255, null=True, blank=True, db_collation="C")
    type = models.CharField(max_length=255, blank=True, default="")
    purchase_at = models.DateTimeField()
    customer_id = models.CharField(max_length=255, db_collation="C")
    # [{"id": rule id, "refs": [{"id", "amount", "usage"}]}] as claimed (ids in canonical form)
    discounts = models.JSONField()
    created_at = models.DateTimeField(db_default=Now())
    created_by = models.CharField(max_length=255, blank=True, default="")
    updated_at = models.DateTimeField(db_default=Now())
    deleted_at = models.DateTimeField(null=True, blank=True)  # released
    deleted_by = models.CharField(max_length=255, null=True, blank=True)

    class Meta:
        verbose_name = "discount claim"
        constraints = [
            models.CheckConstraint(
                condition=Q(deleted_at__isnull=True, deleted_by__isnull=True)
                | Q(deleted_at__isnull=False, deleted_by__isnull=False),
                name="claim_deleted_by",
            ),
            models.UniqueConstraint(fields=["account", "ref"], condition=Q(ref__isnull=False), name="claim_ref_unique"),
            models.CheckConstraint(condition=~Q(customer_id=""), name="claim_customer_id"),
        ]
        indexes = [
            models.Index(fields=["account", "id"], name="claim_account"),
            models.Index(fields=["account", "customer_id", "id"], name="claim_customer"),
        ]

    def __str__(self) -> str:
        return f"claim {self.ref or self.id}"


class UsageCursor(models.Model):
    account = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="+", primary_key=True)
    last_batch = models.BigIntegerField(default=0)  # every batch up to this id is done
    recent = ArrayField(models.BigIntegerField(), default=list)  # and these later ones
    updated_at = models.DateTimeField(db_default=Now())

    def __str__(self) -> str:
        return f"{self.account_id} usage at batch {self.last_batch}"
