from __future__ import annotations

from functools import cache

from django.db import connection

from loyalty.accounts import sql as statements
from loyalty.accounts.models import Account, ApiClient, Membership
from loyalty.core.errors import NotFound
from loyalty.core.sql import render


def account_get(*, aid: str) -> Account:
    account = Account.objects.filter(aid=aid).first()
    if account is None:
        raise NotFound()
    return account


def api_client_account(*, client_id: str, aid: str) -> Account | None:
    """`aid`'s account if `client_id` is one of its active clients, else None: the revocation check every request
    with a client's (or a client-minted customer's) token makes, and the account the view then needs, in one
    statement instead of two ORM queries (the API's hot paths answer in a few milliseconds). On Django's cursor, so
    query counts (and Django's per-request connection health check) see it as the ORM's queries."""
    with connection.cursor() as cursor:
        cursor.execute(_active_client_account(), {"client": client_id, "aid": aid})
        row = cursor.fetchone()
    return None if row is None else Account.from_db("default", statements.ACCOUNT_FIELDS, list(row))


@cache
def _active_client_account() -> str:
    return render(statements.ACTIVE_CLIENT_ACCOUNT)


def staff_roles(*, user) -> dict[str, str]:
    return dict(Membership.objects.filter(user=user).values_list("account__aid", "role"))


def staff_membership(*, user, aid: str) -> Membership | None:
    """The user's membership of the account (with the account), or None: pages treat both cases as 404."""
    return Membership.objects.filter(user=user, account__aid=aid).select_related("account").first()


def staff_memberships(*, user) -> list[Membership]:
    return list(Membership.objects.filter(user=user).select_related("account").order_by("account__aid"))


def api_clients_of_account(*, account: Account) -> list[ApiClient]:
    """The account's clients, active ones first, then by name."""
    return list(ApiClient.objects.filter(account=account).order_by("-active", "name", "created_at"))


def api_client_get(*, account: Account, pk: int) -> ApiClient:
    client = ApiClient.objects.filter(account=account, pk=pk).select_related("account").first()
    if client is None:
        raise NotFound("No such API client.")
    return client
