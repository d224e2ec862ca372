"""The catalogue of API scopes. Dintero operations accept the scopes listed in their spec's `x-scopes`."""

from django.db import models

SCOPES: dict[str, str] = {
    "admin:receipts": "Every receipts operation, including customer_segment and change_customer_id.",
    "read:receipts": "Read receipts and run customer_segment.",
    "write:receipts": "Post receipts and claim receipts by token.",
    "user:receipts": "End-customer access to their own receipts (customer tokens only).",
    "public:receipts": "Claim a receipt with its token.",
    "admin:discounts": "Every discounts operation.",
    "read:discounts": "Read discount rules, their customers and a customer's rules.",
    "read:discounts:/available_for_receipt": "Read the claims a point of sale made.",
    "write:discounts": "Create, change and delete discount rules and give or take them from customers.",
    "write:discounts:/events": "Post events (tokens, receipts) to POST /discounts/events only.",
    "user:discounts": "End-customer access to the rules given to them (customer tokens only).",
    "public:discounts": "Read public discount rules.",
    "write:discounts:/available_for_receipt": "Ask which discounts a receipt gets and claim them (a till's needs).",
    "admin:automations": "Every automation operation.",
    "read:automations": "Read automations and their deliveries.",
    "write:automations": "Create and delete automations.",
    "admin:segments": "Every segment operation (Open Loyalty segment API and our extensions).",
    "read:segments": "Read segments, members, runs and pushes; preview definitions.",
    "write:segments": "Create, change, delete, activate, refresh and push segments.",
}


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    EDITOR = "editor", "Editor"
    VIEWER = "viewer", "Viewer"


# End-customer scopes: held only by customer tokens (one customer each), never by an API client. A client mints
# them with the account-wide scope of the same API.
USER_SCOPES = frozenset({"user:receipts", "user:discounts"})
USER_SCOPE_GRANTORS: dict[str, str] = {"user:receipts": "admin:receipts", "user:discounts": "admin:discounts"}
CLIENT_SCOPES: dict[str, str] = {name: text for name, text in SCOPES.items() if name not in USER_SCOPES}

ADMIN_SCOPES = frozenset({"admin:receipts", "admin:discounts", "admin:segments", "admin:automations"})
READ_SCOPES = frozenset({"read:receipts", "read:discounts", "read:segments", "read:automations"})

# A staff user's token acts with the role they hold in the account it is used on.
ROLE_SCOPES: dict[str, frozenset[str]] = {
    Role.OWNER: ADMIN_SCOPES,
    Role.EDITOR: ADMIN_SCOPES,
    Role.VIEWER: READ_SCOPES,
}


def unknown_scopes(scopes: list[str]) -> list[str]:
    return [scope for scope in scopes if scope not in SCOPES]
