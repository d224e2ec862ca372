"""Read-model querysets and lookups that segmentation compiles against (customers, item facts, code buyers,
window stats, ingest batches and watermarks). Every function is scoped to one account and reads only."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet, TextField
from django.db.models.functions import Cast, Lower, Mod

from loyalty.accounts.models import Account
from loyalty.core import jsonutil
from loyalty.core.sql import column, sql, table
from receipts.models import CodeBuyer, Customer, IngestBatch, ItemCode, ItemFact, PurchaseWindow, Receipt, WindowStat
from receipts.sql import reads as statements
from receipts.sql.reads import EpochMicroseconds


def customers_for_account(*, account: Account) -> QuerySet[Customer]:
    return Customer.objects.filter(account=account)


def item_facts_for_account(*, account: Account) -> QuerySet[ItemFact]:
    return ItemFact.objects.filter(account=account)


def read_models_exist(*, account: Account, window_ids: set[int], kept_codes: set[int]) -> bool:
    """Whether these purchase windows exist and these codes' buyers are kept (segments compile against them)."""
    windows = PurchaseWindow.objects.filter(account=account, id__in=window_ids).count() if window_ids else 0
    codes = (
        ItemCode.objects.filter(account=account, id__in=kept_codes, buyers_since__isnull=False).count()
        if kept_codes
        else 0
    )
    return windows == len(window_ids) and codes == len(kept_codes)


def code_buyers_for_account(*, account: Account) -> QuerySet[CodeBuyer]:
    """Who ever bought a kept code (receipts.readmodels.buyers.code_buyers_ensure keeps it first)."""
    return CodeBuyer.objects.filter(account=account)


def ingest_batches_after(*, account: Account, after_id: int) -> QuerySet[IngestBatch]:
    return IngestBatch.objects.filter(account=account, id__gt=after_id).order_by("id")


def codes_lookup(*, account: Account, kind: str, values: list[str], case_insensitive: bool = False) -> list[int]:
    queryset = ItemCode.objects.filter(account=account, kind=kind)
    if case_insensitive:
        lowered = sorted({v.lower() for v in values})
        queryset = queryset.annotate(lowered=Lower("value")).filter(lowered__in=lowered)
    else:
        queryset = queryset.filter(value__in=values)
    return list(queryset.values_list("id", flat=True))


def codes_resolve_existing(*, account: Account, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """(kind, value) → code id for the pairs that exist, in one query."""
    if not pairs:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(statements.CODES_EXISTING, [[k for k, _ in pairs], [v for _, v in pairs], account.pk])
        return {(kind, value): code for code, kind, value in cursor.fetchall()}


def window_stats_by_id(*, window_id: int) -> QuerySet[WindowStat]:
    return WindowStat.objects.filter(window_id=window_id)


def purchases_of_account(*, account: Account) -> QuerySet[Receipt]:
    """Receipts that count as purchases, of known customers."""
    return Receipt.objects.filter(account=account, is_purchase=True, customer_pk__isnull=False)


def purchases_relation() -> sql.Composed:
    """The purchases of known customers as a relation `(customer_pk, purchase_at, net)`, to compose into set-based
    reads above (the discounts impact report) that join it to their own tables: which receipts count as purchases,
    and their net revenue (as the customers' `net_total` counts it), stay this app's to say. Takes `%(account)s`.
    A plain subquery: PostgreSQL pulls it up, so a join on customer_pk and purchase_at walks the
    (customer_pk, purchase_at) index, index-only (it includes every column read here)."""
    return sql.SQL(
        """(SELECT purchase.{customer_pk} AS customer_pk, purchase.{purchase_at} AS purchase_at,
               coalesce(purchase.{net_amount}, 0) AS net
        FROM {receipt} purchase
        WHERE purchase.{account} = %(account)s::int AND purchase.{is_purchase} AND purchase.{customer_pk} IS NOT NULL)"""
    ).format(
        receipt=table(Receipt),
        customer_pk=column(Receipt, "customer_pk"),
        purchase_at=column(Receipt, "purchase_at"),
        net_amount=column(Receipt, "net_amount"),
        account=column(Receipt, "account"),
        is_purchase=column(Receipt, "is_purchase"),
    )


def purchases_for_replay(
    *,
    account: Account,
    start: datetime,
    end: datetime,
    customer_pks: QuerySet | None = None,
    partition: tuple[int, int] = (0, 1),
    chunk: int = 2000,
) -> Iterator[tuple[str, tuple[int, int], dict]]:
    """(customer id, place, receipt document) of every purchase of a known customer in [start, end) (of
    `customer_pks` only, given), oldest first, read through a server-side cursor: a dry run replays them in time
    order. The place, (purchase_at in microseconds since 1970, id), is the receipt's in that order. `partition` (k, n): only the customers whose
    pk is k modulo n, so n readers share the customers and each has all of a customer's purchases."""
    purchases = _purchases_in(account, start, end, customer_pks)
    k, n = partition
    if n > 1:
        purchases = purchases.alias(part=Mod("customer_pk", n)).filter(part=k)
    # the document as text, decoded by orjson (the JSONField's json.loads was a tenth of a replay); the time as an
    # int (a datetime through Django's loader costs a third of the rest of the row)
    rows = purchases.annotate(at=EpochMicroseconds("purchase_at"), text=Cast("document", TextField()))
    for customer_id, at, pk, text in rows.values_list("customer_id", "at", "id", "text").iterator(chunk_size=chunk):
        yield customer_id, (at, pk), jsonutil.loads(text)


def purchases_for_replay_count(
    *, account: Account, start: datetime, end: datetime, customer_pks: QuerySet | None = None
) -> int:
    return _purchases_in(account, start, end, customer_pks).count()


def _purchases_in(account: Account, start: datetime, end: datetime, customer_pks: QuerySet | None) -> QuerySet:
    purchases = purchases_of_account(account=account).filter(purchase_at__gte=start, purchase_at__lt=end)
    if customer_pks is not None:
        purchases = purchases.filter(customer_pk__in=customer_pks)
    return purchases.order_by("purchase_at", "id")


def ingest_watermark(*, account: Account, up_to: int | None = None) -> tuple[int, datetime] | None:
    """(id, stored at) of the newest receipt batch of this account (up to a batch id): what a segment version
    computed now (or from batches up to that one) includes."""
    batches = IngestBatch.objects.filter(account=account)
    if up_to is not None:
        batches = batches.filter(id__lte=up_to)
    return batches.order_by("-id").values_list("id", "created_at").first()


def ingest_batch_customers(*, account: Account, batch_from: int, batch_to: int) -> list[int]:
    """Every customer touched by the receipt batches in [batch_from, batch_to]."""
    with connection.cursor() as cursor:
        cursor.execute(statements.BATCH_CUSTOMERS, [account.pk, batch_from, batch_to])
        return [row[0] for row in cursor.fetchall()]


def newest_batch_per_account() -> dict[int, int]:
    return dict(IngestBatch.objects.values("account").annotate(newest=Max("id")).values_list("account", "newest"))


@dataclass(frozen=True)
class ItemFilter:
    """One `items` entry of a receipt filter: a line matches when every given field matches."""

    id: str | None = None
    group: str | None = None


def _item_code_key(entry: ItemFilter) -> tuple[str, str]:
    """The code an items entry is found by: its item id, or its group when it gives no id (it gives one of them)."""
    return ("item", entry.id) if entry.id is not None else ("group", entry.group or "")


def single_code_of_filter(
    *, account: Account, store_ids: list[str] | None, items: list[ItemFilter] | None
) -> int | None:
    """The code a receipt filter asks about when it asks about one code only (one items entry with an id or a
    group, not both, and no stores), if the code exists: then a receipt matches when it has the code's fact."""
    if store_ids is not None or not items or len(items) != 1 or (items[0].id is None) == (items[0].group is None):
        return None
    key = _item_code_key(items[0])
    return codes_resolve_existing(account=account, pairs=[key]).get(key)


def matching_receipts_per_customer(
    *,
    account: Account,
    purchase_from: datetime | None = None,
    purchase_to: datetime | None = None,
    store_ids: list[str] | None = None,
    items: list[ItemFilter] | None = None,
) -> QuerySet:
    """Per customer, how many purchase receipts match Dintero's receipt filter: every given filter narrows the
    receipts; an items entry matches a line when each field it gives matches (id = the item id, group = one of the
    line's group ids); a receipt matches when any entry matches any of its lines.

    → a queryset of {"customer": pk, "purchases": n}, read from the item facts index only (plus the receipt
    document for entries that give both id and group, which must match on the same line).
    """
    # every code the filter names, in one query
    wanted = [("store", store_id) for store_id in store_ids or []]
    wanted += [_item_code_key(entry) for entry in items or []]
    codes = codes_resolve_existing(account=account, pairs=wanted)

    facts = ItemFact.objects.filter(account=account)
    if purchase_from is not None:
        facts = facts.filter(purchase_at__gte=purchase_from)
    if purchase_to is not None:
        facts = facts.filter(purchase_at__lte=purchase_to)
    store_codes = [codes[("store", s)] for s in store_ids or [] if ("store", s) in codes]
    if store_ids is not None:
        facts = facts.filter(store_code__in=store_codes)

    code_count = 0
    if items:
        simple_codes: set[int] = set()
        combined = Q(code__in=[])
        for entry in items:
            key = _item_code_key(entry)
            if key not in codes:
                continue
            if entry.id is not None and entry.group is not None:
                on_same_line = Receipt.objects.filter(
                    pk=OuterRef("receipt"),
                    document__items__contains=[{"id": entry.id, "groups": [{"id": entry.group}]}],
                )
                combined |= Q(code=codes[key]) & Q(Exists(on_same_line))
                code_count += 1
            else:
                simple_codes.add(codes[key])
        code_count += len(simple_codes)
        facts = facts.filter(Q(code__in=sorted(simple_codes)) | combined)
    else:
        # every purchase receipt of a customer has exactly one store fact
        if store_ids is None:
            store_codes = list(ItemCode.objects.filter(account=account, kind="store").values_list("id", flat=True))
        facts = facts.filter(code__in=store_codes)
        code_count = 1
    # one matching code per receipt at most: count rows; several: count distinct receipts
    purchases = Count("*") if code_count <= 1 else Count("receipt", distinct=True)
    return facts.values("customer").annotate(purchases=purchases).order_by()


def customer_search_q(text: str, *, personal_data: bool = True, names: bool = False) -> Q:
    """A search term as a customer condition: the id always (indexed), the e-mail only for terms with an @ and the
    phone only for phone-like terms, so a receipt-id search never scans the account's customers for them; first and
    last names (exact, any case) with `names`. Without `personal_data` only the id: who may not see e-mails must not
    learn from a search whose e-mail matched."""
    match = Q(customer_id=text)
    if not personal_data:
        return match
    if "@" in text:
        match |= Q(email=text.lower())
    if text.lstrip("+").replace(" ", "").isdigit() and len(text) >= 5:
        match |= Q(phone=text)
    if names:
        match |= Q(first_name__iexact=text) | Q(last_name__iexact=text)
    return match
