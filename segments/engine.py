"""The segment engine: a definition becomes one SQL statement over the receipts read models.

Three steps, so that compiling never writes:
- `plan` says which purchase windows and which codes' buyers a definition reads (it only looks codes up);
- `definition_prepare` (a write: receipts.readmodels.prepare) builds them, outside any transaction;
- `compile_q` / `matching_customers` turn the definition into a customers filter against what was prepared,
  touching nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet
from django.utils import timezone

from loyalty.accounts.models import Account
from loyalty.core.sql import render
from receipts.readmodels import queries as receipts
from receipts.readmodels.prepare import Plan, Prepared, prepare
from segments import sql as statements
from segments.criteria import LIST_TYPES, definition_q, part_q
from segments.criteria.base import Bounds, Context
from segments.criteria.profile import list_keys

Parts = list[dict[str, Any]]


class NotPrepared(Exception):
    """A compiled criterion asked for a read model its plan did not name: a bug in plan, never a user error."""


def plan(parts: Parts, *, account: Account, now: datetime) -> Plan:
    """The windows and code buyers the (validated) definition reads: the criteria compile once against a recording
    context, whose answers are placeholders, and the result is thrown away."""
    windows: set[Bounds] = set()
    buyers: set[frozenset[int]] = set()

    def window(start: datetime | None, end: datetime | None) -> int:
        windows.add((start, end))
        return 0

    def keep(codes: list[int]) -> bool:
        buyers.add(frozenset(codes))
        return True

    definition_q(parts, Context(account=account, now=now, window=window, buyers=keep))
    return Plan(windows=frozenset(windows), buyers=frozenset(buyers))


@dataclass(frozen=True)
class Preparation:
    """A definition's read models, built for one clock: compile with the same `now` the plan used."""

    now: datetime
    read_models: Prepared = field(default_factory=Prepared)


def definition_prepare(*, account: Account, parts: Parts, now: datetime | None = None) -> Preparation:
    """Plan and build what the definition reads (writes: call it outside any transaction, before compiling)."""
    now = now or timezone.now()
    return Preparation(now=now, read_models=prepare(plan(parts, account=account, now=now), account=account))


def compile_context(preparation: Preparation, *, account: Account) -> Context:
    """A context answering from what was prepared: compiling with it reads no read model's state and writes nothing."""
    prepared = preparation.read_models

    def window(start: datetime | None, end: datetime | None) -> int:
        try:
            return prepared.windows[(start, end)]
        except KeyError:
            raise NotPrepared(f"the window [{start}, {end}) was not prepared") from None

    def kept(codes: list[int]) -> bool:
        return set(codes) <= prepared.kept_codes

    return Context(
        account=account,
        now=preparation.now,
        window=window,
        buyers=kept,
        windows_used=prepared.window_ids,
        codes_kept=set(prepared.kept_codes),
    )


def read_models_intact(ctx: Context) -> bool:
    """Whether the purchase windows and kept code buyers a compiled definition reads all still exist, as the calling
    transaction sees them. They are built before the computing transaction starts; a receipt that changes customer
    in between drops the windows it falls in, and the computation would read no purchases there."""
    return receipts.read_models_exist(account=ctx.account, window_ids=ctx.windows_used, kept_codes=ctx.codes_kept)


def lists_resolve(*, account: Account, parts: Parts) -> None:
    """The save's report on its customer lists, in place (`matched`, `unmatched`, shown with the definition); which
    customers a list holds is decided at every compile, so the report is what the lists matched when saved."""
    reports = {r["criterionId"]: r for r in lists_report(account=account, parts=parts)}
    for part in parts:
        for criterion in part["criteria"]:
            report = reports.get(criterion["criterionId"])
            if report is not None and "matched" not in criterion:
                criterion.pop("_customerPks", None)
                criterion["matched"], criterion["unmatched"] = report["matched"], report["unmatched"]


def lists_report(*, account: Account, parts: Parts) -> list[dict[str, Any]]:
    """Per customer list of the definition, how many entries match a customer now and the first 1,000 that match
    none: one statement per list, as of the caller's snapshot (a run asks inside its publishing transaction)."""
    reports = []
    for part in parts:
        for criterion in part["criteria"]:
            if criterion["type"] not in LIST_TYPES:
                continue
            entries = criterion["customers"]
            ids, emails, phones = list_keys(entries)
            with connection.cursor() as cursor:
                cursor.execute(
                    render(statements.LIST_UNMATCHED), [ids, emails, phones, account.pk, account.pk, account.pk]
                )
                unmatched = [row[0] for row in cursor.fetchall()]
            reports.append(
                {
                    "criterionId": criterion["criterionId"],
                    "matched": len(entries) - len(unmatched),
                    "unmatched": unmatched[:1000],
                }
            )
    return reports


def compile_q(parts: Parts, preparation: Preparation, *, account: Account) -> Q | None:
    """The definition as a customers filter (None: no parts, a segment of nobody). Touches nothing."""
    return definition_q(parts, compile_context(preparation, account=account))


def matching_customers(*, account: Account, parts: Parts, ctx: Context | None = None) -> QuerySet:
    """The matching customers as a queryset (never evaluated here). Without a compile context the definition is
    prepared first (a write: outside any transaction), for callers that are themselves services or tests."""
    if ctx is None:
        ctx = compile_context(definition_prepare(account=account, parts=parts), account=account)
    q = definition_q(parts, ctx)
    customers = receipts.customers_for_account(account=account)
    return customers.none() if q is None else customers.filter(q)


def sql_of(queryset: QuerySet) -> tuple[str, tuple] | None:
    """The queryset's SQL, or None when Django knows it matches nothing."""
    try:
        return queryset.query.sql_with_params()
    except EmptyResultSet:
        return None


def preview(
    *, account: Account, parts: Parts, now: datetime | None = None, preparation: Preparation | None = None
) -> dict[str, Any]:
    """The live preview: matching customers for the whole definition and for each part. Without a preparation the
    definition is prepared first (a write), as for `matching_customers`."""
    preparation = preparation or definition_prepare(account=account, parts=parts, now=now)
    total, per_part = _counts(account=account, parts=parts, ctx=compile_context(preparation, account=account))
    return {
        "customersCount": total,
        "parts": [
            {"segmentPartId": part["segmentPartId"], "customersCount": n}
            for part, n in zip(parts, per_part, strict=True)
        ],
        "unmatched": lists_report(account=account, parts=parts),
    }


def _counts(*, account: Account, parts: Parts, ctx: Context) -> tuple[int, list[int]]:
    """The whole definition's count and each part's, in one pass over the account's customers.

    Each part becomes a boolean column, so every subquery of the definition runs once (hashed) and the customers
    are scanned once; counting the whole and then each part separately would scan them N + 1 times and run every
    subquery twice.
    """
    if not parts:
        return 0, []
    customers = receipts.customers_for_account(account=account).annotate(
        **{f"p{i}": ExpressionWrapper(part_q(part, ctx), output_field=BooleanField()) for i, part in enumerate(parts)}
    )
    compiled, params = customers.values(*(f"p{i}" for i in range(len(parts)))).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(render(statements.part_counts(compiled, len(parts))), params)
        total, *per_part = cursor.fetchone()
    return total, per_part
