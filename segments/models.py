"""Segments, their runs and their versioned membership."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.db.models.functions import Now

from loyalty.accounts.models import Account


class Segment(models.Model):
    id = models.BigAutoField(primary_key=True)
    uuid = models.UUIDField(unique=True)  # the public segmentId
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="segments", db_index=False)
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True, default="")
    active = models.BooleanField(default=True)
    # {"parts": [{"segmentPartId": uuid, "criteria": [{"criterionId": uuid, "type": ..., ...fields}]}]}
    definition = models.JSONField(default=dict)
    definition_version = models.IntegerField(default=1)  # bumped by every change of the definition
    refresh_policy = models.JSONField(default=dict)
    created_at = models.DateTimeField(db_default=Now())
    created_by = models.CharField(max_length=255, blank=True, default="")
    updated_at = models.DateTimeField(db_default=Now())

    # the published membership and its stats (all from one run)
    current_version = models.IntegerField(null=True)
    customers_count = models.IntegerField(default=0)
    average_transaction_amount = models.DecimalField(max_digits=20, decimal_places=2, default=0)
    average_transactions = models.DecimalField(max_digits=20, decimal_places=2, default=0)
    average_clv = models.DecimalField(max_digits=20, decimal_places=2, default=0)
    calculated_at = models.DateTimeField(null=True)
    watermark = models.DateTimeField(null=True)  # when the newest receipt batch the current version includes was stored
    watermark_batch = models.BigIntegerField(null=True)  # that batch's id (receipts.IngestBatch)

    # freshness: when the schedule next wants a full run, and the error budget
    next_due_at = models.DateTimeField(null=True)
    consecutive_failures = models.SmallIntegerField(default=0)
    paused_at = models.DateTimeField(null=True)
    pause_reason = models.TextField(blank=True, default="")

    class Meta:
        indexes = [
            models.Index(fields=["account", "-created_at"], name="segment_account_recent"),
            models.Index(fields=["next_due_at"], name="segment_due", condition=Q(active=True, paused_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return self.name


class SegmentRun(models.Model):
    class Trigger(models.TextChoices):
        CREATED = "created"
        UPDATED = "updated"
        ACTIVATED = "activated"
        MANUAL = "manual"
        SCHEDULED = "scheduled"
        NEW_RECEIPTS = "new_receipts"
        RETRY = "retry"

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        SUPERSEDED = "superseded"

    class Scope(models.TextChoices):
        FULL = "full"  # every customer of the account
        INCREMENTAL = "incremental"  # only the customers of new receipt batches

    id = models.UUIDField(primary_key=True)
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="runs", db_index=False)
    definition_version = models.IntegerField()
    scope = models.CharField(max_length=12, choices=Scope.choices, default=Scope.FULL)
    batch_from = models.BigIntegerField(null=True)  # incremental: the receipt batches (ids) it covers
    batch_to = models.BigIntegerField(null=True)
    drift = models.IntegerField(null=True)  # full runs after incremental ones: customers they disagreed on
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress = models.SmallIntegerField(default=0)
    attempts = models.SmallIntegerField(default=0)
    created_at = models.DateTimeField(db_default=Now())
    created_by = models.CharField(max_length=255, blank=True, default="")
    started_at = models.DateTimeField(null=True)
    heartbeat_at = models.DateTimeField(null=True)
    finished_at = models.DateTimeField(null=True)
    duration_ms = models.IntegerField(null=True)
    version = models.IntegerField(null=True)  # the membership version it published
    members = models.IntegerField(null=True)
    added = models.IntegerField(null=True)
    removed = models.IntegerField(null=True)
    timings = models.JSONField(default=dict)
    # per customer list of the definition, as the run resolved it: [{"criterionId", "matched", "unmatched"}]
    lists = models.JSONField(default=list)
    error_code = models.CharField(max_length=64, blank=True, default="")
    error_message = models.TextField(blank=True, default="")

    class Meta:
        indexes = [
            models.Index(fields=["segment", "-created_at"], name="segment_run_recent"),
            models.Index(
                fields=["status", "heartbeat_at"],
                name="segment_run_open",
                condition=Q(status__in=["queued", "running"]),
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(progress__gte=0, progress__lte=100), name="segment_run_progress_range"),
        ]

    def __str__(self) -> str:
        return f"{self.trigger} run {self.id} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)


class SegmentMember(models.Model):
    """Membership by version: readers only ever read the segment's current_version, so they never see a partial set."""

    pk = models.CompositePrimaryKey("segment", "version", "customer")
    # No database FK and no index of its own (the primary key leads with it): every recalculation writes and
    # deletes a whole version, and a per-row FK check plus an extra index would dominate writing it. Deleting a
    # segment deletes its members (segment_delete, set-based). The same for the customer: "is this customer in the
    # published version" is a primary key lookup, and an index of customers took ~40 % of writing a version.
    segment = models.ForeignKey(
        Segment, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    version = models.IntegerField()
    customer = models.ForeignKey(
        "receipts.Customer",
        on_delete=models.CASCADE,
        related_name="+",
        db_column="customer_pk",
        db_constraint=False,
        db_index=False,
    )

    def __str__(self) -> str:
        return f"customer {self.customer_id} in segment {self.segment_id} v{self.version}"


class MembershipSpan(models.Model):
    """The ledger of who entered and left a segment, when, through which run and why."""

    class Reason(models.TextChoices):
        DEFINITION = "definition_change"
        NEW_RECEIPTS = "new_receipts"
        TIME_WINDOW = "time_window"
        MANUAL = "manual"

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="+", db_index=False)
    customer = models.ForeignKey(
        "receipts.Customer", on_delete=models.CASCADE, related_name="+", db_column="customer_pk", db_constraint=False
    )
    entered_at = models.DateTimeField()
    entered_run = models.UUIDField()
    entered_reason = models.CharField(max_length=20, choices=Reason.choices)
    left_at = models.DateTimeField(null=True)
    left_run = models.UUIDField(null=True)
    left_reason = models.CharField(max_length=20, choices=Reason.choices, blank=True, default="")

    class Meta:
        indexes = [
            models.Index(fields=["segment", "customer"], name="membership_span_lookup"),
            models.Index(fields=["customer"], name="membership_span_customer"),
            # the segment page's latest entries and exits: the newest 20 of a 100,000-member segment read from the
            # index's end instead of sorting every span of the segment (~140 ms at 100,000 members)
            models.Index(fields=["segment", "-entered_at", "-id"], name="membership_span_entered"),
            models.Index(
                fields=["segment", "-left_at", "-id"], name="membership_span_left", condition=Q(left_at__isnull=False)
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["segment", "customer"], condition=Q(left_at__isnull=True), name="membership_span_one_open"
            ),
        ]

    def __str__(self) -> str:
        return f"customer {self.customer_id} in segment {self.segment_id} from {self.entered_at:%Y-%m-%d}"


class IngestCursor(models.Model):
    """Per account, the last receipt batch (receipts.IngestBatch id) turned into segment runs."""

    account = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="+", primary_key=True)
    last_batch = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(db_default=Now())

    def __str__(self) -> str:
        return f"{self.account_id} at batch {self.last_batch}"
