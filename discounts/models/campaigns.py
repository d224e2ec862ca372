"""Campaigns: a label that groups discount rules (`DiscountRule.campaign_id`), nothing more (see README.md).

`campaign_id` is the merchant's key that rules carry and the path names; when a campaign is created without one
it is the campaign's own id. It is unique per account among every campaign, deleted ones too: a PUT undeletes a
deleted campaign, and its key must still be its own then.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.db.models.functions import Now

from loyalty.accounts.models import Account
from loyalty.core.ids import uuid7


class Campaign(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+", db_index=False)
    campaign_id = models.CharField(max_length=255, db_collation="C")
    name = models.TextField()
    description = models.TextField(blank=True, default="")
    private = models.BooleanField(default=False)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(db_default=Now())
    created_by = models.CharField(max_length=255, blank=True, default="")
    updated_at = models.DateTimeField(db_default=Now())
    updated_by = models.CharField(max_length=255, blank=True, default="")
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.CharField(max_length=255, null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "campaign_id"], name="campaign_key_unique"),
            models.CheckConstraint(condition=~Q(campaign_id=""), name="campaign_key_not_empty"),
            models.CheckConstraint(
                condition=Q(deleted_at__isnull=True, deleted_by__isnull=True)
                | Q(deleted_at__isnull=False, deleted_by__isnull=False),
                name="campaign_deleted_by",
            ),
        ]
        indexes = [models.Index(fields=["account", "id"], name="campaign_account")]

    def __str__(self) -> str:
        return self.name or self.campaign_id
