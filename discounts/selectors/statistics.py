"""What rules and refs were used for, from the usage ledger: the spec's `statistics`, a rule's usages, and the
back-office's redemptions. Set-based (`discounts/sql_usage.py`): one statement for any number of rules.

What counts (README "Statistics"): every purchase once (its ledger rows' largest figures: a claim and its receipt
are one purchase), released claims not at all, and use on a ref that was taken back afterwards still counts (the
reward was given).
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from discounts import sql_usage as statements
from discounts.documents import ANY_CUSTOMER, NO_CUSTOMER
from discounts.errors import InvalidCursor
from discounts.models import DiscountRef, DiscountRule
from discounts.selectors.usage import ref_usage_load
from discounts.usage_state import RefUsage
from loyalty.accounts.models import Account
from loyalty.core.sql import raw_cursor

DEBIT = "discount_debit"


def _zero() -> dict[str, int]:
    return {"usage": 0, "used": 0, "amount": 0, "bonus": 0, "stamp": 0}


def _debit_value(rule: DiscountRule) -> int | None:
    reward = rule.document.get("reward") or {}
    value = reward.get("value")
    return int(value) if reward.get("type") == DEBIT and isinstance(value, int | float) else None


def rule_statistics(*, account_id: int, rules: Sequence[DiscountRule]) -> dict[uuid.UUID, dict[str, int]]:
    """The `statistics` of each rule: usage (`used`, deprecated, the same), amount, bonus, stamp; a
    `discount_debit` rule's `debit_balance` is what its customers' refs have left. Two statements at most."""
    found = {rule.pk: _zero() for rule in rules}
    if not found:
        return found
    cur = raw_cursor()
    cur.execute(statements.RULE_STATISTICS, {"account": account_id, "rules": list(found)})
    for rule_id, _purchases, usage, amount, bonus, stamp in cur.fetchall():
        found[rule_id].update(usage=int(usage), used=int(usage), amount=int(amount), bonus=int(bonus), stamp=int(stamp))
    debit = {rule.pk: value for rule in rules if (value := _debit_value(rule)) is not None}
    if debit:
        cur.execute(
            statements.RULE_DEBIT, {"account": account_id, "rules": list(debit), "values": list(debit.values())}
        )
        balances = dict(cur.fetchall())
        for rule_id in debit:
            found[rule_id]["debit_balance"] = int(balances.get(rule_id, 0))
    return found


def ref_statistics(
    *, account: Account, refs: Iterable[DiscountRef], customer_id: str | None, now: datetime | None = None
) -> dict[uuid.UUID, dict[str, int]]:
    """Each ref's `statistics` for the customer (a `*` ref's use by this customer only): the spec's
    CustomerDiscountStatistics plus `bonus`. One statement (the till's own read of a ref's past)."""
    now = now or timezone.now()
    refs = list(refs)
    customer = None if customer_id in (None, NO_CUSTOMER) else customer_id
    used = ref_usage_load(account=account, ref_ids=[ref.pk for ref in refs], at=now, customer_id=customer)
    return {ref.pk: _statistics(used[ref.pk], ref.rule, now) for ref in refs}


def _statistics(past: RefUsage, rule: DiscountRule, now: datetime) -> dict[str, int]:
    expire = (rule.document.get("limitation") or {}).get("stamp_expire_days", -1)
    body = {
        "usage": past.usage,
        "used": past.usage,
        "amount": past.amount,
        "bonus": past.bonus,
        "stamp": past.stamp,
        "current_stamp": past.current_stamp(now=now, expire_days=expire if isinstance(expire, int) else -1),
    }
    value = _debit_value(rule)
    if value is not None:
        body["debit_balance"] = past.debit_balance(value=value)
    return body


def _past(rows: list[dict[str, Any]]) -> RefUsage:
    """A ref's past from its live ledger rows, by the rules `ref_usage_load` applies in SQL (one purchase per
    purchase key with its largest figures; stamps since the last rewarded purchase)."""
    purchases: dict[str, dict[str, Any]] = {}
    for row in rows:
        at = datetime.fromisoformat(row["at"])
        seen = purchases.setdefault(row["purchase"], {"at": at, "usage": 0, "amount": 0, "bonus": 0, "stamp": 0})
        seen["at"] = min(seen["at"], at)
        for key in ("usage", "amount", "bonus", "stamp"):
            seen[key] = max(seen[key], row[key])
    bought = sorted(purchases.values(), key=lambda p: p["at"])
    rewarded = [p["at"] for p in bought if p["usage"] > 0]
    since = rewarded[-1] if rewarded else None
    amount = sum(p["amount"] for p in bought)
    return RefUsage(
        purchases=len(bought),
        usage=sum(p["usage"] for p in bought),
        amount=amount,
        bonus=sum(p["bonus"] for p in bought),
        stamp=sum(p["stamp"] for p in bought),
        stamps=tuple((p["at"], p["stamp"]) for p in bought if p["stamp"] > 0 and (since is None or p["at"] > since)),
        debit_used=amount,
    )


# --- a rule's usages (GET /rules/{did}/usages) ----------------------------------------------------------------------


def _iso(value: Any) -> str | None:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.isoformat().replace("+00:00", "Z") if value else None


def usage_id(ref_id: uuid.UUID, customer_key: str) -> str:
    """A usage is one ref's use by one customer (a `*` ref has one per customer): its id is that pair, opaque."""
    return base64.urlsafe_b64encode(json.dumps([str(ref_id), customer_key]).encode()).decode().rstrip("=")


def usage_id_decode(value: str) -> tuple[uuid.UUID, str]:
    try:
        ref_id, customer_key = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
        return uuid.UUID(ref_id), str(customer_key)
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError) as exc:
        raise InvalidCursor("starting_after must be the id of a usage of this rule") from exc


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _usage_ref(row: dict[str, Any], authors: dict[str, str]) -> dict[str, Any]:
    """A ledger row as the spec's UsageRef: what recorded it (`ref`, `ref_type`) and what it added."""
    if row["source"] == "claim":
        ref, ref_type = row["purchase"], "claim"
    elif row["source"] == "receipt_add":
        ref, ref_type = row["key"], "receipt_add"
    else:
        ref_type, _, ref = row["key"].partition(":")
    body = {"ref": ref, "ref_type": ref_type, "usage": row["usage"], "stamp": row["stamp"], "amount": row["amount"],
            "created_at": _iso(row["created_at"])}  # fmt: skip
    if row["source"] == "claim" and row["key"] in authors:
        body["created_by"] = authors[row["key"]]
    return body


def rule_usages(
    *, account: Account, rule: DiscountRule, limit: int, starting_after: str | None
) -> list[dict[str, Any]]:
    """The rule's usages (the spec's DiscountUsage: one per ref and customer, with its usage refs and statistics),
    ordered by ref and customer; released claims are left out."""
    after_ref, after_customer = usage_id_decode(starting_after) if starting_after else (uuid.UUID(int=0), "")
    params = {"account": account.pk, "rule": rule.pk, "after_ref": after_ref, "after_customer": after_customer}
    cur = raw_cursor()
    cur.execute(statements.RULE_USAGES, {**params, "limit": limit})
    # Django's connection leaves jsonb as text (it decodes JSON fields itself)
    pages = [(r, c, h, json.loads(rows) if isinstance(rows, str) else rows) for r, c, h, rows in cur.fetchall()]
    claims = sorted(
        {row["key"] for *_, rows in pages for row in rows if row["source"] == "claim" and _is_uuid(row["key"])}
    )
    authors: dict[str, str] = {}
    if claims:
        cur.execute(statements.CLAIM_AUTHORS, {"claims": claims})
        authors = dict(cur.fetchall())
    now = timezone.now()
    usages = []
    for ref_id, customer_key, holder, rows in pages:
        customer = customer_key or None
        statistics = _statistics(_past(rows), rule, now)
        usages.append(
            {
                "id": usage_id(ref_id, customer_key),
                "ref_id": str(ref_id),
                "discount_id": str(rule.pk),
                "customer_id": customer if customer is not None else (None if holder == ANY_CUSTOMER else holder),
                "create_at": _iso(min(row["at"] for row in rows)),
                "updated_at": _iso(max(row["created_at"] for row in rows)),
                "usage_refs": [_usage_ref(row, authors) for row in rows],
                "statistics": statistics,
            }
        )
    return usages


# --- the back-office's redemptions ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Redemptions:
    days: list[tuple[date, int, int]]  # (day, rewards used, amount), every day of the period
    totals: dict[str, int]
    top: list[dict[str, Any]]  # customer_id, purchases, usage, amount, last (datetime)


def rule_redemptions(*, account: Account, rule: DiscountRule, days: int = 90, top: int = 10) -> Redemptions:
    """A rule's redemptions: per day in the account's timezone for the last `days` days (gaps as zeros), its
    totals, and the customers who used it most. Three statements over the rule's ledger rows."""
    tz = ZoneInfo(account.timezone)
    today = timezone.now().astimezone(tz).date()
    first = today - timedelta(days=days - 1)
    since = datetime.combine(first, datetime.min.time(), tzinfo=tz)
    params = {"account": account.pk, "rules": [rule.pk], "tz": account.timezone, "since": since, "limit": top}
    cur = raw_cursor()
    cur.execute(statements.RULE_DAYS, params)
    per_day = {day: (int(usage), int(amount)) for day, _purchases, usage, amount in cur.fetchall()}
    series = [(first + timedelta(n), *per_day.get(first + timedelta(n), (0, 0))) for n in range(days)]
    cur.execute(statements.RULE_TOP_CUSTOMERS, params)
    customers = [
        {"customer_id": customer, "purchases": purchases, "usage": int(usage), "amount": int(amount), "last": last}
        for customer, purchases, usage, amount, last in cur.fetchall()
    ]
    totals = rule_statistics(account_id=account.pk, rules=[rule])[rule.pk]
    return Redemptions(days=series, totals=totals, top=customers)
