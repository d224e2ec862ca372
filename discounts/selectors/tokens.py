"""The token store as available_for_receipt reads it."""

from __future__ import annotations

from discounts.models import CustomerToken
from loyalty.accounts.models import Account


def customer_token_resolve(*, account: Account, token_type: str, value: str) -> str | None:
    """The customer a (type, value) token was last added for by a `token_add` event, or None."""
    return (
        CustomerToken.objects.filter(account=account, token_type=token_type, value=value)
        .values_list("customer_id", flat=True)
        .first()
    )
