"""Writes of campaigns: create, update (which undeletes), soft delete. A campaign never touches its rules."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from discounts import documents
from discounts.errors import CampaignNotFound, DiscountValidationError
from discounts.models import Campaign
from loyalty.accounts.models import Account
from loyalty.core.services import audit_record
from loyalty.core.validation import Problems, contains_nul, customer_id_problems

CAMPAIGN_CREATE = "discounts:campaign-create"
CAMPAIGN_UPDATE = "discounts:campaign-update"
CAMPAIGN_DELETE = "discounts:campaign-delete"
MAX_KEY_LENGTH = 255
MAX_METADATA_KEYS = 50


def _invalid(errors: Problems) -> DiscountValidationError:
    return DiscountValidationError("The campaign is invalid.", errors)


def _audit(campaign: Campaign, *, account: Account, actor: str, action: str) -> None:
    audit_record(
        account=account,
        actor=actor,
        action=action,
        object_type=Campaign._meta.label,
        object_id=str(campaign.pk),
        summary=campaign.name,
    )


def _problems(operation_id: str, body: Any) -> Problems:
    if not isinstance(body, dict):
        return [("", "must be an object")]
    errors = documents.validate_body(operation_id, body)
    key = body.get("campaign_id")
    if isinstance(key, str):
        # it is a path segment and what rules name: as strict as a customer id, and never a slash
        errors += customer_id_problems(key, "campaign_id")
        if "/" in key or len(key) > MAX_KEY_LENGTH:
            errors.append(("campaign_id", f"must be at most {MAX_KEY_LENGTH} characters without '/'"))
    if isinstance(body.get("name"), str) and not body["name"].strip():
        errors.append(("name", "must not be empty"))
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and len(metadata) > MAX_METADATA_KEYS:
        errors.append(("metadata", f"must have at most {MAX_METADATA_KEYS} keys"))
    if not errors and contains_nul(body):
        errors.append(("", "text must not contain NUL (\\u0000) characters"))
    return errors


def campaign_create(*, account: Account, body: Any, actor: str) -> Campaign:
    body = documents.strip_server_fields(body) if isinstance(body, dict) else body
    errors = _problems("aid_discounts_campaigns_post", body)
    if errors:
        raise _invalid(errors)
    now = timezone.now()
    campaign = Campaign(
        account=account,
        name=body["name"],
        description=body.get("description", ""),
        private=body.get("private", False),
        metadata=body.get("metadata", {}),
        created_at=now,
        created_by=actor,
        updated_at=now,
        updated_by=actor,
    )
    campaign.campaign_id = body.get("campaign_id") or str(campaign.id)
    try:
        with transaction.atomic():
            campaign.save(force_insert=True)
            _audit(campaign, account=account, actor=actor, action=CAMPAIGN_CREATE)
    except IntegrityError as exc:  # the unique key, also when two creates race
        raise _invalid([("campaign_id", "a campaign with this campaign_id exists (deleted ones count)")]) from exc
    return campaign


def _locked(account: Account, campaign_id: str, *, deleted_too: bool) -> Campaign:
    found = Campaign.objects.select_for_update().filter(account=account, campaign_id=campaign_id)
    if not deleted_too:
        found = found.filter(deleted_at__isnull=True)
    campaign = found.first()
    if campaign is None:
        raise CampaignNotFound()
    return campaign


UPDATABLE = ("name", "description", "private", "metadata")


def campaign_update(*, account: Account, campaign_id: str, body: Any, actor: str) -> Campaign:
    """The properties sent replace the stored ones; a deleted campaign comes back. `campaign_id` never changes."""
    errors = _problems("aid_discounts_campaigns_campaign_id_put", body)
    if not errors and "campaign_id" in body and body["campaign_id"] != campaign_id:
        errors.append(("campaign_id", "cannot be changed"))
    if errors:
        raise _invalid(errors)
    with transaction.atomic():
        campaign = _locked(account, campaign_id, deleted_too=True)
        for name in UPDATABLE:
            if name in body:
                setattr(campaign, name, body[name])
        campaign.deleted_at = campaign.deleted_by = None
        campaign.updated_at = timezone.now()
        campaign.updated_by = actor
        campaign.save()
        _audit(campaign, account=account, actor=actor, action=CAMPAIGN_UPDATE)
    return campaign


def campaign_delete(*, account: Account, campaign_id: str, actor: str) -> Campaign:
    with transaction.atomic():
        campaign = _locked(account, campaign_id, deleted_too=False)
        campaign.deleted_at = campaign.updated_at = timezone.now()
        campaign.deleted_by = campaign.updated_by = actor
        campaign.save(update_fields=["deleted_at", "deleted_by", "updated_at", "updated_by"])
        _audit(campaign, account=account, actor=actor, action=CAMPAIGN_DELETE)
    return campaign
