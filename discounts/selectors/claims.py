"""Reads of claims and their API representation (the spec's Claim). Every query is scoped to one account."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import QuerySet

from discounts.models import DiscountClaim
from discounts.usage_errors import ClaimNotFound
from loyalty.accounts.models import Account


def _iso(value) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def claim_get(*, account: Account, claim_id: str, for_update: bool = False) -> DiscountClaim:
    """A claim of the account, released ones too; foreign and malformed ids are 404."""
    try:
        pk = uuid.UUID(str(claim_id))
    except ValueError as exc:
        raise ClaimNotFound from exc
    claims = DiscountClaim.objects.filter(account=account, pk=pk)
    claim = (claims.select_for_update() if for_update else claims).first()
    if claim is None:
        raise ClaimNotFound
    return claim


def claims_filtered(*, account: Account, ref: str | None, customer_id: str | None) -> QuerySet[DiscountClaim]:
    """The account's claims matching every filter given (the spec: `AND`)."""
    claims = DiscountClaim.objects.filter(account=account)
    if ref is not None:
        claims = claims.filter(ref=ref)
    if customer_id is not None:
        claims = claims.filter(customer_id=customer_id)
    return claims


def claim_list(
    *, account: Account, ref: str | None, customer_id: str | None, limit: int, starting_after: uuid.UUID | None
) -> list[DiscountClaim]:
    """Newest first, released claims included; the cursor is the last claim's id."""
    claims = claims_filtered(account=account, ref=ref, customer_id=customer_id)
    if starting_after:
        claims = claims.filter(id__lt=starting_after)
    return list(claims.order_by("-id")[:limit])


def claim_count(*, account: Account, ref: str | None, customer_id: str | None) -> int:
    """For `total=true` only: a client asks for it explicitly."""
    return claims_filtered(account=account, ref=ref, customer_id=customer_id).count()


def claim_to_api(claim: DiscountClaim) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(claim.id),
        "created_at": _iso(claim.created_at),
        "created_by": claim.created_by,
        "updated_at": _iso(claim.updated_at),
    }
    if claim.ref is not None:
        body["ref"] = claim.ref
    if claim.type:
        body["type"] = claim.type
    body["purchase_at"] = _iso(claim.purchase_at)
    body["customer_id"] = claim.customer_id
    body["discounts"] = claim.discounts
    if claim.deleted_at is not None:
        body["deleted_at"] = _iso(claim.deleted_at)
        body["deleted_by"] = claim.deleted_by
    return body
