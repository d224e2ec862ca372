"""Who is calling: an API client of one account, an end customer through a customer token a client minted, or a
staff user acting through their memberships."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from loyalty.accounts.policy import personal_data_visible
from loyalty.accounts.scopes import ADMIN_SCOPES, ROLE_SCOPES
from loyalty.core.errors import Forbidden


@dataclass(frozen=True)
class Principal:
    kind: str  # "client" | "customer" | "staff"
    subject: str  # client_id, `customer:<customer_id>`, or the staff user's username
    claims: dict[str, Any] = field(repr=False)
    client_account: str | None = None  # the account of a client or customer token
    client_scopes: frozenset[str] = frozenset()
    roles: dict[str, str] = field(default_factory=dict)  # aid → role, for staff
    is_superuser: bool = False
    user: Any = field(default=None, repr=False)
    customer_id: str | None = None  # set for customer tokens only: the one customer they act for
    # a client or customer token's account as authentication read it (its client's active check reads the row)
    account: Any = field(default=None, repr=False, compare=False)

    is_authenticated = True
    is_anonymous = False

    @property
    def actor(self) -> str:
        """What `created_by` records: the client id, `customer:<id>`, or `user:<username>` for staff."""
        return f"user:{self.subject}" if self.kind == "staff" else self.subject

    def scopes_for(self, aid: str) -> frozenset[str] | None:
        """The scopes this principal holds in `aid`, or None when it has no access to that account at all."""
        if self.kind in ("client", "customer"):
            return self.client_scopes if aid == self.client_account else None
        if self.is_superuser:
            return ADMIN_SCOPES
        role = self.roles.get(aid)
        return ROLE_SCOPES.get(role) if role else None

    def require_customer(self, customer_id: str | None) -> None:
        """A customer token acts only on its own customer's data: anything else (another customer, an anonymous
        receipt) is 403. Client and staff principals are bound to no customer."""
        if self.customer_id is not None and customer_id != self.customer_id:
            raise Forbidden("This customer token is not valid for that customer.")

    def sees_personal_data(self, aid: str) -> bool:
        """Whether customers' personal data may be shown to this principal in `aid` (loyalty.accounts.policy)."""
        return personal_data_visible(
            role=self.roles.get(aid), is_superuser=self.is_superuser, api_client=self.kind in ("client", "customer")
        )
