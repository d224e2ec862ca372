"""Who may see customers' personal data (names, contacts, birthdays, addresses, and searches over them).

The one rule, used by the back-office pages and both APIs: the roles that run campaigns with customers (owners and
editors) see it; a viewer reads the shop's numbers without learning who its customers are. An API client is not a
person: its scopes decide what it reads. A superuser acts as an owner.
"""

from __future__ import annotations

from loyalty.accounts.scopes import Role

PERSONAL_DATA_ROLES = frozenset({Role.OWNER, Role.EDITOR})


def personal_data_visible(*, role: str | None, is_superuser: bool = False, api_client: bool = False) -> bool:
    """`role`: the staff user's role in the account (None without a membership)."""
    return api_client or is_superuser or role in PERSONAL_DATA_ROLES
