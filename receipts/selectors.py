"""Reads of receipts and customers, and the read-model querysets other apps (segments) may use."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from loyalty.accounts.models import Account
from receipts.models import (
    Customer,
    ItemCode,
    Receipt,
)
from receipts.readmodels.queries import ItemFilter, customer_search_q, matching_receipts_per_customer


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def receipt_to_api(receipt: Receipt) -> dict[str, Any]:
    """The stored document as posted, with the server's Entity fields."""
    return {
        **receipt.document,
        "id": str(receipt.uuid),
        "created_at": _iso(receipt.created_at),
        "created_by": receipt.created_by,
        "updated_at": _iso(receipt.updated_at),
    }


MINIMAL_FIELDS = ("store", "items", "gross_amount", "net_amount", "currency", "purchase_at")


def receipt_to_minimal(receipt: Receipt) -> dict[str, Any]:
    document = receipt.document
    return {
        "id": str(receipt.uuid),
        "created_at": _iso(receipt.created_at),
        "created_by": receipt.created_by,
        "updated_at": _iso(receipt.updated_at),
        **{name: document[name] for name in MINIMAL_FIELDS if name in document},
    }


def customer_find(*, account: Account, customer_id: str) -> Customer | None:
    return Customer.objects.filter(account=account, customer_id=customer_id).first()


@dataclass(frozen=True)
class ReceiptPage:
    receipts: list[Receipt]
    starting_after: str | None


class InvalidCursor(Exception):
    pass


def customer_receipts_page(
    *, account: Account, customer_id: str, limit: int, starting_after: str | None
) -> ReceiptPage:
    """Newest first. The cursor is the last receipt's id; keyset on (purchase_at, id) so new arrivals never shift
    a page that is being walked."""
    customer = customer_find(account=account, customer_id=customer_id)
    if customer is None:
        return ReceiptPage([], None)
    queryset = Receipt.objects.filter(account=account, customer_pk=customer).order_by("-purchase_at", "-id")
    if starting_after:
        try:
            cursor_uuid = uuid.UUID(starting_after)
        except ValueError as exc:
            raise InvalidCursor("starting_after must be a receipt id from a previous page") from exc
        anchor = (
            Receipt.objects.filter(account=account, customer_pk=customer, uuid=cursor_uuid)
            .values_list("purchase_at", "id")
            .first()
        )
        if anchor is None:
            raise InvalidCursor("starting_after is not a receipt of this customer")
        purchase_at, pk = anchor
        queryset = queryset.filter(purchase_at__lte=purchase_at).exclude(purchase_at=purchase_at, id__gte=pk)
    rows = list(queryset[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    return ReceiptPage(rows, str(rows[-1].uuid) if has_more and rows else None)


def _match_receipt_id(queryset: QuerySet[Receipt], receipt_id: str, *, allow_entity_id: bool) -> QuerySet[Receipt]:
    """A path's receipt_id is the POS id; within one customer's receipts our Entity id (uuid) is accepted too
    (that set is small, and the uuid has no index of its own)."""
    if allow_entity_id:
        try:
            entity_id = uuid.UUID(receipt_id)
        except ValueError:
            pass
        else:
            by_uuid = queryset.filter(uuid=entity_id)
            if by_uuid.exists():
                return by_uuid
    return queryset.filter(receipt_id=receipt_id)


def receipt_by_token_claims(*, account: Account, claims: dict[str, Any]) -> Receipt | None:
    return Receipt.objects.filter(
        account=account, receipt_id=claims["receipt_id"], store_id=claims["store_id"], uuid=claims["sub"]
    ).first()


class AmbiguousReceipt(Exception):
    def __init__(self, receipt_id: str, store_ids: list[str]):
        super().__init__(
            f"Receipt {receipt_id} exists in several stores ({', '.join(store_ids)}); "
            "pick one with the store_id query parameter."
        )


def receipt_get_by_pos_id(
    *, account: Account, receipt_id: str, store_id: str | None = None, customer_id: str | None = None
) -> Receipt:
    queryset = Receipt.objects.filter(account=account)
    if customer_id is not None:
        customer = customer_find(account=account, customer_id=customer_id)
        if customer is None:
            raise Http404(f"Customer {customer_id} has no receipts.")
        queryset = queryset.filter(customer_pk=customer)
    queryset = _match_receipt_id(queryset, receipt_id, allow_entity_id=customer_id is not None)
    if store_id is not None:
        queryset = queryset.filter(store_id=store_id)
    matches = list(queryset[:10])
    if not matches:
        raise Http404(f"Receipt {receipt_id} was not found.")
    if len(matches) > 1:
        raise AmbiguousReceipt(receipt_id, sorted(m.store_id for m in matches))
    return matches[0]


def receipts_search(*, account: Account, receipt_id: str) -> list[Receipt]:
    return list(Receipt.objects.filter(account=account, receipt_id=receipt_id).order_by("store_id")[:100])


# --- read models for segmentation --------------------------------------------------------------------------------


def customer_segment_json(
    *,
    account: Account,
    purchase_from: datetime | None,
    purchase_to: datetime | None,
    store_ids: list[str] | None,
    items: list[ItemFilter] | None,
) -> bytes:
    """Dintero's customer_segment response body, `{"customers": [{"customer_id", "purchases"}]}`, most purchases
    first, built by PostgreSQL: a broad filter answers ~180k customers, and fetching them as rows and encoding them
    in Python cost more than the query itself."""
    from django.core.exceptions import EmptyResultSet
    from django.db import connection, transaction

    per_customer = matching_receipts_per_customer(
        account=account, purchase_from=purchase_from, purchase_to=purchase_to, store_ids=store_ids, items=items
    )
    try:
        sql, params = per_customer.query.sql_with_params()
    except EmptyResultSet:
        return b'{"customers":[]}'
    with transaction.atomic(), connection.cursor() as cursor:
        # Counting per customer by sorting beats hashing here: ~1.3M item facts into ~180k customers for the broad
        # query at 5M receipts took ~860 ms with a hash aggregate and ~650 ms sorted (measured back to back).
        cursor.execute("SET LOCAL enable_hashagg = off")
        cursor.execute(
            f"""
            SELECT '{{"customers":[' || coalesce(string_agg(
                       '{{"customer_id":' || to_json(c.customer_id)::text || ',"purchases":' || m.purchases || '}}',
                       ',' ORDER BY m.purchases DESC, c.customer_id), '') || ']}}'
            FROM ({sql}) m JOIN receipts_customer c ON c.id = m.customer
            """,
            params,
        )
        return cursor.fetchone()[0].encode()


# --- back-office pages ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceiptFilters:
    """The receipts page's filters; instants are already converted from the account's timezone."""

    store_ids: list[str] | None = None
    purchase_from: datetime | None = None
    purchase_to: datetime | None = None  # exclusive
    status: str | None = None
    currency: str | None = None
    with_customer: bool | None = None
    min_gross: int | None = None
    max_gross: int | None = None
    search: str | None = None
    # False: the search matches customer ids only, so it cannot tell whether an e-mail or phone belongs to a customer
    search_personal_data: bool = True


@dataclass(frozen=True)
class KeysetPage:
    rows: list[Any]
    next_cursor: str | None
    previous_cursor: str | None


def _receipt_cursor(receipt: Receipt) -> str:
    return f"{receipt.purchase_at.isoformat()}_{receipt.id}"


def _parse_receipt_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        at, pk = cursor.rsplit("_", 1)
        parsed = datetime.fromisoformat(at)
        if parsed.tzinfo is None:
            raise ValueError
        return parsed, int(pk)
    except ValueError as exc:
        raise InvalidCursor("Not a cursor of this list.") from exc


def _search_customers(account: Account, text: str, *, personal_data: bool = True) -> list[int]:
    """Customers a search term names: their id, e-mail or phone (exact; e-mails compare case-insensitively)."""
    return list(
        Customer.objects.filter(account=account)
        .filter(customer_search_q(text, personal_data=personal_data))
        .values_list("id", flat=True)[:50]
    )


def _filtered_receipts(account: Account, filters: ReceiptFilters) -> QuerySet[Receipt]:
    from django.db.models import Q

    queryset = Receipt.objects.filter(account=account)
    if filters.store_ids:
        queryset = queryset.filter(store_id__in=filters.store_ids)
    if filters.purchase_from is not None:
        queryset = queryset.filter(purchase_at__gte=filters.purchase_from)
    if filters.purchase_to is not None:
        queryset = queryset.filter(purchase_at__lt=filters.purchase_to)
    if filters.status:
        queryset = queryset.filter(entry_status=filters.status)
    if filters.currency:
        queryset = queryset.filter(currency=filters.currency)
    if filters.with_customer is not None:
        queryset = queryset.filter(customer_id__isnull=not filters.with_customer)
    if filters.min_gross is not None:
        queryset = queryset.filter(gross_amount__gte=filters.min_gross)
    if filters.max_gross is not None:
        queryset = queryset.filter(gross_amount__lte=filters.max_gross)
    if filters.search:
        text = filters.search.strip()
        matches = Q(receipt_id=text)
        customer_pks = _search_customers(account, text, personal_data=filters.search_personal_data)
        if customer_pks:
            matches |= Q(customer_pk__in=customer_pks)
        queryset = queryset.filter(matches)
    return queryset


def receipts_estimate(*, account: Account, filters: ReceiptFilters) -> int | None:
    """The planner's estimate of how many receipts match: planning only, nothing is counted (a COUNT over
    millions of rows per page load is what the list must never do). None if the plan cannot be read."""
    import json

    try:
        plan = json.loads(_filtered_receipts(account, filters).explain(format="json"))
        return int(plan[0]["Plan"]["Plan Rows"])
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def receipts_page(
    *, account: Account, filters: ReceiptFilters, limit: int, after: str | None = None, before: str | None = None
) -> KeysetPage:
    """Newest first, keyset-paged on (purchase_at, id): every page is an index range scan over
    (account, purchase_at), whatever the table's size, and nothing counts the whole list."""
    queryset = _filtered_receipts(account, filters)
    backwards = before is not None and after is None
    if after:
        at, pk = _parse_receipt_cursor(after)
        queryset = queryset.filter(purchase_at__lte=at).exclude(purchase_at=at, id__gte=pk)
        ordered = queryset.order_by("-purchase_at", "-id")
    elif backwards:
        at, pk = _parse_receipt_cursor(before)
        queryset = queryset.filter(purchase_at__gte=at).exclude(purchase_at=at, id__lte=pk)
        ordered = queryset.order_by("purchase_at", "id")
    else:
        ordered = queryset.order_by("-purchase_at", "-id")
    rows = list(ordered.defer("document")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    if backwards:
        rows.reverse()
        next_cursor = _receipt_cursor(rows[-1]) if rows else None
        previous_cursor = _receipt_cursor(rows[0]) if rows and more else None
    else:
        next_cursor = _receipt_cursor(rows[-1]) if rows and more else None
        previous_cursor = _receipt_cursor(rows[0]) if rows and after else None
    return KeysetPage(rows=rows, next_cursor=next_cursor, previous_cursor=previous_cursor)


def receipt_get(*, account: Account, pk: int) -> Receipt:
    receipt = Receipt.objects.filter(account=account, pk=pk).select_related("customer_pk").first()
    if receipt is None:
        raise Http404("No such receipt.")
    return receipt


def customer_get(*, account: Account, pk: int) -> Customer:
    customer = Customer.objects.filter(account=account, pk=pk).first()
    if customer is None:
        raise Http404("No such customer.")
    return customer


def stores_for_account(*, account: Account) -> list[tuple[str, str]]:
    """(store id, name) of every store seen in the account's purchases (the item-code dictionary knows them)."""
    return list(
        ItemCode.objects.filter(account=account, kind=ItemCode.Kind.STORE)
        .order_by("value")
        .values_list("value", "name")
    )


def codes_suggest(*, account: Account, kind: str, text: str, limit: int = 15) -> list[tuple[str, str]]:
    """Item, group, label or maker values starting with (or named like) `text`, for autocompletion."""
    from django.db.models import Q

    queryset = ItemCode.objects.filter(account=account, kind=kind)
    if text:
        queryset = queryset.filter(Q(value__startswith=text) | Q(name__icontains=text))
    return list(queryset.order_by("value").values_list("value", "name")[:limit])


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
        queryset = queryset.filter(customer_search_q(text, personal_data=search_personal_data, names=True)).order_by(
            "-id"
        )
        rows = list(queryset[:limit])
        return KeysetPage(rows=rows, next_cursor=None, previous_cursor=None)
    ordered = queryset.filter(last_purchase_at__isnull=False).order_by("-last_purchase_at", "-id")
    if after:
        try:
            pk = int(after)
        except ValueError as exc:
            raise InvalidCursor("Not a cursor of this list.") from exc
        anchor = Customer.objects.filter(account=account, pk=pk).values_list("last_purchase_at", flat=True).first()
        if anchor is None:
            raise InvalidCursor("Not a cursor of this list.")
        ordered = ordered.filter(last_purchase_at__lte=anchor).exclude(last_purchase_at=anchor, id__gte=pk)
    rows = list(ordered[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return KeysetPage(rows=rows, next_cursor=str(rows[-1].pk) if more and rows else None, previous_cursor=None)


def customer_receipts_recent(*, customer: Customer, limit: int) -> list[Receipt]:
    return list(
        Receipt.objects.filter(account_id=customer.account_id, customer_pk=customer)
        .order_by("-purchase_at", "-id")
        .defer("document")[:limit]
    )


def customer_spend_by_month(*, customer: Customer, tz) -> list[tuple[str, int, int]]:
    """(YYYY-MM in the account's timezone, purchases, gross) over the customer's receipts index."""
    from django.db.models import Count, Sum
    from django.db.models.functions import TruncMonth

    rows = (
        Receipt.objects.filter(account_id=customer.account_id, customer_pk=customer, is_purchase=True)
        .annotate(month=TruncMonth("purchase_at", tzinfo=tz))
        .values("month")
        .annotate(n=Count("id"), gross=Sum("gross_amount"))
        .order_by("month")
    )
    return [(row["month"].strftime("%Y-%m"), row["n"], row["gross"] or 0) for row in rows]


DAILY_CACHE_SECONDS = 300


def receipts_per_day(*, account: Account, since: datetime, tz) -> list[tuple[str, int, int]]:
    """(day in the account's timezone, purchase receipts, gross) from `since` on: a range scan of the
    (account, purchase_at) index, never the whole table. Kept for five minutes: on millions of receipts the scan
    of 90 days is the dashboard's one heavy query, and a chart of days does not need to be fresher than that."""
    from django.core.cache import cache

    key = f"receipts-per-day:{account.pk}:{since.isoformat()}:{tz}"
    cached = cache.get(key)
    if cached is None:
        cached = _receipts_per_day(account, since, tz)
        cache.set(key, cached, DAILY_CACHE_SECONDS)
    return [tuple(row) for row in cached]


def _receipts_per_day(account: Account, since: datetime, tz) -> list[tuple[str, int, int]]:
    from django.db.models import Count, Sum
    from django.db.models.functions import TruncDate

    rows = (
        Receipt.objects.filter(account=account, purchase_at__gte=since, is_purchase=True)
        .annotate(day=TruncDate("purchase_at", tzinfo=tz))
        .values("day")
        .annotate(n=Count("id"), gross=Sum("gross_amount"))
        .order_by("day")
    )
    return [(row["day"].isoformat(), row["n"], row["gross"] or 0) for row in rows]


def customers_activity(*, account: Account, since: datetime) -> tuple[int, int]:
    """(customers who bought since `since`, customers who did not), from the customer_recent index."""
    queryset = Customer.objects.filter(account=account)
    active = queryset.filter(last_purchase_at__gte=since).count()
    return active, queryset.count() - active


def receipt_statuses(*, account: Account) -> list[str]:
    """The entry statuses the filter offers; the common ones, plus any used in the last receipts."""
    recent = set(
        Receipt.objects.filter(account=account).order_by("-purchase_at").values_list("entry_status", flat=True)[:500]
    )
    return sorted({"Concluded", "Voided", "Cancelled", "Training", *recent} - {""})
