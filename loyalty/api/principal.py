"""Who is calling: an API client of one account, or a staff user acting through their memberships."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from loyalty.accounts.policy import personal_data_visible
from loyalty.accounts.scopes import ADMIN_SCOPES, ROLE_SCOPES


@dataclass(frozen=True)
class Principal:
    kind: str  # "client" | "staff"
    subject: str  # client_id, or the staff user's username
    claims: dict[str, Any] = field(repr=False)
    client_account: str | None = None
    client_scopes: frozenset[str] = frozenset()
    roles: dict[str, str] = field(default_factory=dict)  # aid → role, for staff
    is_superuser: bool = False
    user: Any = field(default=None, repr=False)

    is_authenticated = True
    is_anonymous = False

    @property
    def actor(self) -> str:
        """What `created_by` records: the client id, or `user:<username>` for staff."""
        return self.subject if self.kind == "client" else f"user:{self.subject}"

    def scopes_for(self, aid: str) -> frozenset[str] | None:
        """The scopes this principal holds in `aid`, or None when it has no access to that account at all."""
        if self.kind == "client":
            return self.client_scopes if aid == self.client_account else None
        if self.is_superuser:
            return ADMIN_SCOPES
        role = self.roles.get(aid)
        return ROLE_SCOPES.get(role) if role else None

    def sees_personal_data(self, aid: str) -> bool:
        """Whether customers' personal data may be shown to this principal in `aid` (loyalty.accounts.policy)."""
        return personal_data_visible(
            role=self.roles.get(aid), is_superuser=self.is_superuser, api_client=self.kind == "client"
        )
