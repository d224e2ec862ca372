"""What refs were used for: one row per (ref, source, source_key).

A row is one purchase's use of one ref, as its source told it: a claim (keyed by the claim id), a receipt posted to
the Receipts API (keyed by the receipt), or a usage ref posted to `customers/{cid}/refs/{ref_id}` (keyed by its
`ref`). The unique (ref, source, source_key) makes every source idempotent. `purchase_key` names the purchase the row
counts for (the claim's `ref`, the receipt's `receipt_id`), so a claim and the receipt of the same purchase are one
purchase for `discount_repeat_usage` and the statistics (`discounts.selectors.usage` takes the largest of each
figure per purchase, never their sum).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.db.models.functions import Now

from loyalty.accounts.models import Account


class DiscountUsage(models.Model):
    class Source(models.TextChoices):
        CLAIM = "claim"
        RECEIPT = "receipt_add"
        REF_ADD = "ref_add"  # a POST to customers/{cid}/refs/{ref_id}

    id = models.BigAutoField(primary_key=True)
    # No single-column indexes: every read is scoped (account, ref, …) or (account, rule, at), and refs and rules
    # are soft-deleted, so the cascades only run when an account goes.
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+", db_index=False)
    rule = models.ForeignKey("discounts.DiscountRule", on_delete=models.CASCADE, related_name="usages", db_index=False)
    ref = models.ForeignKey("discounts.DiscountRef", on_delete=models.CASCADE, related_name="usages", db_index=False)
    # The purchase's customer: the ref's own, or whoever used a `*` ref; null for purchases without one.
    customer_id = models.CharField(max_length=255, null=True, blank=True, db_collation="C")
    source = models.CharField(max_length=16, choices=Source.choices)
    source_key = models.CharField(max_length=255, db_collation="C")
    purchase_key = models.CharField(max_length=255, db_collation="C")
    usage = models.IntegerField(default=0)  # rewards used in this purchase
    amount = models.BigIntegerField(default=0)  # minor units
    bonus = models.BigIntegerField(default=0)
    stamp = models.IntegerField(default=0)
    at = models.DateTimeField()  # when the purchase happened
    created_at = models.DateTimeField(db_default=Now())
    released_at = models.DateTimeField(null=True, blank=True)  # a released (deleted) claim

    class Meta:
        verbose_name = "discount usage"
        constraints = [
            models.UniqueConstraint(fields=["ref", "source", "source_key"], name="discount_usage_unique"),
            models.CheckConstraint(condition=Q(usage__gte=0), name="discount_usage_usage"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="discount_usage_amount"),
            models.CheckConstraint(
                condition=Q(source__in=["claim", "receipt_add", "ref_add"]), name="discount_usage_source"
            ),
        ]
        indexes = [
            # a ref's past at the till; customer_id last so a `*` ref's use by one customer is a range of it
            models.Index(fields=["account", "ref", "customer_id"], name="discount_usage_ref"),
            models.Index(fields=["account", "rule", "at"], name="discount_usage_rule"),
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.source_key} on {self.ref_id}"
