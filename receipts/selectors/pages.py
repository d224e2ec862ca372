"""Reads behind the back-office receipt pages: the filtered, keyset-paged list, one receipt, the dashboard's
per-day figures and the filters' choices."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, NamedTuple

from django.core.cache import cache
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Lower, TruncDate
from django.db.models.lookups import StartsWith

from loyalty.accounts.models import Account
from receipts.errors import InvalidCursor, ReceiptNotFound
from receipts.models import Customer, ItemCode, Receipt
from receipts.readmodels.queries import customer_search_q
from receipts.selectors.paging import KeysetPage


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


def _filter_conditions(filters: ReceiptFilters) -> Q:
    """The filters that are plain column conditions, ANDed (an empty Q when none is set)."""
    given: dict[str, Any] = {
        "store_id__in": filters.store_ids or None,
        "purchase_at__gte": filters.purchase_from,
        "purchase_at__lt": filters.purchase_to,
        "entry_status": filters.status or None,
        "currency": filters.currency or None,
        "customer_id__isnull": None if filters.with_customer is None else not filters.with_customer,
        "gross_amount__gte": filters.min_gross,
        "gross_amount__lte": filters.max_gross,
    }
    return Q(**{lookup: value for lookup, value in given.items() if value is not None})


def receipt_id_prefix_q(text: str) -> Q:
    """Receipt ids starting with `text` in any case: `lower(receipt_id) LIKE lower(text) || '%'`, with the LIKE
    wildcards in `text` escaped (StartsWith escapes a plain value); an index range scan of receipt_id_lower_prefix."""
    return Q(StartsWith(Lower("receipt_id"), text.lower()))


def customer_id_prefix_q(text: str) -> Q:
    """Customer ids the same way, on the partial index receipt_customer_lower_prefix (hence the IS NOT NULL)."""
    return Q(Q(customer_id__isnull=False), StartsWith(Lower("customer_id"), text.lower()))


def _filtered_receipts(account: Account, filters: ReceiptFilters) -> QuerySet[Receipt]:
    queryset = Receipt.objects.filter(account=account).filter(_filter_conditions(filters))
    if filters.search:
        text = filters.search.strip()
        matches = receipt_id_prefix_q(text) | customer_id_prefix_q(text)
        customer_pks = _search_customers(account, text, personal_data=filters.search_personal_data)
        if customer_pks:
            matches |= Q(customer_pk__in=customer_pks)
        queryset = queryset.filter(matches)
    return queryset


class CappedCount(NamedTuple):
    """How many receipts match, exactly up to a cap; `capped` when there are more (shown as "cap+")."""

    matching: int
    capped: bool


def receipts_count(*, account: Account, filters: ReceiptFilters, cap: int) -> CappedCount:
    """The exact number of matching receipts, counting at most `cap` + 1 rows
    (`SELECT count(*) FROM (… LIMIT cap + 1)`): the same index range the list reads, so it stays cheap at millions
    of receipts, and exact where a planner's estimate of a filtered query is off by a factor of ten."""
    counted = _filtered_receipts(account, filters).order_by()[: cap + 1].count()
    return CappedCount(min(counted, cap), counted > cap)


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
        at, pk = _parse_receipt_cursor(before)  # type: ignore[arg-type]  # backwards: before is set
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


def receipts_export(*, account: Account, filters: ReceiptFilters, chunk: int) -> Iterator[Receipt]:
    """Every matching receipt, newest first, read in keyset pages of `chunk` (without their documents): an
    export of millions of receipts holds one page in memory, and no query runs longer than a page's."""
    after = None
    while True:
        result = receipts_page(account=account, filters=filters, limit=chunk, after=after)
        yield from result.rows
        if result.next_cursor is None:
            return
        after = result.next_cursor


def receipt_get(*, account: Account, pk: int) -> Receipt:
    receipt = Receipt.objects.filter(account=account, pk=pk).select_related("customer_pk").first()
    if receipt is None:
        raise ReceiptNotFound("No such receipt.")
    return receipt


def stores_for_account(*, account: Account) -> list[tuple[str, str]]:
    """(store id, name) of every store seen in the account's purchases (the item-code dictionary knows them)."""
    return list(
        ItemCode.objects.filter(account=account, kind=ItemCode.Kind.STORE)
        .order_by("value")
        .values_list("value", "name")
    )


def codes_suggest(*, account: Account, kind: str, text: str, limit: int = 15) -> list[tuple[str, str]]:
    """Item, group, label or maker values starting with (or named like) `text`, for autocompletion."""
    queryset = ItemCode.objects.filter(account=account, kind=kind)
    if text:
        queryset = queryset.filter(Q(value__startswith=text) | Q(name__icontains=text))
    return list(queryset.order_by("value").values_list("value", "name")[:limit])


DAILY_CACHE_SECONDS = 300


def receipts_per_day(*, account: Account, since: datetime, tz: tzinfo) -> list[tuple[str, int, int]]:
    """(day in the account's timezone, purchase receipts, gross) from `since` on: a range scan of the
    (account, purchase_at) index, never the whole table. Kept for five minutes: on millions of receipts the scan
    of 90 days is the dashboard's one heavy query, and a chart of days does not need to be fresher than that."""
    key = f"receipts-per-day:{account.pk}:{since.isoformat()}:{tz}"
    cached = cache.get(key)
    if cached is None:
        cached = _receipts_per_day(account, since, tz)
        cache.set(key, cached, DAILY_CACHE_SECONDS)
    return [(day, purchases, gross) for day, purchases, gross in cached]


def _receipts_per_day(account: Account, since: datetime, tz: tzinfo) -> list[tuple[str, int, int]]:
    rows = (
        Receipt.objects.filter(account=account, purchase_at__gte=since, is_purchase=True)
        .annotate(day=TruncDate("purchase_at", tzinfo=tz))
        .values("day")
        .annotate(n=Count("id"), gross=Sum("gross_amount"))
        .order_by("day")
    )
    return [(row["day"].isoformat(), row["n"], row["gross"] or 0) for row in rows]


def receipt_statuses(*, account: Account) -> list[str]:
    """The entry statuses the filter offers; the common ones, plus any used in the last receipts."""
    recent = set(
        Receipt.objects.filter(account=account).order_by("-purchase_at").values_list("entry_status", flat=True)[:500]
    )
    return sorted({"Concluded", "Voided", "Cancelled", "Training", *recent} - {""})
