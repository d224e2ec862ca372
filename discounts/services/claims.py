"""Claims: a point of sale redeems refs for a purchase, atomically against the rules' usage limits, and may release
them again. Each function is one transaction.

A claim locks the refs it names (`SELECT … FOR UPDATE`, in id order, so two claims sharing refs cannot deadlock),
then counts their purchases in the usage ledger and writes its own rows before it commits: a concurrent claim on the
same ref waits for the lock and then sees this one's rows, so no limit is ever exceeded. The claim and its rows are
one statement whose insert gives way to a claim that took the same client `ref` first (the unique index), so a
retry racing its original reads it back. A claim is four statements besides its transaction.

Claims are the till's hot path and are not audited one by one (like receipts); the claim rows say who claimed what.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from discounts import documents
from discounts import sql_usage as statements
from discounts.models import DiscountClaim, DiscountUsage
from discounts.selectors.claims import claim_get
from discounts.usage_errors import ClaimInvalid, ClaimRefConflict, UsageLimitReached
from loyalty.accounts.models import Account
from loyalty.api.swagger import parse_datetime
from loyalty.core.ids import uuid7
from loyalty.core.sql import raw_cursor

OPERATION = "aid_discounts_available_for_receipt_post_claim"
MAX_ID = documents.MAX_ID_LENGTH
# Far beyond any purchase: a claim of more is a mistake, not a sale (and the ledger's columns hold it).
MAX_USAGE = 10_000
MAX_AMOUNT = 10**12
MAX_REFS = 100  # one purchase's refs: a receipt's lines bound what a till can use at once
DISCOUNTS = statements.CLAIM_FIELDS.index("discounts")


@dataclass(frozen=True)
class ClaimedRef:
    path: str  # where the claim names it: discounts[i].refs[j]
    rule_id: uuid.UUID
    ref_id: uuid.UUID
    amount: int
    usage: int


@dataclass(frozen=True)
class LockedRef:
    """A claimed ref as the claim's lock read it, with what the claim checks of its rule."""

    id: uuid.UUID
    rule_id: uuid.UUID
    customer_id: str
    deleted_at: datetime | None
    rule_deleted_at: datetime | None
    rule_active: bool
    rule_document: dict[str, Any]


@dataclass(frozen=True)
class ParsedClaim:
    ref: str | None
    type: str
    purchase_at: datetime
    customer_id: str
    discounts: list[dict[str, Any]]  # canonical: what a retry must match
    refs: list[ClaimedRef]

    @property
    def content(self) -> dict[str, Any]:
        return {"type": self.type, "purchase_at": self.purchase_at, "customer_id": self.customer_id,
                "discounts": self.discounts}  # fmt: skip


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _text_problems(body: dict[str, Any], errors: list[tuple[str, str]]) -> None:
    for key in ("ref", "type"):
        value = body.get(key)
        if isinstance(value, str) and not value.strip():
            errors.append((key, "must not be empty (leave it out instead)"))
        elif isinstance(value, str) and len(value) > MAX_ID:
            errors.append((key, f"must be at most {MAX_ID} characters"))
    customer_id = body.get("customer_id")
    errors.extend(documents.customer_ids_problems([customer_id], "customer_id") if isinstance(customer_id, str) else [])
    if customer_id == documents.ANY_CUSTOMER:
        errors.append(("customer_id", "must be the purchase's customer (or / for a purchase without one), not *"))
    if body.get("purchase_at") is not None and parse_datetime(body["purchase_at"]) is None:
        errors.append(("purchase_at", "must be a date-time with a timezone, e.g. 2024-05-01T12:00:00Z"))


def _ref_problems(path: str, ref: dict[str, Any], seen: set[uuid.UUID]) -> list[tuple[str, str]]:
    problems = []
    ref_id = _uuid(ref.get("id"))
    if ref_id is None:
        problems.append((f"{path}.id", "must be a ref id (a UUID)"))
    elif ref_id in seen:
        problems.append((f"{path}.id", "is claimed twice in this claim"))
    else:
        seen.add(ref_id)
    usage, amount = ref.get("usage"), ref.get("amount")
    if isinstance(usage, int) and not 1 <= usage <= MAX_USAGE:
        problems.append((f"{path}.usage", f"must be from 1 to {MAX_USAGE}"))
    if isinstance(amount, int) and not 0 <= amount <= MAX_AMOUNT:
        problems.append((f"{path}.amount", f"must be from 0 to {MAX_AMOUNT} (minor units)"))
    return problems


def claim_parse(body: Any) -> ParsedClaim:
    """The claim a body asks for, or ClaimInvalid naming every problem (the spec's schema, then ours)."""
    if not isinstance(body, dict):
        raise ClaimInvalid("The body must be a claim object.", [("", "must be an object")])
    errors = documents.validate_body(OPERATION, body)
    if errors:
        raise ClaimInvalid("The claim is invalid.", errors)
    _text_problems(body, errors)
    if not body["discounts"]:
        errors.append(("discounts", "must name at least one discount"))
    if sum(len(discount["refs"]) for discount in body["discounts"]) > MAX_REFS:
        raise ClaimInvalid("The claim is invalid.", [("discounts", f"must name at most {MAX_REFS} refs in all")])
    refs, canonical = _claimed(body["discounts"], errors)
    if errors or documents.contains_nul(body):
        raise ClaimInvalid("The claim is invalid.", errors or [("", "text must not contain NUL characters")])
    purchase_at = parse_datetime(body["purchase_at"])
    assert purchase_at is not None  # checked above
    return ParsedClaim(
        ref=body.get("ref"),
        type=body.get("type") or "",
        purchase_at=purchase_at,
        customer_id=body["customer_id"],
        discounts=canonical,
        refs=refs,
    )


def _claimed(
    discounts: list[dict[str, Any]], errors: list[tuple[str, str]]
) -> tuple[list[ClaimedRef], list[dict[str, Any]]]:
    """The refs a claim's discounts name, and the discounts in canonical form (what a retry must match); problems
    go to `errors`."""
    seen: set[uuid.UUID] = set()
    refs: list[ClaimedRef] = []
    canonical = []
    for i, discount in enumerate(discounts):
        rule_id = _uuid(discount["id"])
        if rule_id is None:
            errors.append((f"discounts[{i}].id", "must be a discount rule id (a UUID)"))
        if not discount["refs"]:
            errors.append((f"discounts[{i}].refs", "must name at least one ref"))
        claimed = []
        for j, ref in enumerate(discount["refs"]):
            path = f"discounts[{i}].refs[{j}]"
            problems = _ref_problems(path, ref, seen)
            errors.extend(problems)
            if not problems and rule_id is not None:
                refs.append(ClaimedRef(path, rule_id, uuid.UUID(ref["id"]), ref["amount"], ref["usage"]))
                claimed.append({"id": str(uuid.UUID(ref["id"])), "amount": ref["amount"], "usage": ref["usage"]})
        canonical.append({"id": str(rule_id) if rule_id else discount["id"], "refs": claimed})
    return refs, canonical


def _same(claim: DiscountClaim, parsed: ParsedClaim) -> bool:
    stored = {"type": claim.type, "purchase_at": claim.purchase_at, "customer_id": claim.customer_id,
              "discounts": claim.discounts}  # fmt: skip
    return stored == parsed.content


def _holds(ref: LockedRef, customer_id: str) -> bool:
    """Whether the purchase's customer may use the ref: their own, `*` for any customer, `/` for none."""
    if customer_id == documents.NO_CUSTOMER:
        return ref.customer_id == documents.NO_CUSTOMER
    return ref.customer_id in (customer_id, documents.ANY_CUSTOMER)


def _ref_problem(ref: LockedRef | None, claimed: ClaimedRef, customer_id: str) -> str | None:
    if ref is None or ref.rule_id != claimed.rule_id:
        return "is not a ref of this discount rule"
    if ref.deleted_at is not None:
        return "was taken back from the customer"
    if ref.rule_deleted_at is not None or not ref.rule_active:
        return "belongs to a discount rule that is deleted or inactive"
    if not _holds(ref, customer_id):
        return "is not held by this customer"
    return None


def _limit(rule_document: dict[str, Any], key: str) -> int:
    value = (rule_document.get("limitation") or {}).get(key, -1)
    return value if isinstance(value, int) and value >= 1 else -1


def _limit_problems(
    parsed: ParsedClaim, refs: dict[uuid.UUID, LockedRef], purchase_key: str, account: Account
) -> list[tuple[str, str]]:
    cur = raw_cursor()
    cur.execute(
        statements.REF_PURCHASES,
        {"account": account.pk, "refs": list(refs), "purchase": purchase_key, "customer": parsed.customer_id},
    )
    purchases = dict(cur.fetchall())
    problems = []
    for claimed in parsed.refs:
        document = refs[claimed.ref_id].rule_document
        per_purchase = _limit(document, "discount_reward_usage")
        if per_purchase != -1 and claimed.usage > per_purchase:
            problems.append((f"{claimed.path}.usage", f"exceeds discount_reward_usage ({per_purchase} per purchase)"))
        repeat = _limit(document, "discount_repeat_usage")
        if repeat != -1 and purchases.get(claimed.ref_id, 0) + 1 > repeat:
            problems.append((f"{claimed.path}.id", f"is used up (discount_repeat_usage: {repeat} purchases)"))
    return problems


def _record(account: Account, parsed: ParsedClaim, actor: str) -> DiscountClaim | None:
    """Write the claim and its ledger rows (one statement); None when a concurrent claim took its `ref` first."""
    now = timezone.now()
    claim = DiscountClaim(
        id=uuid7(),
        account=account,
        ref=parsed.ref,
        type=parsed.type,
        purchase_at=parsed.purchase_at,
        customer_id=parsed.customer_id,
        discounts=parsed.discounts,
        created_at=now,
        created_by=actor,
        updated_at=now,
    )
    cur = raw_cursor()
    cur.execute(
        statements.CLAIM_INSERT,
        {
            "id": claim.id,
            "account": account.pk,
            "ref": parsed.ref,
            "type": parsed.type,
            "purchase_at": parsed.purchase_at,
            "customer": parsed.customer_id,
            "discounts": json.dumps(parsed.discounts),
            "now": now,
            "actor": actor,
            "used_by": None if parsed.customer_id == documents.NO_CUSTOMER else parsed.customer_id,
            "purchase": parsed.ref or str(claim.id),
            "rules": [claimed.rule_id for claimed in parsed.refs],
            "refs": [claimed.ref_id for claimed in parsed.refs],
            "usages": [claimed.usage for claimed in parsed.refs],
            "amounts": [claimed.amount for claimed in parsed.refs],
        },
    )
    return claim if cur.rowcount else None


def _claim_of(values: list[Any]) -> DiscountClaim:
    """A claim from a `sql_usage.CLAIM_BY_REF` row, built as the ORM builds rows (its JSONField's converter too:
    Django's connection leaves jsonb as text)."""
    if isinstance(values[DISCOUNTS], str):
        values[DISCOUNTS] = json.loads(values[DISCOUNTS])
    return DiscountClaim.from_db("default", statements.CLAIM_FIELDS, values)


def _stored(account: Account, parsed: ParsedClaim) -> DiscountClaim | None:
    """The claim already holding this claim's `ref`, if it is this same claim; ClaimRefConflict if it is another."""
    if parsed.ref is None:
        return None
    cur = raw_cursor()
    cur.execute(statements.CLAIM_BY_REF, {"account": account.pk, "ref": parsed.ref}, prepare=True)
    row = cur.fetchone()
    existing = None if row is None else _claim_of(list(row))
    if existing is not None and not _same(existing, parsed):
        raise ClaimRefConflict(parsed.ref, str(existing.id))
    return existing


def _refs_locked(account: Account, parsed: ParsedClaim) -> dict[uuid.UUID, LockedRef]:
    """The claimed refs of the account, locked in id order (`sql_usage.REFS_LOCK`)."""
    cur = raw_cursor()
    cur.execute(
        statements.REFS_LOCK, {"account": account.pk, "refs": [claimed.ref_id for claimed in parsed.refs]}, prepare=True
    )
    refs = {}
    for ref_id, rule_id, customer_id, deleted_at, rule_deleted_at, rule_active, document in cur.fetchall():
        refs[ref_id] = LockedRef(
            id=ref_id,
            rule_id=rule_id,
            customer_id=customer_id,
            deleted_at=deleted_at,
            rule_deleted_at=rule_deleted_at,
            rule_active=rule_active,
            # Django's connection leaves jsonb as text for its JSONField
            rule_document=json.loads(document) if isinstance(document, str) else document,
        )
    return refs


def claim_create(*, account: Account, body: Any, actor: str) -> tuple[DiscountClaim, bool]:
    """Claim the refs a body names → (the claim, whether it is new). The same claim again (same `ref`, same
    content) returns the stored one; the same `ref` with other content is ClaimRefConflict; a ref that is not the
    customer's, taken back, or past a usage limit is a 400 naming it. Nothing is written unless all of it holds.

    A retry racing its original waits for the refs' locks, finds the limits still hold (the original's purchase is
    its own), and its insert finds the `ref` taken: it answers the original."""
    parsed = claim_parse(body)
    with transaction.atomic():
        existing = _stored(account, parsed)
        if existing is not None:
            return existing, False
        refs = _refs_locked(account, parsed)
        problems = [
            (f"{claimed.path}.id", problem)
            for claimed in parsed.refs
            if (problem := _ref_problem(refs.get(claimed.ref_id), claimed, parsed.customer_id))
        ]
        if problems:
            raise ClaimInvalid("The claim names refs it cannot claim.", problems)
        problems = _limit_problems(parsed, refs, parsed.ref or "", account)
        if problems:
            raise UsageLimitReached("The claim would exceed a usage limit.", problems)
        claim = _record(account, parsed, actor)
        if claim is None:  # a claim with this ref committed meanwhile
            stored = _stored(account, parsed)
            assert stored is not None
            return stored, False
        return claim, True


def claim_release(*, account: Account, claim_id: str, actor: str) -> DiscountClaim:
    """Release a claim: its usage stops counting (once; releasing again changes nothing and returns it)."""
    with transaction.atomic():
        claim = claim_get(account=account, claim_id=claim_id, for_update=True)
        if claim.deleted_at is not None:
            return claim
        now = timezone.now()
        claim.deleted_at = claim.updated_at = now
        claim.deleted_by = actor
        claim.save(update_fields=["deleted_at", "deleted_by", "updated_at"])
        refs = [ref["id"] for discount in claim.discounts for ref in discount["refs"]]
        DiscountUsage.objects.filter(  # the unique (ref, source, source_key) index finds them
            ref_id__in=refs, source=DiscountUsage.Source.CLAIM, source_key=str(claim.id), released_at__isnull=True
        ).update(released_at=now)
        return claim
