"""One customer's ref (`/discounts/customers/{customer_id}/refs/{ref_id}`). Scoped to one account."""

from __future__ import annotations

import uuid

from discounts.documents import ANY_CUSTOMER, NO_CUSTOMER
from discounts.models import DiscountRef
from discounts.usage_errors import RefDeleted, RefNotFound
from loyalty.accounts.models import Account


def customer_ref_get(
    *, account: Account, customer_id: str, ref_id: str, own: bool = False, live: bool = False
) -> DiscountRef:
    """The ref when this customer holds it: given to them, or (unless `own`) given to `*` and they have a customer
    id. Refs of deleted rules, other customers' and other accounts' refs are RefNotFound; with `live`, a ref taken
    back is RefDeleted (the spec's 400)."""
    try:
        pk = uuid.UUID(str(ref_id))
    except ValueError as exc:
        raise RefNotFound from exc
    holders = [customer_id] if own or customer_id == NO_CUSTOMER else [customer_id, ANY_CUSTOMER]
    ref = (
        DiscountRef.objects.filter(account=account, pk=pk, customer_id__in=holders, rule__deleted_at__isnull=True)
        .select_related("rule")
        .first()
    )
    if ref is None:
        raise RefNotFound
    if live and ref.deleted_at is not None:
        raise RefDeleted
    return ref
