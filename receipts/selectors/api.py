"""The reads behind the Dintero Receipts API: a customer's receipts, a receipt by its POS id or token, the
receipt_id search and the customer_segment answer."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import QuerySet

from loyalty.accounts.models import Account
from receipts.errors import AmbiguousReceipt, InvalidCursor, InvalidReceiptToken, ReceiptNotFound
from receipts.models import Receipt
from receipts.readmodels.buyers import code_buyers_ensure
from receipts.readmodels.queries import ItemFilter, matching_receipts_per_customer, single_code_of_filter
from receipts.selectors.customers import customer_find
from receipts.sql import reads as statements


@dataclass(frozen=True)
class ReceiptPage:
    receipts: list[Receipt]
    starting_after: str | None


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


def receipt_token_check(*, receipt: Receipt, claims: dict[str, Any]) -> None:
    """`InvalidReceiptToken` unless the receipt still honours this token: a token belongs to the customer it was
    minted for (an anonymous receipt's token to nobody, so it works only while the receipt has no customer), and a
    claim or any change of customer spends every token the receipt has handed out (`token_claimed_at`)."""
    if receipt.token_claimed_at is not None:
        raise InvalidReceiptToken(
            "This receipt token has already been used: a claim or a change of customer spends the receipt's tokens."
        )
    if claims.get("customer_id") != receipt.customer_id:
        raise InvalidReceiptToken("This receipt token is not valid for the receipt's current customer.")


def receipt_by_token(*, account: Account, claims: dict[str, Any]) -> Receipt:
    """The receipt a verified token names, while it honours the token (`receipt_token_check`)."""
    receipt = Receipt.objects.filter(
        account=account, receipt_id=claims["receipt_id"], store_id=claims["store_id"], uuid=claims["sub"]
    ).first()
    if receipt is None:
        raise ReceiptNotFound()  # the API answers every 404 as "Not found."
    receipt_token_check(receipt=receipt, claims=claims)
    return receipt


def receipt_get_by_pos_id(
    *, account: Account, receipt_id: str, store_id: str | None = None, customer_id: str | None = None
) -> Receipt:
    """The receipt with this POS id (of this customer, in this store); `ReceiptNotFound` if there is none,
    `AmbiguousReceipt` if several stores have one and no store was given."""
    queryset = Receipt.objects.filter(account=account)
    if customer_id is not None:
        customer = customer_find(account=account, customer_id=customer_id)
        if customer is None:
            raise ReceiptNotFound()
        queryset = queryset.filter(customer_pk=customer)
    queryset = _match_receipt_id(queryset, receipt_id, allow_entity_id=customer_id is not None)
    if store_id is not None:
        queryset = queryset.filter(store_id=store_id)
    matches = list(queryset[:10])
    if not matches:
        raise ReceiptNotFound()
    if len(matches) > 1:
        raise AmbiguousReceipt(receipt_id, sorted(m.store_id for m in matches))
    return matches[0]


# The most receipts one search answer holds; a POS id shared by more stores is walked with `starting_after`.
SEARCH_LIMIT = 1000


def receipts_search(
    *, account: Account, receipt_id: str, limit: int = SEARCH_LIMIT, starting_after: str | None = None
) -> ReceiptPage:
    """Every receipt of the account with this POS id, by store id, `limit` at a time. The cursor is the last
    receipt's id; keyset on the store id (unique per POS id), read from the (account, receipt_id, store_id) index."""
    queryset = Receipt.objects.filter(account=account, receipt_id=receipt_id).order_by("store_id")
    if starting_after:
        try:
            cursor_uuid = uuid.UUID(starting_after)
        except ValueError as exc:
            raise InvalidCursor("starting_after must be a receipt id from a previous page") from exc
        anchor = queryset.filter(uuid=cursor_uuid).values_list("store_id", flat=True).first()
        if anchor is None:
            raise InvalidCursor("starting_after is not a receipt with this receipt_id")
        queryset = queryset.filter(store_id__gt=anchor)
    rows = list(queryset[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    return ReceiptPage(rows, str(rows[-1].uuid) if has_more and rows else None)


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
    code = single_code_of_filter(account=account, store_ids=store_ids, items=items)
    if code is not None:
        whole_history = _segment_from_buyers(
            account=account, code=code, purchase_from=purchase_from, purchase_to=purchase_to
        )
        if whole_history is not None:
            return whole_history
    per_customer = matching_receipts_per_customer(
        account=account, purchase_from=purchase_from, purchase_to=purchase_to, store_ids=store_ids, items=items
    )
    try:
        query, params = per_customer.query.sql_with_params()
    except EmptyResultSet:
        return b'{"customers":[]}'
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statements.SEGMENT_NO_HASHAGG)
        cursor.execute(statements.customer_segment_json(query), params)
        return cursor.fetchone()[0].encode()


def _segment_from_buyers(
    *, account: Account, code: int, purchase_from: datetime | None, purchase_to: datetime | None
) -> bytes | None:
    """The answer for one code from its kept buyers' counts, when the period holds every purchase with it (the broad
    question: "who bought from group G in these two years, how often"); None when the item facts must answer. The
    first such question builds the code's buyers, as a segment criterion's first use does; each one keeps them."""
    params = {"account": account.pk, "code": code, "from": purchase_from, "to": purchase_to}
    covered, body = _from_buyers(params)
    if covered and code_buyers_ensure(account=account, codes=[code]) and body is None:
        covered, body = _from_buyers(params)
    return None if body is None else body.encode()


def _from_buyers(params: dict[str, Any]) -> tuple[bool | None, str | None]:
    with connection.cursor() as cursor:
        cursor.execute(statements.CUSTOMER_SEGMENT_FROM_BUYERS, params)
        row = cursor.fetchone()
    return (row[0], row[1]) if row else (None, None)
