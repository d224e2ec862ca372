"""Reads of campaigns, their API representation, and a campaign's rules with what they cost."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from discounts.errors import CampaignNotFound
from discounts.models import Campaign, DiscountRule, DiscountUsage
from loyalty.accounts.models import Account


def _iso(value) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def campaign_to_api(campaign: Campaign) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(campaign.id),
        "campaign_id": campaign.campaign_id,
        "name": campaign.name,
        "description": campaign.description,
        "private": campaign.private,
        "metadata": campaign.metadata,
        "created_at": _iso(campaign.created_at),
        "created_by": campaign.created_by,
        "updated_at": _iso(campaign.updated_at),
    }
    if campaign.deleted_at:
        body["deleted_at"] = _iso(campaign.deleted_at)
        body["deleted_by"] = campaign.deleted_by
    return body


STATES = ("all", "public", "private", "deleted")


def _state_q(state: str | None) -> Q:
    live = Q(deleted_at__isnull=True)
    return {
        None: live,
        "all": Q(),
        "public": live & Q(private=False),
        "private": live & Q(private=True),
        "deleted": Q(deleted_at__isnull=False),
    }[state]


def campaign_list(
    *, account: Account, state: str | None, limit: int, starting_after: uuid.UUID | None
) -> list[Campaign]:
    """Newest first, paged by id. Without a state: every campaign not deleted."""
    queryset = Campaign.objects.filter(account=account).filter(_state_q(state))
    if starting_after:
        queryset = queryset.filter(id__lt=starting_after)
    return list(queryset.order_by("-id")[:limit])


def campaign_get(*, account: Account, campaign_id: str) -> Campaign:
    """By its `campaign_id` (the key rules carry); deleted ones too, since a PUT brings them back."""
    campaign = Campaign.objects.filter(account=account, campaign_id=campaign_id).first()
    if campaign is None:
        raise CampaignNotFound()
    return campaign


def private_campaign_hides(account_field: str = "account", key_field: str = "rule__campaign_id") -> Exists:
    """A private campaign (deleted or not) keeps its rules out of public lists filtered by campaign_id."""
    return Exists(
        Campaign.objects.filter(account=OuterRef(account_field), campaign_id=OuterRef(key_field), private=True)
    )


@dataclass(frozen=True)
class CampaignRule:
    rule: DiscountRule
    customers: int
    redemptions: int
    cost: int  # minor units, summed over currencies as the ledger records them


@dataclass(frozen=True)
class CampaignOverview:
    rules: list[CampaignRule]
    redemptions: int
    cost: int


def _rules(account: Account, key: str) -> QuerySet[DiscountRule]:
    usages = DiscountUsage.objects.filter(account=account, rule=OuterRef("pk"), released_at__isnull=True)
    return (
        DiscountRule.objects.filter(account=account, campaign_id=key, deleted_at__isnull=True)
        .annotate(
            customers=Count("refs", filter=Q(refs__deleted_at__isnull=True)),
            redemptions=Coalesce(usages.values("rule").annotate(n=Sum("usage")).values("n")[:1], 0),
            cost=Coalesce(usages.values("rule").annotate(n=Sum("amount")).values("n")[:1], 0),
        )
        .order_by("-id")
    )


def campaign_overview(*, account: Account, campaign: Campaign) -> CampaignOverview:
    """Its live rules (at most 200), how many customers hold each, and their redemptions and cost from the usage
    ledger (released claims left out)."""
    rows = [
        CampaignRule(rule=rule, customers=rule.customers, redemptions=int(rule.redemptions), cost=int(rule.cost))  # type: ignore[attr-defined]
        for rule in _rules(account, campaign.campaign_id)[:200]
    ]
    return CampaignOverview(rules=rows, redemptions=sum(r.redemptions for r in rows), cost=sum(r.cost for r in rows))


def campaigns_overview(*, account: Account) -> list[Campaign]:
    """Every campaign (deleted last), with how many live rules name it."""
    rules = DiscountRule.objects.filter(account=account, campaign_id=OuterRef("campaign_id"), deleted_at__isnull=True)
    return list(
        Campaign.objects.filter(account=account)
        .annotate(rules=Coalesce(rules.values("account").annotate(n=Count("*")).values("n")[:1], 0))
        .order_by(F("deleted_at").asc(nulls_first=True), "-id")[:500]
    )


def campaign_get_by_id(*, account: Account, pk: uuid.UUID) -> Campaign:
    """By its Entity id (the back-office's URLs); deleted ones too."""
    campaign = Campaign.objects.filter(account=account, pk=pk).first()
    if campaign is None:
        raise CampaignNotFound()
    return campaign


def campaign_for_key(*, account: Account, key: str | None) -> Campaign | None:
    """The campaign a rule's campaign_id names, if there is one (deleted ones too)."""
    if not key:
        return None
    return Campaign.objects.filter(account=account, campaign_id=key).first()
