"""Dry runs of a rule over past receipts (`discounts/simulation.py` replays, `discounts/services/simulations.py`
runs it in a worker): what was asked, how far it got, and the result, kept."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.db.models.functions import Now

from loyalty.accounts.models import Account
from loyalty.core.ids import uuid7


class Simulation(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+", db_index=False)
    # the saved rule simulated (null: a draft sent in the body); `document` is what was replayed either way
    rule = models.ForeignKey(
        "discounts.DiscountRule", null=True, on_delete=models.CASCADE, related_name="simulations", db_index=False
    )
    document = models.JSONField()
    period_from = models.DateTimeField()
    period_to = models.DateTimeField()
    customers = models.TextField()  # "*", "given" or "segment:<uuid>", as posted
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    progress = models.SmallIntegerField(default=0)  # percent of the period's receipts replayed
    receipts_total = models.IntegerField(null=True)
    receipts_done = models.IntegerField(default=0)
    result = models.JSONField(null=True)
    error_message = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(db_default=Now())
    created_by = models.CharField(max_length=255, blank=True, default="")
    started_at = models.DateTimeField(null=True)
    finished_at = models.DateTimeField(null=True)
    duration_ms = models.IntegerField(null=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(period_to__gt=models.F("period_from")), name="simulation_period"),
            models.CheckConstraint(condition=Q(progress__gte=0, progress__lte=100), name="simulation_progress"),
        ]
        indexes = [models.Index(fields=["account", "rule", "-created_at"], name="simulation_rule")]

    def __str__(self) -> str:
        return f"simulation {self.id} ({self.status})"
