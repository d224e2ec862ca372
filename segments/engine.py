"""The segment engine: a definition becomes one SQL statement over the receipts read models.

`matching_customers` returns the customers queryset (never evaluated here); `count` and `materialize` run it as a
single statement. Purchase windows the definition needs are built first, outside any transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db.models import QuerySet
from django.utils import timezone

from loyalty.accounts.models import Account
from receipts import selectors as receipts
from receipts.services.windows import purchase_window_ensure
from segments.criteria import LIST_TYPES, definition_q, part_q
from segments.criteria.base import Context


def context(*, account: Account, now: datetime | None = None) -> Context:
    return Context(
        account=account,
        now=now or timezone.now(),
        window=lambda start, end: purchase_window_ensure(account=account, starts_at=start, ends_at=end),
    )


def lists_resolve(*, account: Account, parts: list[dict[str, Any]]) -> None:
    """Resolve customer lists (ids, emails or phones) to customers, in place; unmatched entries are reported."""
    for part in parts:
        for criterion in part["criteria"]:
            if criterion["type"] not in LIST_TYPES or "_customerPks" in criterion:
                continue
            entries = criterion["customers"]
            customers = receipts.customers_for_account(account=account)
            lowered = [e.lower() for e in entries]
            phones = [_phone(e) for e in entries]
            found = customers.filter(customer_id__in=entries).values_list("id", "customer_id")
            by_email = customers.filter(email__in=lowered).values_list("id", "email")
            by_phone = customers.filter(phone__in=[p for p in phones if p]).values_list("id", "phone")
            matched: dict[str, int] = {}
            for pk, value in [*found, *by_email, *by_phone]:
                matched.setdefault(value, pk)
            pks, unmatched = set(), []
            for entry, low, phone in zip(entries, lowered, phones, strict=True):
                pk = matched.get(entry) or matched.get(low) or (matched.get(phone) if phone else None)
                if pk is None:
                    unmatched.append(entry)
                else:
                    pks.add(pk)
            criterion["_customerPks"] = sorted(pks)
            criterion["matched"] = len(entries) - len(unmatched)
            criterion["unmatched"] = unmatched[:1000]


def _phone(value: str) -> str:
    digits = "".join(ch for ch in value if ch.isdigit() or ch == "+")
    return digits if len(digits) >= 5 else ""


def matching_customers(*, account: Account, parts: list[dict[str, Any]], ctx: Context | None = None) -> QuerySet:
    ctx = ctx or context(account=account)
    q = definition_q(parts, ctx)
    customers = receipts.customers_for_account(account=account)
    return customers.none() if q is None else customers.filter(q)


def sql_of(queryset: QuerySet) -> tuple[str, tuple] | None:
    """The queryset's SQL, or None when Django knows it matches nothing."""
    try:
        return queryset.query.sql_with_params()
    except EmptyResultSet:
        return None


def count(queryset: QuerySet) -> int:
    try:
        return queryset.count()
    except EmptyResultSet:
        return 0


def preview(*, account: Account, parts: list[dict[str, Any]], now: datetime | None = None) -> dict[str, Any]:
    """The live preview: matching customers for the whole definition and for each part."""
    ctx = context(account=account, now=now)
    lists_resolve(account=account, parts=parts)
    customers = receipts.customers_for_account(account=account)
    return {
        "customersCount": count(matching_customers(account=account, parts=parts, ctx=ctx)),
        "parts": [
            {"segmentPartId": part["segmentPartId"], "customersCount": count(customers.filter(part_q(part, ctx)))}
            for part in parts
        ],
        "unmatched": [
            {"criterionId": c["criterionId"], "matched": c.get("matched", 0), "unmatched": c.get("unmatched", [])}
            for part in parts
            for c in part["criteria"]
            if c["type"] in LIST_TYPES
        ],
    }
