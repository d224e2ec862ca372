"""Events, the token store and automations (see README.md, "Events" and "Automations").

- `CustomerToken` is the (type, value) → customer map that `POST /discounts/events` keeps (token_add/token_remove)
  and `available_for_receipt` resolves `customer.token` through.
- `AutomationEvent` is every event automations may react to, whichever way it came: posted to the events endpoint
  (keyed by its `event-delivery` id) or derived from stored receipts (keyed by what it is about). The unique
  (account, key) makes receiving idempotent: a repeated delivery inserts nothing and so does nothing.
- `Automation` is the posted Automation plus what the processor reads: its events, window, limit and its filter
  compiled to one SQL/JSON path (`condition`, with `condition_vars`), so matching is one statement per batch.
- `AutomationTrigger` is one automation firing for one event's customer. Unique per (automation, event): a retried
  event fires nothing twice; unique per (automation, customer, occurrence): `automation_repeat` holds whatever
  runs concurrently.
- `AutomationDelivery` is one action of a trigger, with its outcome and attempts.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import BrinIndex
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now

from loyalty.accounts.models import Account
from loyalty.core.ids import uuid7


class CustomerToken(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+", db_index=False)
    token_type = models.CharField(max_length=255, db_collation="C")
    value = models.CharField(max_length=1024, db_collation="C")
    token_id = models.CharField(max_length=255, db_collation="C")
    customer_id = models.CharField(max_length=255, db_collation="C")
    created_at = models.DateTimeField(db_default=Now())
    updated_at = models.DateTimeField(db_default=Now())

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "token_type", "value"], name="customer_token_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.token_type} → {self.customer_id}"


class EventType(models.TextChoices):
    CUSTOMER_ADD = "customer_add"
    CUSTOMER_UPDATE = "customer_update"
    CUSTOMER_REMOVE = "customer_remove"
    TOKEN_ADD = "token_add"
    TOKEN_REMOVE = "token_remove"
    RECEIPT_ADD = "receipt_add"


class AutomationEvent(models.Model):
    class Source(models.TextChoices):
        API = "api"  # POST /discounts/events
        RECEIPTS = "receipts"  # derived from receipts stored through the Receipts API

    id = models.BigAutoField(primary_key=True)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+", db_index=False)
    key = models.CharField(max_length=300, db_collation="C")  # the delivery id, or what a derived event is about
    # What the event is about where that makes it once-only: a receipt's id for receipt_add (posted or derived, the
    # same receipt is one event), a customer id for customer_add; null for the others.
    subject = models.CharField(max_length=300, null=True, blank=True, db_collation="C")
    type = models.CharField(max_length=16, choices=EventType.choices)
    source = models.CharField(max_length=8, choices=Source.choices)
    customer_id = models.CharField(max_length=255, null=True, blank=True, db_collation="C")
    payload = models.JSONField()
    occurred_at = models.DateTimeField()  # received, or when its receipts were stored: automation windows read it
    received_at = models.DateTimeField(db_default=Now())
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "key"], name="automation_event_key"),
            models.UniqueConstraint(fields=["account", "type", "subject"], name="automation_event_subject"),
        ]
        indexes = [
            models.Index(
                fields=["account", "id"], condition=Q(processed_at__isnull=True), name="automation_event_todo"
            ),
            # the sweep forgets old events by arrival: a BRIN suits an append-only column and costs inserts nothing
            BrinIndex(fields=["received_at"], name="automation_event_received"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.key}"


class Automation(models.Model):
    UNLIMITED = -1

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+", db_index=False)
    document = models.JSONField()  # the Automation as posted, without the server's fields
    name = models.TextField(blank=True, default="")
    events = ArrayField(models.CharField(max_length=16, choices=EventType.choices))
    automation_from = models.DateTimeField()
    automation_to = models.DateTimeField()
    condition = models.TextField(blank=True, default="")  # the filter as one SQL/JSON path; "" matches everything
    condition_vars = models.JSONField(default=dict, blank=True)
    repeat = models.IntegerField(default=1)  # limitation.automation_repeat
    rule_ids = ArrayField(models.UUIDField(), default=list, blank=True)  # the discount actions' rules
    events_seen = models.BigIntegerField(default=0)  # events of its types processed while it was live
    triggered = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(db_default=Now())
    created_by = models.CharField(max_length=255, blank=True, default="")
    updated_at = models.DateTimeField(db_default=Now())
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.CharField(max_length=255, null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(automation_to__gt=models.F("automation_from")), name="automation_window"
            ),
            models.CheckConstraint(condition=Q(repeat=-1) | Q(repeat__gte=1), name="automation_repeat"),
            models.CheckConstraint(
                condition=Q(deleted_at__isnull=True, deleted_by__isnull=True)
                | Q(deleted_at__isnull=False, deleted_by__isnull=False),
                name="automation_deleted_by",
            ),
        ]
        indexes = [models.Index(fields=["account", "id"], name="automation_account")]

    def __str__(self) -> str:
        return self.name or str(self.id)


class AutomationTrigger(models.Model):
    id = models.BigAutoField(primary_key=True)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+", db_index=False)
    automation = models.ForeignKey(Automation, on_delete=models.CASCADE, related_name="triggers", db_index=False)
    event = models.ForeignKey(AutomationEvent, on_delete=models.CASCADE, related_name="+", db_index=False)
    customer_id = models.CharField(max_length=255, db_collation="C")
    occurrence = models.IntegerField()  # the customer's n-th trigger of this automation
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["automation", "event"], name="automation_trigger_event"),
            models.UniqueConstraint(
                fields=["automation", "customer_id", "occurrence"], name="automation_trigger_occurrence"
            ),
        ]
        indexes = [models.Index(fields=["event"], name="automation_trigger_event_only")]

    def __str__(self) -> str:
        return f"{self.automation_id} for {self.customer_id} (#{self.occurrence})"


class AutomationDelivery(models.Model):
    class Kind(models.TextChoices):
        DISCOUNT = "discount", "Give the rule"
        HTTP = "http", "HTTP request"

    class Status(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    id = models.BigAutoField(primary_key=True)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+", db_index=False)
    automation = models.ForeignKey(Automation, on_delete=models.CASCADE, related_name="deliveries", db_index=False)
    trigger = models.ForeignKey(AutomationTrigger, on_delete=models.CASCADE, related_name="deliveries", db_index=False)
    action_index = models.IntegerField()
    kind = models.CharField(max_length=8, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.IntegerField(default=0)
    error = models.TextField(blank=True, default="")
    response_status = models.IntegerField(null=True, blank=True)
    created_at = models.DateTimeField(db_default=Now())
    updated_at = models.DateTimeField(db_default=Now())
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "automation deliveries"
        constraints = [models.UniqueConstraint(fields=["trigger", "action_index"], name="automation_delivery_unique")]
        indexes = [
            models.Index(fields=["automation", "-id"], name="automation_delivery_recent"),
            models.Index(fields=["account", "id"], condition=Q(status="pending"), name="automation_delivery_pending"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} delivery {self.id} ({self.status})"


class AutomationBatchCursor(models.Model):
    """Per account, the receipt batch (receipts.IngestBatch id) up to which every batch was turned into events."""

    account = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="+", primary_key=True)
    last_batch = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(db_default=Now())

    def __str__(self) -> str:
        return f"{self.account_id} at batch {self.last_batch}"


class AutomationBatchSeen(models.Model):
    """Batches above the cursor already turned into events (ids from a sequence may commit out of order)."""

    batch_id = models.BigIntegerField(primary_key=True)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+", db_index=False)

    def __str__(self) -> str:
        return str(self.batch_id)


class AutomationProfile(models.Model):
    """The digest of a customer's profile when automations last looked: a different one is a customer_update."""

    customer_pk = models.IntegerField(primary_key=True)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+", db_index=False)
    digest = models.CharField(max_length=32)

    def __str__(self) -> str:
        return f"{self.customer_pk}: {self.digest}"
