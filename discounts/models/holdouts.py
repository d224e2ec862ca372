"""Holdout groups of push links: who a link's pushes assigned to the rule (treatment) or held out, and since when.

A link with `holdout_percent` > 0 assigns every member it ever sees once, by a stable bucket of (the link's seed,
customer id) in 0-9999 (`discounts.holdouts.bucket`, mirrored in SQL by `discounts.sql.BUCKET`): held out when
the bucket is below `holdout_percent x 100`. The first assignment is kept (a customer who leaves and comes back
stays on the same side, from the same date), so the impact report counts each customer from when they entered.
Links without a holdout write no assignments: their pushes are exactly what they were.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.db.models.functions import Now

from loyalty.accounts.models import Account


class PushAssignment(models.Model):
    id = models.BigAutoField(primary_key=True)
    # the link's account (written together); every read is scoped by it without a join
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+", db_index=False)
    link = models.ForeignKey("discounts.PushLink", on_delete=models.CASCADE, related_name="assignments", db_index=False)
    customer = models.ForeignKey("receipts.Customer", on_delete=models.CASCADE, related_name="+", db_index=False)
    bucket = models.SmallIntegerField()
    held_out = models.BooleanField()
    assigned_at = models.DateTimeField(db_default=Now())

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["link", "customer"], name="push_assignment_unique"),
            models.CheckConstraint(condition=Q(bucket__gte=0, bucket__lte=9999), name="push_assignment_bucket"),
        ]
        indexes = [
            # the members list's "held out" filter and the export's column walk a customer's assignments
            models.Index(fields=["customer", "link"], name="push_assignment_customer", condition=Q(held_out=True)),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {'held out of' if self.held_out else 'given'} link {self.link_id}"
