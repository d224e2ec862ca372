"""Reads of customers: lookups, the back-office customer list and a customer's page."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import NamedTuple

from django.db.models import Count, Sum
from django.db.models.functions import TruncMonth

from loyalty.accounts.models import Account
from loyalty.core.sql import raw_cursor
from receipts.errors import InvalidCursor, ReceiptNotFound
from receipts.models import Customer, Receipt
from receipts.readmodels.queries import customer_search_q
from receipts.selectors.paging import KeysetPage
from receipts.sql import reads


def customer_find(*, account: Account, customer_id: str) -> Customer | None:
    return Customer.objects.filter(account=account, customer_id=customer_id).first()


def customer_pks(*, account: Account, customer_ids: list[str]) -> dict[str, int]:
    """customer id → the page's key (pk) for those of `customer_ids` the account knows: one index lookup each."""
    rows = Customer.objects.filter(account=account, customer_id__in=customer_ids).values_list("customer_id", "pk")
    return dict(rows)


def customer_get(*, account: Account, pk: int) -> Customer:
    customer = Customer.objects.filter(account=account, pk=pk).first()
    if customer is None:
        raise ReceiptNotFound("No such customer.")
    return customer


def customers_page(
    *, account: Account, search: str | None, limit: int, after: str | None, search_personal_data: bool = True
) -> KeysetPage:
    """Most recent buyers first, keyset-paged along the (account, -last_purchase_at) index; a search finds a
    customer by id, e-mail, phone or name (by id only without `search_personal_data`). Customers whose receipts
    were all non-purchases have no last purchase and are found by search only (sorting them in would defeat the
    index)."""
    queryset = Customer.objects.filter(account=account)
    if search:
        text = search.strip()
        matches = queryset.filter(customer_search_q(text, personal_data=search_personal_data, names=True))
        return KeysetPage(rows=list(matches.order_by("-id")[:limit]), next_cursor=None, previous_cursor=None)
    ordered = queryset.filter(last_purchase_at__isnull=False).order_by("-last_purchase_at", "-id")
    if after:
        pk, anchor = _customer_anchor(account, after)
        ordered = ordered.filter(last_purchase_at__lte=anchor).exclude(last_purchase_at=anchor, id__gte=pk)
    rows = list(ordered[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return KeysetPage(rows=rows, next_cursor=str(rows[-1].pk) if more and rows else None, previous_cursor=None)


def _customer_anchor(account: Account, cursor: str) -> tuple[int, datetime]:
    """The customer a cursor names and their last purchase: where the next page starts."""
    try:
        pk = int(cursor)
    except ValueError as exc:
        raise InvalidCursor("Not a cursor of this list.") from exc
    anchor = Customer.objects.filter(account=account, pk=pk).values_list("last_purchase_at", flat=True).first()
    if anchor is None:
        raise InvalidCursor("Not a cursor of this list.")
    return pk, anchor


def customer_receipts_recent(*, customer: Customer, limit: int) -> list[Receipt]:
    return list(
        Receipt.objects.filter(account_id=customer.account_id, customer_pk=customer)
        .order_by("-purchase_at", "-id")
        .defer("document")[:limit]
    )


def customer_spend_by_month(*, customer: Customer, tz: tzinfo) -> list[tuple[str, int, int, int]]:
    """(YYYY-MM in the account's timezone, purchases, gross, net) of the months with purchases, over the customer's
    receipts index."""
    rows = (
        Receipt.objects.filter(account_id=customer.account_id, customer_pk=customer, is_purchase=True)
        .annotate(month=TruncMonth("purchase_at", tzinfo=tz))
        .values("month")
        .annotate(n=Count("id"), gross=Sum("gross_amount"), net=Sum("net_amount"))
        .order_by("month")
    )
    return [(row["month"].strftime("%Y-%m"), row["n"], row["gross"] or 0, row["net"] or 0) for row in rows]


class TopCode(NamedTuple):
    code: str
    name: str
    lines: int
    net: int


TOP_FROM_RECEIPTS = 500


def customer_top_codes(*, customer: Customer, limit: int = 5) -> dict[str, list[TopCode]]:
    """What the customer buys most, by net amount: {"items": […], "groups": […]} over the lines of their latest
    TOP_FROM_RECEIPTS purchases (returned lines do not count). Two statements on the customer's receipts index."""
    params = {"customer": customer.pk, "receipts": TOP_FROM_RECEIPTS, "limit": limit}
    cur = raw_cursor()
    found = {}
    for key, query in (("items", reads.CUSTOMER_TOP_ITEMS), ("groups", reads.CUSTOMER_TOP_GROUPS)):
        cur.execute(query, params)
        found[key] = [TopCode(*row) for row in cur.fetchall()]
    return found


def customers_buying(*, account: Account, start: datetime, end: datetime) -> int:
    """How many customers made a purchase in [start, end): a range of the (account, purchase_at) index."""
    return (
        Receipt.objects.filter(
            account=account, purchase_at__gte=start, purchase_at__lt=end, is_purchase=True, customer_pk__isnull=False
        )
        .values("customer_pk")
        .distinct()
        .count()
    )


def customers_activity(*, account: Account, since: datetime) -> tuple[int, int]:
    """(customers who bought since `since`, customers who did not), from the customer_recent index."""
    queryset = Customer.objects.filter(account=account)
    active = queryset.filter(last_purchase_at__gte=since).count()
    return active, queryset.count() - active
