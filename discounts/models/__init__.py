"""Discount rules and the refs that give them to customers (see README.md).

- `DiscountRule` keeps the posted Discount document losslessly as JSONB (minus the server's fields, which are
  columns) plus the columns the API filters on. Rules are soft-deleted: a deleted rule keeps its row so its refs,
  and `since_datetime` readers, can still see it.
- `DiscountRef` is one instance of a rule given to a customer (or to `*` / `/`). Refs are soft-deleted too: a rule's
  frozen fields stay frozen once it has been given, even after it was taken back.

Indexes follow the queries: rule lists walk (account, id) and (account, updated_at); a rule's customers walk
(rule, id); a customer's rules walk (account, customer_id, id) over live refs; and the one partial unique index on
live refs is what makes giving idempotent (services.rule_customers_give).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.db.models.functions import Now

from discounts.models.automations import (  # noqa: F401
    Automation,
    AutomationBatchCursor,
    AutomationBatchSeen,
    AutomationDelivery,
    AutomationEvent,
    AutomationProfile,
    AutomationTrigger,
    CustomerToken,
    EventType,
)
from discounts.models.campaigns import Campaign  # noqa: F401
from discounts.models.claims import DiscountClaim, UsageCursor  # noqa: F401  (the package is the models' one import path)
from discounts.models.holdouts import PushAssignment  # noqa: F401
from discounts.models.simulations import Simulation  # noqa: F401
from discounts.models.usage import DiscountUsage  # noqa: F401  (the package is the models' one import path)
from loyalty.accounts.models import Account
from loyalty.core.ids import uuid7


class SoftDeletedEntity(models.Model):
    """The spec's Entity fields we store: who made it and when, and who deleted it (softly) and when."""

    created_at = models.DateTimeField(db_default=Now())
    created_by = models.CharField(max_length=255, blank=True, default="")
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.CharField(max_length=255, null=True, blank=True)

    class Meta:
        abstract = True
        constraints = [
            models.CheckConstraint(
                condition=Q(deleted_at__isnull=True, deleted_by__isnull=True)
                | Q(deleted_at__isnull=False, deleted_by__isnull=False),
                name="%(class)s_deleted_by",
            ),
        ]


class DiscountRule(SoftDeletedEntity):
    class Type(models.TextChoices):
        ITEM = "item"  # the reward goes to matching items
        RECEIPT = "receipt"  # the reward goes to the whole receipt

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)  # time-ordered: lists page by id
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="discount_rules", db_index=False)
    document = models.JSONField()  # the Discount as the client sent it, without the server's fields
    name = models.TextField(blank=True, default="")
    active = models.BooleanField(default=True)
    private = models.BooleanField(default=False)
    type = models.CharField(max_length=8, choices=Type.choices)
    purchase_from = models.DateTimeField()
    purchase_to = models.DateTimeField()
    visible_from = models.DateTimeField(null=True, blank=True)
    campaign_id = models.TextField(null=True, blank=True, db_collation="C")
    updated_at = models.DateTimeField(db_default=Now())
    updated_by = models.CharField(max_length=255, blank=True, default="")

    class Meta(SoftDeletedEntity.Meta):
        verbose_name = "discount rule"
        constraints = [
            *SoftDeletedEntity.Meta.constraints,
            models.CheckConstraint(condition=Q(type__in=["item", "receipt"]), name="discount_rule_type"),
            models.CheckConstraint(condition=Q(purchase_to__gt=models.F("purchase_from")), name="discount_rule_window"),
        ]
        indexes = [
            models.Index(fields=["account", "id"], name="discount_rule_account"),
            models.Index(fields=["account", "updated_at", "id"], name="discount_rule_changes"),
            models.Index(fields=["account", "campaign_id"], name="discount_rule_campaign"),
        ]

    def __str__(self) -> str:
        return self.name or str(self.id)


class DiscountRef(SoftDeletedEntity):
    """A rule given to one customer id, or to `*` (any purchase with a customer id) or `/` (purchases without)."""

    ANY_CUSTOMER = "*"
    NO_CUSTOMER = "/"

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    # Always the rule's account (the services write both); kept here so every ref query is scoped without a join.
    # No foreign key constraints in the database: refs are written only by discounts.services, under the rule's row
    # lock (the rule exists, and rules are only soft-deleted), and PostgreSQL's per-row check of the two keys was
    # ~40 % of giving a segment's 100,000 members a rule. Deleting an account or a rule still cascades (Django).
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    rule = models.ForeignKey(
        DiscountRule, on_delete=models.CASCADE, related_name="refs", db_index=False, db_constraint=False
    )
    customer_id = models.CharField(max_length=255, db_collation="C")
    offering_constraint_id = models.CharField(max_length=255, null=True, blank=True, db_collation="C")

    class Meta(SoftDeletedEntity.Meta):
        verbose_name = "discount customer (ref)"
        verbose_name_plural = "discount customers (refs)"
        constraints = [
            *SoftDeletedEntity.Meta.constraints,
            # One live ref per (rule, customer, offering constraint), where "no constraint" counts as one value.
            # Giving relies on it (ON CONFLICT DO NOTHING); its (rule, customer_id) prefix also answers "does this
            # customer hold a live ref of the rule" and serves taking.
            models.UniqueConstraint(
                fields=["rule", "customer_id", "offering_constraint_id"],
                condition=Q(deleted_at__isnull=True),
                nulls_distinct=False,
                name="discount_ref_live_unique",
            ),
            models.CheckConstraint(condition=~Q(customer_id=""), name="discount_ref_customer_id"),
            models.CheckConstraint(condition=~Q(offering_constraint_id=""), name="discount_ref_constraint_id"),
        ]
        indexes = [
            models.Index(fields=["rule", "id"], name="discount_ref_rule"),
            models.Index(
                fields=["account", "customer_id", "id"],
                condition=Q(deleted_at__isnull=True),
                name="discount_ref_customer",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} ← {self.rule_id}"


class PushLink(models.Model):
    """A rule kept in sync with a segment: after each published version the rule follows the membership."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+", db_index=False)
    segment = models.ForeignKey("segments.Segment", on_delete=models.CASCADE, related_name="+", db_index=False)
    rule = models.ForeignKey(DiscountRule, on_delete=models.CASCADE, related_name="push_links")
    remove_departed = models.BooleanField(default=False)
    created_at = models.DateTimeField(db_default=Now())
    created_by = models.CharField(max_length=255, blank=True, default="")
    last_version = models.IntegerField(null=True)  # the segment version the rule last received
    # Holdout (discounts/models/holdouts.py): fixed for the link's life, so each customer's side never changes.
    holdout_percent = models.SmallIntegerField(default=0)
    holdout_seed = models.BigIntegerField(default=0)
    # running counts of the link's assignments, kept by the push that writes them (no COUNT on a page load)
    assigned_count = models.IntegerField(default=0)
    held_out_count = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["segment", "rule"], name="push_link_unique"),
            models.CheckConstraint(
                condition=Q(holdout_percent__gte=0, holdout_percent__lte=50), name="push_link_holdout_percent"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rule_id} follows segment {self.segment_id}"


class PushRun(models.Model):
    class Mode(models.TextChoices):
        ONCE = "once"
        SYNC = "sync"

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+", db_index=False)
    segment = models.ForeignKey("segments.Segment", on_delete=models.CASCADE, related_name="+", db_index=False)
    rule = models.ForeignKey(DiscountRule, on_delete=models.CASCADE, related_name="push_runs", db_index=False)
    mode = models.CharField(max_length=8, choices=Mode.choices)
    remove_departed = models.BooleanField(default=False)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    version = models.IntegerField(null=True)  # the segment version it pushed
    added = models.IntegerField(null=True)
    removed = models.IntegerField(null=True)
    skipped = models.IntegerField(null=True)  # members who already held the rule
    held_out = models.IntegerField(null=True)  # members the link's holdout assigned to it by this push
    error_code = models.CharField(max_length=64, blank=True, default="")
    error_message = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(db_default=Now())
    created_by = models.CharField(max_length=255, blank=True, default="")
    started_at = models.DateTimeField(null=True)
    finished_at = models.DateTimeField(null=True)
    duration_ms = models.IntegerField(null=True)

    class Meta:
        indexes = [
            models.Index(fields=["segment", "-created_at"], name="push_run_segment"),
            models.Index(fields=["rule", "-created_at"], name="push_run_rule"),
        ]

    def __str__(self) -> str:
        return f"{self.mode} push {self.id} ({self.status})"
